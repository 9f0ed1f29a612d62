//! The checks of SPEC §4. A trajectory is checked against its own tool list; each finding
//! has a code, a severity, and points at a message and a field.

use crate::json::Value;
use serde::Serialize;

use crate::model::{Call, FunctionDef, Message, SubTaskFunctions, Trajectory, kind_of};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $id:literal, $name:literal, $sev:ident, $what:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant),* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];
            pub fn id(self) -> &'static str { match self { $(Code::$variant => $id),* } }
            pub fn name(self) -> &'static str { match self { $(Code::$variant => $name),* } }
            pub fn severity(self) -> Severity { match self { $(Code::$variant => Severity::$sev),* } }
            /// One line on what the rule checks, for `button lint --rules` and the README.
            pub fn what(self) -> &'static str { match self { $(Code::$variant => $what),* } }
            pub fn from_id(id: &str) -> Option<Code> {
                match id { $($id => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    NotUtf8 = "L01", "not-utf8", Error, "the line is not valid UTF-8";
    NotJson = "L02", "not-json", Error, "the line is not a JSON object";
    TooLong = "L03", "line-too-long", Error, "the line is over 64 MiB";
    NoMessages = "L04", "no-messages", Error, "there is no message list, or it is empty";
    UnknownRole = "L05", "unknown-role", Error, "a message has a role the format does not know";
    Malformed = "L06", "malformed", Error, "a message or tool list does not have the format's shape";
    UnknownFunction = "E01", "unknown-function", Error, "a call names a function that is not in the tool list";
    ArgumentsNotObject = "E02", "arguments-not-object", Error, "a call's arguments are not a JSON object";
    MissingArgument = "E03", "missing-argument", Error, "a call leaves out a required parameter";
    WrongType = "E04", "wrong-type", Error, "an argument does not match its parameter's schema";
    UnknownArgument = "E05", "unknown-argument", Error, "an argument the schema forbids (additionalProperties false)";
    ResultMismatch = "E06", "result-mismatch", Error, "a tool message does not answer exactly the calls before it, in order";
    ParallelWhenOff = "E07", "parallel-when-off", Error, "several calls in one turn while parallel mode is off";
    NoFinal = "E08", "no-final", Error, "the trajectory does not end with a final answer";
    AfterFinal = "E09", "after-final", Error, "a second final answer, or anything after the final answer";
    EmptyMessage = "E10", "empty-message", Error, "a message with nothing in it";
    RoleOrder = "E11", "role-order", Error, "roles out of order: user first, tool only right after calls, calls answered";
    BadToolList = "E12", "bad-tool-list", Error, "the tool list has duplicate names or required names that are not parameters";
    PlaceholderFinal = "E13", "placeholder-final", Error, "the final answer is a template's placeholder, not an answer";
    UncalledFunction = "W01", "uncalled-function", Warning, "a sub-task's functions (or a listed function) are never called";
    RepeatedCall = "W02", "repeated-call", Warning, "the same call with identical arguments is made twice";
    FinalIgnoresResults = "W03", "final-ignores-results", Warning, "the final answer mentions none of the tool results";
    TooFewCalls = "W04", "too-few-calls", Warning, "fewer than 2 calls in all (the paper's shape; the generator's min_calls)";
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    pub message: String,
    /// Index into the format's own message list (the system message counts where the
    /// format has one); None when the finding is about the whole line.
    pub message_index: Option<usize>,
    pub field: Option<String>,
    /// For a record that can't be read: what it looked like there (a short, one-line
    /// excerpt), so the person can find it.
    pub excerpt: Option<String>,
}

impl Finding {
    pub fn new(code: Code, message: impl Into<String>) -> Finding {
        Finding { code, message: message.into(), message_index: None, field: None, excerpt: None }
    }

    #[must_use]
    pub fn at(mut self, message_index: usize) -> Finding {
        self.message_index = Some(message_index);
        self
    }

    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Finding {
        self.field = Some(field.into());
        self
    }

    /// `where: message` text for one-line output.
    pub fn pointer(&self) -> String {
        match (&self.message_index, &self.field) {
            (Some(i), Some(f)) => format!("messages[{i}].{f}"),
            (Some(i), None) => format!("messages[{i}]"),
            (None, Some(f)) => f.clone(),
            (None, None) => String::new(),
        }
    }

    pub fn to_json(&self, file: &str, line: u64) -> serde_json::Value {
        serde_json::json!({
            "file": file,
            "line": line,
            "code": self.code.id(),
            "rule": self.code.name(),
            "severity": self.code.severity().as_str(),
            "message": self.message,
            "message_index": self.message_index,
            "field": self.field,
        })
    }
}

/// Where the trajectory's messages sit in the source's own message list (a system message
/// before them, `OpenAI`'s one tool message per result), so pointers name the source's index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    pub source_index: Vec<usize>,
}

impl Layout {
    pub fn offset(offset: usize, len: usize) -> Layout {
        Layout { source_index: (offset..offset + len).collect() }
    }

    pub fn source(&self, i: usize) -> usize {
        self.source_index.get(i).copied().unwrap_or(i)
    }
}

/// Runs every rule on one trajectory. `sub_tasks`, when known (generated samples), lets W01
/// speak of sub-tasks; otherwise it speaks of listed functions.
pub fn lint(t: &Trajectory, sub_tasks: &[SubTaskFunctions], layout: &Layout) -> Vec<Finding> {
    let mut out = Vec::new();
    let at = |i: usize| layout.source(i);
    check_tool_list(&t.tools, &mut out);

    let mut seen_final = false;
    let mut reported_after_final = false;
    let mut prev: Option<&Message> = None;
    let mut calls_seen: Vec<(usize, &Call)> = Vec::new();
    // Names in vectors, not hash sets: a trajectory has a handful, and hashing each one
    // cost more than comparing it (lint runs on every line of a file).
    let mut called: Vec<&str> = Vec::new();
    let mut first_non_user_reported = false;

    for (i, m) in t.messages.iter().enumerate() {
        if seen_final && !reported_after_final {
            out.push(
                Finding::new(Code::AfterFinal, format!("a {} message comes after the final answer", m.role()))
                    .at(at(i)),
            );
            reported_after_final = true;
        }
        if i == 0 && !matches!(m, Message::User { .. }) && !first_non_user_reported {
            out.push(
                Finding::new(Code::RoleOrder, format!("the first message is from the {}, not the user", m.role()))
                    .at(at(i)),
            );
            first_non_user_reported = true;
        }
        match m {
            Message::User { content } => {
                if content.trim().is_empty() {
                    out.push(Finding::new(Code::EmptyMessage, "the user message is empty").at(at(i)).field("content"));
                }
                if let Some(Message::Assistant { calls, .. }) = prev
                    && !calls.is_empty()
                {
                    out.push(
                        Finding::new(
                            Code::RoleOrder,
                            "a user message comes right after calls that were never answered",
                        )
                        .at(at(i)),
                    );
                }
            }
            Message::Assistant { thought, calls, final_answer } => {
                if thought.trim().is_empty()
                    && calls.is_empty()
                    && final_answer.as_deref().is_none_or(|f| f.trim().is_empty())
                {
                    out.push(Finding::new(Code::EmptyMessage, "the assistant message is empty").at(at(i)));
                } else if let Some(f) = final_answer
                    && f.trim().is_empty()
                {
                    out.push(Finding::new(Code::EmptyMessage, "the final answer is empty").at(at(i)).field("final"));
                }
                if let Some(Message::Assistant { calls: prev_calls, .. }) = prev
                    && !prev_calls.is_empty()
                {
                    out.push(
                        Finding::new(
                            Code::RoleOrder,
                            "an assistant message comes right after calls that were never answered",
                        )
                        .at(at(i)),
                    );
                }
                if final_answer.is_some() {
                    if seen_final && !reported_after_final {
                        out.push(Finding::new(Code::AfterFinal, "a second final answer").at(at(i)).field("final"));
                        reported_after_final = true;
                    }
                    if !calls.is_empty() {
                        out.push(
                            Finding::new(Code::AfterFinal, "the final answer comes with calls in the same turn")
                                .at(at(i))
                                .field("calls"),
                        );
                        reported_after_final = true;
                    }
                    seen_final = true;
                }
                if calls.len() > 1 && t.parallel == Some(false) {
                    out.push(
                        Finding::new(
                            Code::ParallelWhenOff,
                            format!("{} calls in one turn while parallel mode is off", calls.len()),
                        )
                        .at(at(i))
                        .field("calls"),
                    );
                }
                for (k, call) in calls.iter().enumerate() {
                    check_call(call, k, &t.tools, at(i), &mut out);
                    if !called.contains(&call.name.as_str()) {
                        called.push(call.name.as_str());
                    }
                    if let Some((j, _)) =
                        calls_seen.iter().find(|(_, c)| c.name == call.name && c.arguments == call.arguments)
                    {
                        out.push(
                            Finding::new(
                                Code::RepeatedCall,
                                format!("{} is called again with the same arguments as in messages[{}]", call.name, j),
                            )
                            .at(at(i))
                            .field(format!("calls[{k}]")),
                        );
                    }
                    calls_seen.push((at(i), call));
                }
            }
            Message::Tool { results } => {
                match prev {
                    Some(Message::Assistant { calls, .. }) if !calls.is_empty() => {
                        check_results(calls, results, at(i), &mut out);
                    }
                    _ => out.push(
                        Finding::new(Code::RoleOrder, "a tool message that does not follow an assistant's calls")
                            .at(at(i)),
                    ),
                }
                if results.is_empty() {
                    out.push(Finding::new(Code::EmptyMessage, "the tool message has no results").at(at(i)));
                }
            }
        }
        prev = Some(m);
    }

    match t.messages.last() {
        Some(Message::Assistant { final_answer: Some(_), .. }) => {}
        Some(Message::Assistant { calls, .. }) if !calls.is_empty() => {
            out.push(
                Finding::new(Code::NoFinal, "the trajectory ends with calls that are never answered")
                    .at(at(t.messages.len() - 1)),
            );
        }
        Some(_) if !seen_final => {
            out.push(Finding::new(Code::NoFinal, "the trajectory has no final answer").at(at(t.messages.len() - 1)));
        }
        None => out.push(Finding::new(Code::NoFinal, "the trajectory has no messages after the system prompt")),
        _ => {}
    }

    check_uncalled(t, sub_tasks, &called, &mut out);
    check_final_mentions_results(t, layout, &mut out);
    let calls = t.call_count();
    if calls < MIN_CALLS && seen_final {
        out.push(Finding::new(
            Code::TooFewCalls,
            format!("{calls} call(s) in all; a multi-turn function-calling sample makes at least {MIN_CALLS}"),
        ));
    }
    for (i, m) in t.messages.iter().enumerate() {
        if let Message::Assistant { final_answer: Some(f), .. } = m
            && is_placeholder(f)
        {
            out.push(
                Finding::new(Code::PlaceholderFinal, format!("the final answer is {:?}, a placeholder", f.trim()))
                    .at(at(i))
                    .field("final"),
            );
        }
    }
    out
}

/// Calls a trajectory makes at the least, the paper's shape (W04).
pub const MIN_CALLS: usize = 2;

/// What prompts and templates put where an answer should be, lowercase.
const STAND_INS: &[&str] = &[
    "...",
    "…",
    "n/a",
    "tbd",
    "todo",
    "answer",
    "final answer",
    "the final answer",
    "your answer",
    "your final answer",
    "a complete answer built from the results",
    "a complete answer",
];

/// Text that stands where an answer should: a template's placeholder (`<your answer>`,
/// `{{ answer }}`, `[insert ...]`), or the wording prompts use to ask for one.
pub fn is_placeholder(text: &str) -> bool {
    /// The longest stand-in, in bytes.
    const LONGEST: usize = {
        let (mut i, mut longest) = (0, 0);
        while i < STAND_INS.len() {
            if STAND_INS[i].len() > longest {
                longest = STAND_INS[i].len();
            }
            i += 1;
        }
        longest
    };
    let t = text.trim().trim_end_matches('.');
    // Lowercased only where it can be a stand-in: this runs on every final answer, most of
    // them sentences. A character lowercases to no fewer than a third of its bytes (the
    // Kelvin sign, 3, to `k`), so longer text is none of them, whatever its case.
    let may_be_one = t.len() <= LONGEST || (t.len() <= 3 * LONGEST && !t.is_ascii());
    if may_be_one && STAND_INS.contains(&t.to_lowercase().as_str()) {
        return true;
    }
    // Text whose lowercase holds ASCII "[insert" holds it in some ASCII case: no other
    // character lowercases to one of those letters alone.
    if t.contains("{{")
        || memchr::memchr_iter(b'[', t.as_bytes()).any(|at| starts_with_ignore_case(&t[at..], "[insert"))
    {
        return true;
    }
    // `<your answer here>`: the whole text one bracketed phrase (lowercasing leaves `<`,
    // `>` and spaces as they are).
    t.starts_with('<') && t.ends_with('>') && t.contains(' ') && !t[1..].contains('<')
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes().get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn check_tool_list(tools: &[FunctionDef], out: &mut Vec<Finding>) {
    for (k, f) in tools.iter().enumerate() {
        if tools[..k].iter().any(|g| g.name == f.name) {
            out.push(
                Finding::new(Code::BadToolList, format!("the function name {} is listed twice", f.name))
                    .field(format!("tools[{k}].name")),
            );
        }
        let props = f.properties();
        if let Some(req) = f.parameters.get("required") {
            match req.as_array() {
                Some(list) => {
                    for r in list {
                        match r.as_str() {
                            Some(name) if props.is_some_and(|p| p.contains_key(name)) => {}
                            Some(name) => out.push(
                                Finding::new(
                                    Code::BadToolList,
                                    format!("{} requires {name}, which is not one of its parameters", f.name),
                                )
                                .field(format!("tools[{k}].required")),
                            ),
                            None => out.push(
                                Finding::new(
                                    Code::BadToolList,
                                    format!("{}: a required entry is not a string", f.name),
                                )
                                .field(format!("tools[{k}].required")),
                            ),
                        }
                    }
                }
                None => out.push(
                    Finding::new(Code::BadToolList, format!("{}: \"required\" is not a list", f.name))
                        .field(format!("tools[{k}].required")),
                ),
            }
        }
    }
}

fn check_call(call: &Call, k: usize, tools: &[FunctionDef], mi: usize, out: &mut Vec<Finding>) {
    let Some(f) = tools.iter().find(|f| f.name == call.name) else {
        out.push(
            Finding::new(Code::UnknownFunction, format!("{} is not in the tool list", call.name))
                .at(mi)
                .field(format!("calls[{k}].name")),
        );
        return;
    };
    let Some(args) = call.arguments.as_object() else {
        out.push(
            Finding::new(
                Code::ArgumentsNotObject,
                format!("the arguments of {} are {}, not an object", call.name, kind_of(&call.arguments)),
            )
            .at(mi)
            .field(format!("calls[{k}].arguments")),
        );
        return;
    };
    for r in f.required() {
        if !args.contains_key(r) {
            out.push(
                Finding::new(
                    Code::MissingArgument,
                    format!("{} is called without its required argument {r}", call.name),
                )
                .at(mi)
                .field(format!("calls[{k}].arguments")),
            );
        }
    }
    let props = f.properties();
    let closed = f.parameters.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, value) in args {
        match props.and_then(|p| p.get(name)) {
            Some(schema) => {
                if let Some(problem) = schema_mismatch(value, schema, 0) {
                    out.push(
                        Finding::new(Code::WrongType, format!("{}: argument {name} {problem}", call.name))
                            .at(mi)
                            .field(format!("calls[{k}].arguments.{name}")),
                    );
                }
            }
            None if closed => out.push(
                Finding::new(Code::UnknownArgument, format!("{} has no parameter {name}", call.name))
                    .at(mi)
                    .field(format!("calls[{k}].arguments.{name}")),
            ),
            None => {}
        }
    }
}

/// The subset of JSON Schema that argument checks need: type (one or a list), enum,
/// items, properties/required of nested objects. Returns what is wrong, or None.
pub fn schema_mismatch(value: &Value, schema: &Value, depth: usize) -> Option<String> {
    let schema = schema.as_object()?;
    if depth > 32 {
        return None;
    }
    if let Some(ty) = schema.get("type") {
        let ok = match ty {
            Value::String(t) => type_matches(value, t),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| type_matches(value, t)),
            _ => true,
        };
        if !ok {
            let want = match ty {
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
                other => other.as_str().unwrap_or("?").to_string(),
            };
            return Some(format!("is {}, the schema wants {want}", kind_of(value)));
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        return Some(format!("is {value}, not one of {}", Value::Array(allowed.clone())));
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            if let Some(p) = schema_mismatch(item, item_schema, depth + 1) {
                return Some(format!("item {i} {p}"));
            }
        }
    }
    if let Value::Object(fields) = value {
        if let Some(Value::Array(req)) = schema.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !fields.contains_key(r) {
                    return Some(format!("lacks its required field {r}"));
                }
            }
        }
        if let Some(Value::Object(props)) = schema.get("properties") {
            for (name, v) in fields {
                if let Some(s) = props.get(name)
                    && let Some(p) = schema_mismatch(v, s, depth + 1)
                {
                    return Some(format!("field {name} {p}"));
                }
            }
        }
    }
    None
}

fn type_matches(v: &Value, t: &str) -> bool {
    match t {
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn check_results(calls: &[Call], results: &[crate::model::ToolResult], mi: usize, out: &mut Vec<Finding>) {
    if calls.len() != results.len() {
        out.push(
            Finding::new(Code::ResultMismatch, format!("{} results answer {} calls", results.len(), calls.len()))
                .at(mi),
        );
    }
    for (k, (c, r)) in calls.iter().zip(results).enumerate() {
        if c.name != r.name {
            out.push(
                Finding::new(
                    Code::ResultMismatch,
                    format!("result {k} is for {}, but call {k} was {}", r.name, c.name),
                )
                .at(mi)
                .field(format!("results[{k}].name")),
            );
        } else if c.arguments != r.arguments {
            out.push(
                Finding::new(
                    Code::ResultMismatch,
                    format!("result {k} of {} repeats other arguments than the call had", r.name),
                )
                .at(mi)
                .field(format!("results[{k}].arguments")),
            );
        }
    }
}

fn check_uncalled(t: &Trajectory, sub_tasks: &[SubTaskFunctions], called: &[&str], out: &mut Vec<Finding>) {
    if !sub_tasks.is_empty() {
        for (k, st) in sub_tasks.iter().enumerate() {
            if !st.functions.is_empty() && !st.functions.iter().any(|f| called.contains(&f.name.as_str())) {
                let names: Vec<&str> = st.functions.iter().map(|f| f.name.as_str()).collect();
                out.push(
                    Finding::new(
                        Code::UncalledFunction,
                        format!(
                            "sub-task {} (\"{}\") has functions never called: {}",
                            k + 1,
                            st.sub_task,
                            names.join(", ")
                        ),
                    )
                    .field(format!("functions[{k}]")),
                );
            }
        }
        return;
    }
    for (k, f) in t.tools.iter().enumerate() {
        if !called.contains(&f.name.as_str()) {
            out.push(
                Finding::new(Code::UncalledFunction, format!("{} is listed but never called", f.name))
                    .field(format!("tools[{k}]")),
            );
        }
    }
}

/// A final answer "mentions" a result when one of the result's scalar values (a string of
/// 3+ characters, or a number) appears in it, ignoring case and thousands separators.
fn check_final_mentions_results(t: &Trajectory, layout: &Layout, out: &mut Vec<Finding>) {
    let Some((i, final_text)) = t.messages.iter().enumerate().rev().find_map(|(i, m)| match m {
        Message::Assistant { final_answer: Some(f), .. } => Some((i, f)),
        _ => None,
    }) else {
        return;
    };
    // The latest results first: a final answer most often tells what the last calls
    // returned, and the search stops at the first mention (the verdict is the same in any
    // order).
    let results = || {
        t.messages.iter().rev().flat_map(|m| match m {
            Message::Tool { results } => results.as_slice(),
            _ => &[],
        })
    };
    if is_placeholder(final_text) {
        return; // E13 says what is wrong with it
    }
    let mut any_scalar = false;
    let hay = final_text.to_lowercase();
    if results().any(|r| mentions(&r.results, &hay, &mut any_scalar)) || !any_scalar {
        return;
    }
    let hay: String = hay.chars().filter(|c| *c != ',').collect();
    if results().any(|r| mentions(&r.results, &hay, &mut any_scalar)) {
        return;
    }
    out.push(
        Finding::new(Code::FinalIgnoresResults, "the final answer mentions none of the tool results")
            .at(layout.source(i))
            .field("final"),
    );
}

fn mentions(v: &Value, hay: &str, any_scalar: &mut bool) -> bool {
    match v {
        Value::String(s) if s.trim().chars().count() >= 3 => {
            *any_scalar = true;
            let s = s.trim();
            // Lowercase already (most results' text) is searched for as it is.
            if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
                hay.contains(s)
            } else {
                hay.contains(s.to_lowercase().as_str())
            }
        }
        Value::Number(n) => {
            *any_scalar = true;
            hay.contains(n.to_string().as_str())
                || n.as_f64().is_some_and(|f| f.fract() != 0.0 && hay.contains(format!("{f:.1}").as_str()))
        }
        Value::Array(a) => a.iter().any(|x| mentions(x, hay, any_scalar)),
        Value::Object(o) => o.values().any(|x| mentions(x, hay, any_scalar)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_placeholder` as it was, lowercasing every text first: the quick one must agree.
    fn by_lowercasing_all(text: &str) -> bool {
        let t = text.trim().trim_end_matches('.').to_lowercase();
        if STAND_INS.contains(&t.as_str()) || t.contains("{{") || t.contains("[insert") {
            return true;
        }
        t.starts_with('<') && t.ends_with('>') && t.contains(' ') && !t[1..].contains('<')
    }

    #[test]
    fn the_placeholder_check_agrees_with_lowercasing_every_text() {
        let kelvin = "\u{212a}";
        let mut texts: Vec<String> = [
            "A Complete Answer Built From The Results.",
            "a complete answer built from the results",
            "A COMPLETE ANSWER",
            "  TBD  ",
            "N/A.",
            "…",
            "Answer",
            "Answers",
            "The weather in Perth is 14 °C; the shoes cost 219 dollars.",
            "See [INSERT result here]",
            "See [Insert",
            "See [insertion] of the item",
            "[ insert",
            "{{ answer }}",
            "{ {answer} }",
            "<Your Answer Here>",
            "<your answer> and <more>",
            "<x>",
            "<a b",
            "",
            "...",
            "....",
            "[İNSERT here]",
            "İ",
        ]
        .map(str::to_string)
        .to_vec();
        texts.push(format!("{kelvin}{}", "x".repeat(50)));
        texts.push("a complete answer built from the resultS".to_string());
        texts.push(format!("{} [insert", "word ".repeat(100)));
        texts.push(format!("<{}>", "long words ".repeat(30)));
        for t in &texts {
            assert_eq!(is_placeholder(t), by_lowercasing_all(t), "{t:?}");
        }
        assert!(texts.iter().filter(|t| is_placeholder(t)).count() >= 12);
    }
}
