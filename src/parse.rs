//! Each LLM step's reply -> a typed value, or a reason code and a sentence (SPEC §2). The
//! parsers are tolerant of what models do: prose around the answer, code fences around JSON,
//! blank lines, tag case, bold labels.

use std::cmp::Ordering;

use serde_json::Value;

use crate::domain::Step;
use crate::model::{Call, FunctionDef, SubTaskFunctions, kind_of};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct ParseError {
    /// A stable code, e.g. `missing_field`, `bad_json`, `invalid_function`.
    pub reason: &'static str,
    pub detail: String,
}

fn err(reason: &'static str, detail: impl Into<String>) -> ParseError {
    ParseError { reason, detail: detail.into() }
}

pub type Result<T> = std::result::Result<T, ParseError>;

/// The body of `<tag>...</tag>`, any case; an unclosed tag runs to the end.
pub fn tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let lower = text.to_ascii_lowercase();
    let open = format!("<{}>", name.to_ascii_lowercase());
    let close = format!("</{}>", name.to_ascii_lowercase());
    let a = lower.find(&open)? + open.len();
    let b = lower[a..].find(&close).map_or(text.len(), |b| a + b);
    Some(&text[a..b])
}

/// Text without Markdown code fences (keeps what is inside them).
pub fn strip_fences(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("```")).collect::<Vec<_>>().join("\n")
}

/// The first JSON value (object or array) in the text, ignoring prose and fences around it.
pub fn first_json(text: &str) -> Result<Value> {
    let text = strip_fences(text);
    let mut last_err = None;
    for (i, c) in text.char_indices() {
        if c != '[' && c != '{' {
            continue;
        }
        let mut it = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        match it.next() {
            Some(Ok(v)) => return Ok(v),
            // The text ran out inside the value: the reply was cut, and what comes later is
            // inside the cut value (reading on would take a part of it for the whole).
            Some(Err(e)) if e.is_eof() => {
                return Err(err("bad_json", "the text ends before its JSON closes (cut short by max_tokens?)"));
            }
            Some(Err(e)) if last_err.is_none() => last_err = Some(e.to_string()),
            Some(Err(_)) => {}
            None => {}
        }
    }
    Err(err("bad_json", last_err.unwrap_or_else(|| "the reply holds no JSON object or array".into())))
}

fn non_empty(reply: &str) -> Result<&str> {
    let t = reply.trim();
    if t.is_empty() { Err(err("empty_reply", "the reply is empty")) } else { Ok(t) }
}

/// Cleans one line of text: no surrounding quotes, bullets or bold markers.
fn clean_line(s: &str) -> String {
    let s = s.trim().trim_start_matches(['-', '*', '#', '>', ' ']).trim();
    let s = s.trim_matches('*').trim();
    let s = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(s);
    s.trim().to_string()
}

/// The value after `label:` (any case, maybe bold or behind `###`), up to the next
/// `###` field or the end; None when the label is not there.
pub fn field(text: &str, label: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let want = label.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&want) {
        let start = from + pos + want.len();
        let rest = lower[start..].trim_start_matches(['*', ' ']);
        if let Some(after_colon) = rest.strip_prefix(':') {
            let value_start = lower.len() - after_colon.len();
            let tail = &text[value_start..];
            let end = tail.find("\n#").or_else(|| tail.find("###")).unwrap_or(tail.len());
            let v = clean_line(&tail[..end].replace('\n', " "));
            return Some(v);
        }
        from = start;
    }
    None
}

/// One short line, maybe after a label (`Concise Overview of the Scenario:`, `Modified Scenario:`).
pub fn labelled_line(reply: &str, label: &str) -> Result<String> {
    let t = non_empty(reply)?;
    let line = match field(t, label) {
        Some(v) => v,
        None => t.lines().map(clean_line).find(|l| !l.is_empty()).unwrap_or_default(),
    };
    if line.is_empty() {
        return Err(err("empty_reply", format!("nothing after {label:?}")));
    }
    Ok(line)
}

pub fn scenario_extract(reply: &str) -> Result<String> {
    labelled_line(reply, "Concise Overview of the Scenario")
}

pub fn scenario_expand(reply: &str) -> Result<String> {
    labelled_line(reply, "Modified Scenario")
}

pub fn atomic_task(reply: &str) -> Result<String> {
    labelled_line(reply, "Atomic Task")
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ComposedTask {
    pub parallel: Option<String>,
    pub subsequent: String,
    pub composition: String,
}

fn required_field(text: &str, label: &str) -> Result<String> {
    match field(text, label) {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err(err("missing_field", format!("{label:?} is empty"))),
        None => Err(err("missing_field", format!("no {label:?} line"))),
    }
}

pub fn compose_sequential(reply: &str) -> Result<ComposedTask> {
    let t = non_empty(reply)?;
    Ok(ComposedTask {
        parallel: None,
        subsequent: required_field(t, "Subsequent Task")?,
        composition: required_field(t, "Composition Task")?,
    })
}

pub fn compose_parallel_sequential(reply: &str) -> Result<ComposedTask> {
    let t = non_empty(reply)?;
    Ok(ComposedTask {
        parallel: Some(required_field(t, "Parallel Task")?),
        subsequent: required_field(t, "Subsequent Task")?,
        composition: required_field(t, "Composition Task")?,
    })
}

/// A yes or a no at the start of `text` (after punctuation and Markdown), as a word.
fn yes_no(text: &str) -> Option<bool> {
    let t = text.trim().trim_start_matches(['*', '_', '"', '\'', '`', '#', ' ', '>', '-']).to_ascii_lowercase();
    let word: String = t.chars().take_while(char::is_ascii_alphabetic).collect();
    match word.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Free analysis then `<ans>yes</ans>` or `<ans>no</ans>`. A verdict without its tag is
/// read too: a bare `yes` or `No.`, or a last line that starts with one (maybe after
/// `Answer:`). A reply with no verdict at all does not parse: it is asked again, never
/// taken as a no.
pub fn composition_filter(reply: &str) -> Result<(bool, String)> {
    let t = non_empty(reply)?;
    let lower = t.to_ascii_lowercase();
    if let Some(a) = tag(t, "ans") {
        let passed = yes_no(a).ok_or_else(|| {
            err(
                "missing_verdict",
                format!("<ans> holds {:?}, not yes or no", a.trim().chars().take(40).collect::<String>()),
            )
        })?;
        let analysis = t[..lower.find("<ans>").unwrap_or(0)].trim().to_string();
        return Ok((passed, analysis));
    }
    let lines: Vec<&str> = t.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let last = lines.last().copied().unwrap_or("");
    let verdict_line = |line: &str| {
        let l = line.trim_start_matches(['*', '_', '#', ' ']);
        let l = ["final answer", "answer", "verdict", "ans"]
            .iter()
            .find_map(|label| {
                let low = l.to_ascii_lowercase();
                low.starts_with(label)
                    .then(|| l[label.len()..].trim_start_matches(['*', '_', ' ']).strip_prefix(':'))?
            })
            .unwrap_or(l);
        yes_no(l)
    };
    // "... So, the answer is: yes." at the end of the last line.
    let trailing = |line: &str| {
        let l = line.trim_end_matches(['.', '!', '*', '_', '"', ' ']).to_ascii_lowercase();
        let (head, v) = if let Some(h) = l.strip_suffix("yes") {
            (h, true)
        } else if let Some(h) = l.strip_suffix("no") {
            (h, false)
        } else {
            return None;
        };
        let head = head.trim_end_matches([':', ' ', '*', '"']);
        ["answer is", "answer", "verdict is", "verdict"].iter().any(|w| head.ends_with(w)).then_some(v)
    };
    match verdict_line(last) {
        Some(passed) => {
            let analysis = lines[..lines.len() - 1].join("\n");
            // A last line of several sentences that opens with "No" ("No sub-task is
            // missing, ...") is analysis, not a verdict, unless it is all there is.
            if lines.len() > 1 && last.split_whitespace().count() > 4 {
                return Err(err("missing_verdict", "no <ans>yes</ans> or <ans>no</ans> after the analysis"));
            }
            Ok((passed, analysis))
        }
        None => match trailing(last) {
            Some(passed) => Ok((passed, t.to_string())),
            None => Err(err("missing_verdict", "no <ans>yes</ans> or <ans>no</ans> after the analysis")),
        },
    }
}

/// The JSON array of `{"sub_task", "func_list"}`, in sub-task order, validated.
pub fn function_generate(reply: &str, sub_tasks: &[String]) -> Result<Vec<SubTaskFunctions>> {
    let v = first_json(non_empty(reply)?)?;
    let items = match v {
        Value::Array(items) => items,
        // What a JSON Schema constrained reply holds (an object at the top, as OpenAI's
        // structured outputs require): the list under one key.
        Value::Object(mut o) if o.len() == 1 && o.values().next().is_some_and(Value::is_array) => {
            match o.remove(&o.keys().next().expect("one key").clone()) {
                Some(Value::Array(items)) => items,
                _ => unreachable!("checked to be an array"),
            }
        }
        other => {
            return Err(err("bad_shape", format!("expected a JSON array of sub-tasks, found {}", kind_of(&other))));
        }
    };
    if items.len() != sub_tasks.len() {
        return Err(err("bad_shape", format!("{} entries for {} sub-tasks", items.len(), sub_tasks.len())));
    }
    // Where each function defined so far is kept: the sub-task (1-based) that first told it,
    // and its place in that sub-task's list.
    let mut defined: Vec<(usize, usize)> = Vec::new();
    let mut out: Vec<SubTaskFunctions> = Vec::with_capacity(items.len());
    for (k, (item, sub_task)) in items.into_iter().zip(sub_tasks).enumerate() {
        let Value::Object(mut o) = item else {
            return Err(err("bad_shape", format!("entry {} is not an object", k + 1)));
        };
        let list = match o.remove("func_list").or_else(|| o.remove("functions")) {
            Some(Value::Array(l)) => l,
            Some(Value::Null) | None => Vec::new(),
            Some(other) => {
                return Err(err("bad_shape", format!("entry {}: func_list is {}, not a list", k + 1, kind_of(&other))));
            }
        };
        let mut functions = Vec::with_capacity(list.len());
        for f in list {
            let f = required_beside(named_lists(f));
            let f = FunctionDef::from_owned(f.into())
                .map_err(|e| err("invalid_function", format!("sub-task {}: {e}", k + 1)))?;
            validate_function(&f)?;
            // The telling kept of a function told under sub-task `first`, at `at` in its list.
            let told =
                |first: usize, at: usize| if first == k + 1 { &functions[at] } else { &out[first - 1].functions[at] };
            match defined.iter().copied().find(|&(first, at)| told(first, at).name == f.name) {
                Some((first, at)) => {
                    let d = if first == k + 1 { &mut functions[at] } else { &mut out[first - 1].functions[at] };
                    // The same function repeated (under another sub-task, as a rule), or told
                    // again in other words (its description, what it returns, how each
                    // parameter is described or which are required) but with the same
                    // parameters of the same types, which is what a call must obey: one
                    // definition serves both (the tool list holds it once, the first telling),
                    // and a call made for either sub-task fits it. Told again with fewer of its
                    // parameters (none, or some, each the same), it is a mention of the
                    // function already told, which serves.
                    match signature_order(&d.parameters, &f.parameters) {
                        Some(Ordering::Equal | Ordering::Greater) => continue,
                        // Told again with more: the fuller telling takes the first one's
                        // place, and serves both (the calls are made later, against the tool
                        // list).
                        Some(Ordering::Less) => {
                            *d = f;
                            continue;
                        }
                        None => {}
                    }
                    // The way out that fits: within one sub-task only a name of its own.
                    let (place, fix) = if first == k + 1 {
                        (format!("in sub-task {first}"), "")
                    } else {
                        (
                            format!("in sub-tasks {first} and {}", k + 1),
                            "a function that serves two sub-tasks is written the same both times, and ",
                        )
                    };
                    return Err(err(
                        "duplicate_function",
                        format!(
                            "{} is defined twice {place} with other parameters; {fix}a different function needs a name \
                             of its own",
                            f.name
                        ),
                    ));
                }
                None => defined.push((k + 1, functions.len())),
            }
            functions.push(f);
        }
        out.push(SubTaskFunctions { sub_task: sub_task.clone(), functions });
    }
    Ok(out)
}

/// How the arguments two parameter schemas take compare, the prose (`description`,
/// `title`) and which names are required set aside at any depth (the first telling's lists
/// are kept, and a call that obeys them obeys both up to what the caller chose to pass):
/// `Equal` for the same names, each with the same schema; `Greater` when `told` takes every
/// parameter `again` names (none, or some) and more, `Less` the other way round, the other
/// keys of the two schemas the same; `None` for parameters neither holds all of, or another
/// type under one name.
fn signature_order(told: &crate::json::Value, again: &crate::json::Value) -> Option<Ordering> {
    use crate::json::{Map, Value};
    if told == again {
        return Some(Ordering::Equal);
    }
    // A schema's parameters apart from the rest of it (none when it has no `properties`).
    let split = |v: Value| match v {
        Value::Object(mut o) => match o.remove("properties") {
            Some(Value::Object(props)) => Some((o, props)),
            None => Some((o, Map::new())),
            Some(_) => None,
        },
        _ => None,
    };
    let (told, again) = (unworded(told), unworded(again));
    if told == again {
        return Some(Ordering::Equal);
    }
    let ((rest_t, props_t), (rest_a, props_a)) = (split(told)?, split(again)?);
    // Every parameter of `small` in `big`, with the same schema.
    let within = |small: &Map, big: &Map| small.iter().all(|(name, schema)| big.get(name) == Some(schema));
    if rest_t != rest_a {
        return None;
    }
    match props_t.len().cmp(&props_a.len()) {
        Ordering::Greater if within(&props_a, &props_t) => Some(Ordering::Greater),
        Ordering::Less if within(&props_t, &props_a) => Some(Ordering::Less),
        _ => None,
    }
}

/// A schema without its prose (`description`, `title`) nor its `required` lists, at any
/// depth; under `properties` the keys are names, all kept.
fn unworded(v: &crate::json::Value) -> crate::json::Value {
    use crate::json::Value;
    let Value::Object(o) = v else { return v.clone() };
    let schema = |(k, v): (&crate::json::Key, &Value)| (k.clone(), unworded(v));
    Value::Object(
        o.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "description" | "title" | "required"))
            .map(|(k, v)| match v {
                Value::Object(props) if k == "properties" => {
                    (k.clone(), Value::Object(props.iter().map(schema).collect()))
                }
                Value::Array(items) => (k.clone(), Value::Array(items.iter().map(unworded).collect())),
                _ => schema((k, v)),
            })
            .collect(),
    )
}

/// A function whose `parameters` or `responses` is a list of objects that each say their
/// `name` (the structured-output layout: a server bounds a list by `maxItems`, while
/// llama.cpp's grammars ignore `maxProperties` and let a small model add keys until
/// `max_tokens`): the map from each name to the rest, in the list's order.
fn named_lists(mut f: Value) -> Value {
    let Some(o) = f.as_object_mut() else { return f };
    for key in ["parameters", "responses"] {
        let Some(slot) = o.get_mut(key) else { continue };
        let Value::Array(items) = slot else { continue };
        if !items.iter().all(|i| i.get("name").is_some_and(Value::is_string)) {
            continue;
        }
        let map: serde_json::Map<String, Value> = std::mem::take(items)
            .into_iter()
            .filter_map(|mut i| {
                // shift_remove: the rest keep their order (`remove` moves the last key into the gap).
                let Some(Value::String(name)) = i.as_object_mut()?.shift_remove("name") else { return None };
                Some((name, i))
            })
            .collect();
        *slot = Value::Object(map);
    }
    f
}

/// A function whose parameters each say `"required": true|false` (the structured-output
/// layout) and that has no `required` list: the list made from them, the flags taken out.
fn required_beside(mut f: Value) -> Value {
    let Some(o) = f.as_object_mut() else { return f };
    if o.contains_key("required") {
        return f;
    }
    let Some(Value::Object(params)) = o.get_mut("parameters") else { return f };
    if params.get("type").is_some_and(Value::is_string)
        || !params.values().any(|p| p.get("required").is_some_and(Value::is_boolean))
    {
        return f;
    }
    let mut required = Vec::new();
    for (name, p) in params.iter_mut() {
        if let Some(Value::Bool(true)) = p.as_object_mut().and_then(|p| p.shift_remove("required")) {
            required.push(Value::String(name.clone()));
        }
    }
    o.insert("required".into(), Value::Array(required));
    f
}

const JSON_TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object", "null"];

/// Checks what makes a function unusable: a name that is not an identifier, a parameter
/// schema that is not valid JSON Schema (as far as parameters use it), `required` names that
/// are not parameters.
pub fn validate_function(f: &FunctionDef) -> Result<()> {
    if !f.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.') {
        return Err(err("invalid_function", format!("{:?} is not a valid function name", f.name)));
    }
    let props =
        f.properties().ok_or_else(|| err("invalid_schema", format!("{}: \"properties\" is not an object", f.name)))?;
    for (name, schema) in props {
        check_schema(schema).map_err(|e| err("invalid_schema", format!("{}: parameter {name}: {e}", f.name)))?;
    }
    if let Some(req) = f.parameters.get("required") {
        let list =
            req.as_array().ok_or_else(|| err("invalid_schema", format!("{}: \"required\" is not a list", f.name)))?;
        for r in list {
            let r = r
                .as_str()
                .ok_or_else(|| err("invalid_schema", format!("{}: a required entry is not a string", f.name)))?;
            if !props.contains_key(r) {
                return Err(err(
                    "required_not_parameter",
                    format!("{} requires {r}, which is not a parameter", f.name),
                ));
            }
        }
    }
    if let Some(r) = &f.responses
        && !r.is_object()
    {
        return Err(err("invalid_schema", format!("{}: \"responses\" is not an object", f.name)));
    }
    Ok(())
}

fn check_schema(schema: &crate::json::Value) -> std::result::Result<(), String> {
    use crate::json::Value;
    let o = schema.as_object().ok_or_else(|| format!("the schema is {}, not an object", kind_of(schema)))?;
    match o.get("type") {
        None => {}
        Some(Value::String(t)) if JSON_TYPES.contains(&t.as_str()) => {}
        Some(Value::Array(ts)) if ts.iter().all(|t| t.as_str().is_some_and(|t| JSON_TYPES.contains(&t))) => {}
        Some(other) => return Err(format!("\"type\" {other} is not a JSON Schema type")),
    }
    if let Some(e) = o.get("enum")
        && !e.is_array()
    {
        return Err("\"enum\" is not a list".into());
    }
    if let Some(items) = o.get("items") {
        check_schema(items)?;
    }
    if let Some(p) = o.get("properties") {
        let p = p.as_object().ok_or("\"properties\" is not an object")?;
        for s in p.values() {
            check_schema(s)?;
        }
    }
    Ok(())
}

/// The user agent's message, tags removed.
pub fn user_message(reply: &str) -> Result<String> {
    let t = non_empty(reply)?;
    let text = tag(t, "human").unwrap_or(t).trim();
    if text.is_empty() {
        return Err(err("empty_reply", "the <human> message is empty"));
    }
    Ok(text.to_string())
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AssistantTurn {
    pub observation: String,
    pub thought: String,
    pub calls: Vec<Call>,
    pub final_answer: Option<String>,
}

/// `<observation>..</observation><thought>..</thought>` then `<func_call>[..]</func_call>` or
/// `<final>..</final>`. With neither, the turn is a question to the user.
pub fn assistant_turn(reply: &str) -> Result<AssistantTurn> {
    let t = non_empty(reply)?;
    let observation = tag(t, "observation").map(|s| s.trim().to_string()).unwrap_or_default();
    let thought = tag(t, "thought").map(|s| s.trim().to_string()).unwrap_or_default();
    let final_answer = tag(t, "final").map(|s| s.trim().to_string());
    let calls = match tag(t, "func_call").or_else(|| tag(t, "call")) {
        Some(body) => parse_calls(body)?,
        None => Vec::new(),
    };
    if calls.is_empty() && final_answer.is_none() && thought.is_empty() && observation.is_empty() {
        return Err(err("missing_tag", "no <thought>, <func_call> or <final> in the reply"));
    }
    if !calls.is_empty() && final_answer.is_some() {
        return Err(err("call_and_final", "the reply has both calls and a final answer"));
    }
    Ok(AssistantTurn { observation, thought, calls, final_answer })
}

fn parse_calls(body: &str) -> Result<Vec<Call>> {
    let v = first_json(body)?;
    let items = match v {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        other => return Err(err("bad_call", format!("the call list is {}", kind_of(&other)))),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(k, item)| Call::from_value(item.into()).map_err(|e| err("bad_call", format!("call {} {e}", k + 1))))
        .collect()
}

/// `<func_return>{..}</func_return>`, or bare JSON.
pub fn tool_return(reply: &str) -> Result<Value> {
    let t = non_empty(reply)?;
    let body = tag(t, "func_return").unwrap_or(t);
    first_json(body)
}

/// How the message that asks a step again starts (the simulator recognises it).
pub const REASK_OPENING: &str = "Your reply can't be used:";

/// The shape a step's reply takes, for the message that asks again.
pub fn shape(step: Step) -> &'static str {
    match step {
        Step::ScenarioExtract | Step::ScenarioExpand | Step::AtomicTask => "one plain line",
        Step::ComposeSequential => "the two lines \"### Subsequent Task: ...\" and \"### Composition Task: ...\"",
        Step::ComposeParallelSequential => {
            "the three lines \"### Parallel Task: ...\", \"### Subsequent Task: ...\" and \"### Composition Task: ...\""
        }
        Step::CompositionFilter => "your analysis, then <ans>yes</ans> or <ans>no</ans>",
        Step::FunctionGenerate => "a JSON array with one {\"sub_task\", \"func_list\"} object per sub-task, in order",
        Step::UserAgent => "your message inside <human></human>",
        Step::AssistantAgent => {
            "<observation>...</observation><thought>...</thought>, then <func_call>[{\"name\": ..., \"arguments\": {...}}]</func_call> or <final>...</final>"
        }
        Step::ToolAgent => "the result as a JSON object inside <func_return></func_return>",
    }
}

/// Every string in a JSON value, one a line.
pub fn strings(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Lower case, words only, one space between them.
fn words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(w.chars().flat_map(char::to_lowercase));
    }
    out
}

const REFUSALS: &[&str] = &[
    "i'm sorry",
    "i am sorry",
    "sorry, i",
    "i can't",
    "i cannot",
    "i can not",
    "i'm unable",
    "i am unable",
    "i apologize",
    "i apologise",
    "as an ai",
    "as a language model",
    "i won't be able",
    "unfortunately, i",
];

/// A text field of a reply that can't be kept: it refuses, holds one of the prompt's
/// placeholders (`<the subsequent task>`), or copies the prompt (its few-shot example, the
/// wording of its instructions) rather than the inputs it was given.
pub fn vet_text(field: &str, prompt: &str, inputs: &str) -> Result<()> {
    let lower = field.trim().to_lowercase().replace('\u{2019}', "'");
    if let Some(r) = REFUSALS.iter().find(|r| lower.starts_with(*r)) {
        return Err(err("refusal", format!("the reply refuses (it starts {r:?})")));
    }
    if field.contains("{{") || field.contains("}}") {
        return Err(err("placeholder", "the reply holds template braces"));
    }
    let mut rest = field;
    while let Some(a) = rest.find('<') {
        let Some(b) = rest[a..].find('>') else { break };
        let token = &rest[a..=a + b];
        if token.contains(' ') && prompt.contains(token) {
            return Err(err("placeholder", format!("the reply holds the prompt's placeholder {token}")));
        }
        rest = &rest[a + b + 1..];
    }
    // A name from the prompt's example ("The Great Gatsby") that the inputs never gave: the
    // example retold, not a task of its own.
    let given = inputs.to_lowercase();
    let mut start = true;
    for word in field.split_whitespace() {
        let w = word.trim_matches(|c: char| !c.is_alphanumeric());
        let named = !start && w.len() >= 3 && w.chars().next().is_some_and(char::is_uppercase);
        if named && prompt_has_word(prompt, w) && !given.contains(&w.to_lowercase()) {
            return Err(err("copied_example", format!("{w:?} comes from the prompt's example, not from this task")));
        }
        start = word.ends_with(['.', '!', '?', ':']);
    }
    let w = words(field);
    if w.len() >= 12 && words(prompt).contains(&w) && !words(inputs).contains(&w) {
        return Err(err(
            "copied_example",
            format!("{:?} is copied from the prompt, not written for this task", first_chars(field, 60)),
        ));
    }
    Ok(())
}

/// `word` stands in `text` as a whole word, in the same case.
fn prompt_has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn first_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Checks the fields of a parsed reply where quality is decided (tasks, messages, the final
/// answer) with [`vet_text`]. `prompt` is the rendered template; `inputs` is what was filled
/// into it and the conversation.
pub fn vet(step: Step, parsed: &Value, prompt: &str, inputs: &str) -> Result<()> {
    let fields: Vec<&str> = match step {
        Step::ScenarioExtract | Step::ScenarioExpand | Step::AtomicTask | Step::UserAgent => {
            parsed.as_str().into_iter().collect()
        }
        Step::ComposeSequential | Step::ComposeParallelSequential => ["parallel", "subsequent", "composition"]
            .iter()
            .filter_map(|k| parsed.get(*k).and_then(Value::as_str))
            .collect(),
        Step::AssistantAgent => parsed.get("final_answer").and_then(Value::as_str).into_iter().collect(),
        Step::CompositionFilter | Step::FunctionGenerate | Step::ToolAgent => Vec::new(),
    };
    for f in fields {
        vet_text(f, prompt, inputs)?;
    }
    // A task of one or two words ("No.", "Yes") is no task.
    if matches!(
        step,
        Step::ScenarioExtract
            | Step::ScenarioExpand
            | Step::AtomicTask
            | Step::ComposeSequential
            | Step::ComposeParallelSequential
    ) {
        let mut short = String::new();
        strings(parsed, &mut short);
        if let Some(f) = short.lines().find(|l| l.split_whitespace().count() < 3) {
            return Err(err("too_short", format!("{f:?} is too short to be a task")));
        }
    }
    if let Step::AssistantAgent = step
        && let Some(answer) = parsed.get("final_answer").and_then(Value::as_str)
    {
        if answer.trim().is_empty() {
            return Err(err("empty_final", "the <final> answer is empty"));
        }
        // The rule lint's E13 applies to every trajectory, so nothing generated fails it.
        if crate::lint::is_placeholder(answer) {
            return Err(err("placeholder", format!("the final answer {:?} is a placeholder", answer.trim())));
        }
    }
    Ok(())
}

/// The JSON Schema a JSON step's reply must follow, as the `response_format` of the
/// request (`OpenAI`'s `json_schema` form, which vLLM, `SGLang` and llama.cpp's server take
/// too); None for steps that answer in text. Not `strict`: function parameters are open
/// JSON Schema objects, which strict mode forbids.
pub fn reply_format(step: Step, context: Option<&Value>) -> Option<Value> {
    let (name, schema) = match step {
        Step::FunctionGenerate => {
            let n = context.and_then(|c| c.get("sub_tasks")).and_then(Value::as_array).map_or(0, Vec::len);
            // Bounded, so a server that constrains decoding can't be led into an endless
            // list: a few functions per sub-task, a few parameters each (a list of named
            // parameters, since llama.cpp bounds a list but not a map's keys), each a name, a
            // type and a description. Whether a parameter is required is said beside it (a
            // boolean), so a reply can't require a name that is not a parameter; the parser
            // turns the lists into the usual maps and the flags into `required`.
            let param = |with_required: bool| {
                let mut p = serde_json::json!({
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,39}$"},
                        "type": {"enum": ["string", "number", "integer", "boolean", "array", "object"]},
                        "description": {"type": "string", "maxLength": 200}
                    },
                    "required": ["name", "type", "description"],
                    "additionalProperties": false
                });
                if with_required {
                    p["properties"]["required"] = serde_json::json!({"type": "boolean"});
                    p["required"] = serde_json::json!(["name", "type", "description", "required"]);
                }
                serde_json::json!({"type": "array", "items": p, "maxItems": 6})
            };
            // A name is snake_case of two to five words (`get_weather`, `search_flights`), as
            // the published functions are: a small model left free names its functions after
            // a word of the task (`The`, `Cars`), under one name for different parameters.
            let function = serde_json::json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z][a-z0-9]{0,19}(_[a-z0-9]{1,20}){1,4}$"},
                    "description": {"type": "string", "maxLength": 300},
                    "parameters": param(true),
                    "responses": param(false)
                },
                "required": ["name", "description", "parameters", "responses"],
                "additionalProperties": false
            });
            let mut list = serde_json::json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "sub_task": {"type": "string", "maxLength": 300},
                        "func_list": {"type": "array", "items": function, "maxItems": 3}
                    },
                    "required": ["sub_task", "func_list"],
                    "additionalProperties": false
                }
            });
            if n > 0 {
                list["minItems"] = n.into();
                list["maxItems"] = n.into();
            }
            (
                "sub_task_functions",
                serde_json::json!({"type": "object", "properties": {"sub_tasks": list}, "required": ["sub_tasks"]}),
            )
        }
        Step::ToolAgent => {
            let function: Value = context
                .and_then(|c| c.get("function"))
                .and_then(Value::as_str)
                .and_then(|f| serde_json::from_str(f).ok())?;
            let responses = function.get("responses").and_then(Value::as_object).filter(|r| !r.is_empty());
            let schema = match responses {
                Some(r) => {
                    let props: serde_json::Map<String, Value> = r
                        .iter()
                        .map(|(k, v)| (k.clone(), if v.is_object() { v.clone() } else { serde_json::json!({}) }))
                        .collect();
                    let keys: Vec<&String> = props.keys().collect();
                    let mut schema = serde_json::json!({"type": "object", "properties": props, "required": keys,
                        "additionalProperties": false});
                    bounded(&mut schema);
                    schema
                }
                None => serde_json::json!({"type": "object"}),
            };
            ("function_result", schema)
        }
        _ => return None,
    };
    Some(serde_json::json!({"type": "json_schema", "json_schema": {"name": name, "strict": false, "schema": schema}}))
}

/// A result schema given bounds, so that a server constraining its output to it can't be
/// led on until `max_tokens` cuts the reply (a small model repeats one word in a string, or
/// one item in a list, for ever): strings at most 160 characters, lists at most 6 items,
/// and a list whose items have no schema holds scalars or flat objects of them.
fn bounded(schema: &mut Value) {
    let Some(o) = schema.as_object_mut() else { return };
    match o.get("type").and_then(Value::as_str) {
        Some("string") => {
            o.entry("maxLength").or_insert(160.into());
        }
        Some("array") => {
            o.entry("maxItems").or_insert(6.into());
            o.entry("items").or_insert_with(|| {
                let scalar = || serde_json::json!([{"type": "string", "maxLength": 160}, {"type": "number"}, {"type": "boolean"}]);
                let mut any = scalar();
                if let Value::Array(a) = &mut any {
                    a.push(serde_json::json!({"type": "object", "additionalProperties": {"anyOf": scalar()}}));
                }
                serde_json::json!({"anyOf": any})
            });
        }
        _ => {}
    }
    if let Some(items) = o.get_mut("items") {
        bounded(items);
    }
    if let Some(Value::Object(props)) = o.get_mut("properties") {
        props.values_mut().for_each(bounded);
    }
}

/// What in `reply` the JSON Schema that `reply_format` sends for `step` does not allow
/// (empty when it all fits), each as "what, at where". Panics for a step that sends none.
pub fn schema_errors(step: Step, context: &Value, reply: &Value) -> Vec<String> {
    let format = reply_format(step, Some(context)).expect("a JSON step has a schema");
    let validator = jsonschema::validator_for(&format["json_schema"]["schema"]).expect("our schemas compile");
    validator.iter_errors(reply).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

/// Any step's reply parsed as that step's parser does, as JSON (what the call records
/// keep). `context` is the template's variables: function generation needs the sub-tasks.
pub fn by_step(step: Step, reply: &str, context: &Value) -> Result<Value> {
    fn json<T: serde::Serialize>(r: Result<T>) -> Result<Value> {
        r.map(|v| serde_json::to_value(v).expect("parsed values serialize"))
    }
    match step {
        Step::ScenarioExtract => json(scenario_extract(reply)),
        Step::ScenarioExpand => json(scenario_expand(reply)),
        Step::AtomicTask => json(atomic_task(reply)),
        Step::ComposeSequential => json(compose_sequential(reply)),
        Step::ComposeParallelSequential => json(compose_parallel_sequential(reply)),
        Step::CompositionFilter => json(composition_filter(reply)),
        Step::FunctionGenerate => {
            let subs: Vec<String> =
                context.get("sub_tasks").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
            json(function_generate(reply, &subs))
        }
        Step::UserAgent => json(user_message(reply)),
        Step::AssistantAgent => json(assistant_turn(reply)),
        Step::ToolAgent => json(tool_return(reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_result_schema_is_bounded_so_a_looping_reply_cannot_follow_it() {
        // The function's own words for what it returns, as `function_generate` wrote them.
        let function = json!({"name": "find_flights", "description": "Flights",
            "parameters": {"city": {"type": "string", "description": "City"}},
            "responses": {"flights": {"type": "array", "description": "Matches"},
                          "note": {"type": "string", "description": "A remark"}}});
        let ctx = json!({"function": function.to_string()});
        let format = reply_format(Step::ToolAgent, Some(&ctx)).unwrap();
        let v = jsonschema::validator_for(&format["json_schema"]["schema"]).unwrap();
        let fine = json!({"flights": [{"id": 1, "price": 120.5, "to": "Lisbon"}, "none later"], "note": "ok"});
        assert!(v.is_valid(&fine));
        // What SmolLM2 wrote until max_tokens cut it (one word again and again, one item
        // again and again), and the other ways to go on: each outside the schema now.
        let word = "Lisbon_".repeat(40);
        assert!(!v.is_valid(&json!({"flights": [], "note": word})));
        assert!(!v.is_valid(&json!({"flights": vec!["Nairobi"; 7], "note": ""})));
        assert!(!v.is_valid(&json!({"flights": [{"to": {"nested": "object"}}], "note": ""})));
        assert!(!v.is_valid(&json!({"flights": [], "note": "", "more": 1})));
        // Bounds a schema states itself are kept.
        let own = json!({"name": "f", "description": "d", "parameters": {},
            "responses": {"codes": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 3}}}});
        let format = reply_format(Step::ToolAgent, Some(&json!({"function": own.to_string()}))).unwrap();
        let codes = &format["json_schema"]["schema"]["properties"]["codes"];
        assert_eq!((codes["maxItems"].as_u64(), codes["items"]["maxLength"].as_u64()), (Some(50), Some(3)));
    }

    #[test]
    fn function_names_in_the_schema_are_snake_case_of_two_words_or_more() {
        let format = reply_format(Step::FunctionGenerate, Some(&json!({"sub_tasks": ["a"]}))).unwrap();
        let schema = &format["json_schema"]["schema"]["properties"]["sub_tasks"]["items"]["properties"]["func_list"]["items"]
            ["properties"]["name"];
        let v = jsonschema::validator_for(schema).unwrap();
        for ok in ["get_weather", "search_flights_by_city", "convert_usd_2024"] {
            assert!(v.is_valid(&json!(ok)), "{ok}");
        }
        for bad in ["The", "weather", "Get_weather", "get__weather", "_get", "get_weather_"] {
            assert!(!v.is_valid(&json!(bad)), "{bad}");
        }
    }

    #[test]
    fn labelled_lines_take_the_label_or_the_first_line() {
        assert_eq!(scenario_expand("Modified Scenario: Booking a yoga class").unwrap(), "Booking a yoga class");
        assert_eq!(scenario_expand("Sure!\n**Modified Scenario:** \"Renting a kayak\"\n").unwrap(), "Renting a kayak");
        assert_eq!(
            atomic_task("\n\n  Find the cheapest flight from Oslo to Rome on 3 May.  \n").unwrap(),
            "Find the cheapest flight from Oslo to Rome on 3 May."
        );
        assert_eq!(scenario_extract("").unwrap_err().reason, "empty_reply");
    }

    #[test]
    fn compositions_read_their_fields_in_any_case_and_fail_with_the_missing_one() {
        let r = "Here you go.\n### Parallel Task: Check the weather in Rome.\n### subsequent task: Book the flight.\n\n### Composition Task: Find and book the flight, and check the weather.";
        let c = compose_parallel_sequential(r).unwrap();
        assert_eq!(c.parallel.as_deref(), Some("Check the weather in Rome."));
        assert_eq!(c.subsequent, "Book the flight.");
        assert_eq!(c.composition, "Find and book the flight, and check the weather.");
        let e = compose_sequential("### Subsequent Task: x").unwrap_err();
        assert_eq!(e.reason, "missing_field");
        assert!(e.detail.contains("Composition Task"));
    }

    #[test]
    fn the_filter_reads_its_verdict_tagged_or_not_and_a_missing_one_does_not_parse() {
        assert_eq!(
            composition_filter("Both sub-tasks are needed. <ANS> Yes </ANS>").unwrap(),
            (true, "Both sub-tasks are needed.".into())
        );
        assert!(!composition_filter("<ans>no</ans>").unwrap().0);
        assert_eq!(composition_filter("yes").unwrap(), (true, String::new()));
        assert!(!composition_filter("No.").unwrap().0);
        assert!(composition_filter("**Yes**").unwrap().0);
        assert_eq!(
            composition_filter("The booking needs the flight id.\nAnswer: yes").unwrap(),
            (true, "The booking needs the flight id.".into())
        );
        assert!(!composition_filter("Something is missing.\n**Verdict:** No").unwrap().0);
        assert!(composition_filter("It is too ambitious. So, the answer is: yes").unwrap().0);
        assert!(!composition_filter("Each part is covered, so my verdict is no.").unwrap().0);
        for bad in [
            "Looks fine to me.",
            "The flight search and the booking.\nNo sub-task covers the weather, which the task asks for.",
            "<ans>maybe</ans>",
        ] {
            assert_eq!(composition_filter(bad).unwrap_err().reason, "missing_verdict", "{bad}");
        }
    }

    #[test]
    fn placeholders_copies_and_refusals_are_not_kept() {
        let prompt = "Example:\nAtomic Task: Who is the author of The Great Gatsby?\n### Subsequent Task: When was this author born?\n\nAtomic Task: Find a flight to Rome.\n### Subsequent Task: <the subsequent task>";
        let inputs = "Find a flight to Rome.";
        assert_eq!(vet_text("<the subsequent task>", prompt, inputs).unwrap_err().reason, "placeholder");
        assert_eq!(vet_text("Book <the subsequent task> now", prompt, inputs).unwrap_err().reason, "placeholder");
        assert_eq!(vet_text("When was this author born?", prompt, inputs).unwrap_err().reason, "copied_example");
        assert_eq!(vet_text("I'm sorry, but I can't help with that.", prompt, inputs).unwrap_err().reason, "refusal");
        // Restating an input is not a copy; a tag the prompt never showed is not a placeholder.
        vet_text("Find a flight to Rome.", prompt, inputs).unwrap();
        vet_text("Book the flight <b>today</b>.", prompt, inputs).unwrap();
        vet_text("Book the cheapest of those flights for Ana.", prompt, inputs).unwrap();
        // The example retold in other words still names its book.
        assert_eq!(
            vet_text("When did the author of The Great Gatsby die?", prompt, inputs).unwrap_err().reason,
            "copied_example"
        );
        // Names the inputs gave are the task's own.
        vet_text("Find a flight to Rome and book it.", prompt, "Find a flight to Rome.").unwrap();
        assert_eq!(vet(Step::AtomicTask, &serde_json::json!("No."), prompt, inputs).unwrap_err().reason, "too_short");
    }

    #[test]
    fn functions_with_one_name_and_the_same_parameters_are_merged_and_different_ones_are_not() {
        let subs = vec!["a".to_string(), "b".to_string()];
        let f = "{\"name\": \"f\", \"description\": \"d\", \"parameters\": {\"x\": {\"type\": \"string\"}}}";
        let merged =
            function_generate(&format!("[{{\"func_list\": [{f}]}}, {{\"func_list\": [{f}]}}]"), &subs).unwrap();
        assert_eq!(merged[0].functions.len(), 1);
        assert!(merged[1].functions.is_empty());
        let reworded = "{\"name\": \"f\", \"description\": \"other words\", \"parameters\": {\"x\": {\"type\": \"string\"}}, \"responses\": {\"y\": {\"type\": \"string\"}}}";
        let merged =
            function_generate(&format!("[{{\"func_list\": [{f}]}}, {{\"func_list\": [{reworded}]}}]"), &subs).unwrap();
        assert_eq!((merged[0].functions[0].description.as_str(), merged[1].functions.len()), ("d", 0));
        // Each parameter described again in other words, and required here but not there:
        // the same arguments, so the first telling serves.
        let redescribed = "{\"name\": \"f\", \"parameters\": {\"x\": {\"type\": \"string\", \"description\": \"new\"}}, \"required\": [\"x\"]}";
        let merged =
            function_generate(&format!("[{{\"func_list\": [{f}]}}, {{\"func_list\": [{redescribed}]}}]"), &subs)
                .unwrap();
        assert_eq!((merged[0].functions[0].parameters.get("required"), merged[1].functions.len()), (None, 0));
        // A parameter named like a keyword is a name: taking it away would make two
        // different functions look the same.
        let named = |p: &str| {
            format!(
                "{{\"name\": \"f\", \"parameters\": {{\"x\": {{\"type\": \"string\"}}, \"{p}\": {{\"type\": \"string\"}}}}}}"
            )
        };
        assert_eq!(
            function_generate(
                &format!("[{{\"func_list\": [{}]}}, {{\"func_list\": [{}]}}]", named("title"), named("description")),
                &subs
            )
            .unwrap_err()
            .reason,
            "duplicate_function"
        );
        // Another type for the same name is another function.
        let retyped = "{\"name\": \"f\", \"parameters\": {\"x\": {\"type\": \"integer\"}}}";
        let e = function_generate(&format!("[{{\"func_list\": [{f}]}}, {{\"func_list\": [{retyped}]}}]"), &subs)
            .unwrap_err();
        assert_eq!(e.reason, "duplicate_function");
        // What the re-ask shows the model: where, and the two ways out.
        assert_eq!(
            e.detail,
            "f is defined twice in sub-tasks 1 and 2 with other parameters; a function that serves two sub-tasks \
             is written the same both times, and a different function needs a name of its own"
        );
        let e = function_generate(&format!("[{{\"func_list\": [{f}, {retyped}]}}, {{\"func_list\": []}}]"), &subs)
            .unwrap_err();
        assert_eq!(
            e.detail,
            "f is defined twice in sub-task 1 with other parameters; a different function needs a name of its own"
        );
        // Told again with fewer parameters (none here): a mention of the function told, which
        // serves; told first with fewer, the fuller telling takes its place.
        let g = "{\"name\": \"f\", \"description\": \"other\", \"parameters\": {}}";
        for (a, b) in [(f, g), (g, f)] {
            let merged =
                function_generate(&format!("[{{\"func_list\": [{a}]}}, {{\"func_list\": [{b}]}}]"), &subs).unwrap();
            assert_eq!((merged[0].functions.len(), merged[1].functions.len()), (1, 0));
            assert_eq!(merged[0].functions[0].description, "d");
            assert_eq!(merged[0].functions[0].parameters["properties"]["x"]["type"], "string");
        }
        // Within one sub-task, a fuller telling after a shorter one takes its place there.
        let fx_y = "{\"name\": \"f\", \"description\": \"fuller\", \"parameters\": {\"x\": {\"type\": \"string\"}, \"y\": {\"type\": \"integer\"}}, \"required\": [\"x\", \"y\"]}";
        let h = "{\"name\": \"h\", \"parameters\": {}}";
        let merged =
            function_generate(&format!("[{{\"func_list\": [{f}, {h}, {fx_y}]}}, {{\"func_list\": [{f}]}}]"), &subs)
                .unwrap();
        let names: Vec<&str> = merged[0].functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!((names, merged[1].functions.len()), (vec!["f", "h"], 0));
        assert_eq!(merged[0].functions[0].description, "fuller");
        assert_eq!(merged[0].functions[0].parameters["required"], serde_json::json!(["x", "y"]));
        // Some of the parameters the same and some not: two functions, one name.
        let xz = "{\"name\": \"f\", \"parameters\": {\"x\": {\"type\": \"string\"}, \"z\": {\"type\": \"string\"}}}";
        assert_eq!(
            function_generate(&format!("[{{\"func_list\": [{fx_y}]}}, {{\"func_list\": [{xz}]}}]"), &subs)
                .unwrap_err()
                .reason,
            "duplicate_function"
        );
        // More parameters, but one of the shared ones of another type: two functions.
        let retyped_more =
            "{\"name\": \"f\", \"parameters\": {\"x\": {\"type\": \"integer\"}, \"y\": {\"type\": \"integer\"}}}";
        assert_eq!(
            function_generate(&format!("[{{\"func_list\": [{f}]}}, {{\"func_list\": [{retyped_more}]}}]"), &subs)
                .unwrap_err()
                .reason,
            "duplicate_function"
        );
        // Required flags beside each parameter (the structured-output layout) make the list.
        let flagged = "{\"name\": \"g\", \"parameters\": {\"x\": {\"type\": \"string\", \"description\": \"d\", \"required\": true}, \"y\": {\"type\": \"integer\", \"description\": \"d\", \"required\": false}}, \"responses\": {}}";
        let g = function_generate(&format!("[{{\"func_list\": [{flagged}]}}]"), &subs[..1]).unwrap();
        assert_eq!(g[0].functions[0].parameters["required"], serde_json::json!(["x"]));
        assert!(g[0].functions[0].parameters["properties"]["y"].get("required").is_none());
        // The same as lists of named entries (what the schema asks for): the same function.
        let listed = "{\"name\": \"g\", \"parameters\": [{\"name\": \"x\", \"type\": \"string\", \"description\": \"d\", \"required\": true}, {\"name\": \"y\", \"type\": \"integer\", \"description\": \"d\", \"required\": false}], \"responses\": [{\"name\": \"z\", \"type\": \"string\", \"description\": \"e\"}]}";
        let l = function_generate(&format!("[{{\"func_list\": [{listed}]}}]"), &subs[..1]).unwrap();
        let (g, l) = (&g[0].functions[0], &l[0].functions[0]);
        // Map equality ignores key order; what is written keeps it, so compare the text.
        assert_eq!(l.parameters.to_string(), g.parameters.to_string());
        assert_eq!(l.responses, Some(crate::json!({"z": {"type": "string", "description": "e"}})));
        // A list whose entries are not all named is not taken for one.
        let unnamed = "{\"name\": \"g\", \"parameters\": [{\"type\": \"string\"}]}";
        assert!(function_generate(&format!("[{{\"func_list\": [{unnamed}]}}]"), &subs[..1]).is_err());
        // The object a JSON Schema constrained reply holds.
        let wrapped = format!(
            "{{\"sub_tasks\": [{{\"sub_task\": \"a\", \"func_list\": [{f}]}}, {{\"sub_task\": \"b\", \"func_list\": []}}]}}"
        );
        assert_eq!(function_generate(&wrapped, &subs).unwrap()[0].functions[0].name, "f");
    }

    #[test]
    fn functions_parse_from_fenced_json_and_bad_ones_fail_with_a_reason() {
        let subs = vec!["Find the flight.".to_string(), "Compare the prices.".to_string()];
        let reply = "Sure:\n```json\n[{\"sub_task\": \"Find the flight.\", \"func_list\": [{\"name\": \"search_flights\", \"description\": \"d\", \"parameters\": {\"origin\": {\"type\": \"string\"}}, \"required\": [\"origin\"], \"responses\": {\"flights\": {\"type\": \"array\"}}}]}, {\"sub_task\": \"Compare the prices.\", \"func_list\": []}]\n```\nDone.";
        let f = function_generate(reply, &subs).unwrap();
        assert_eq!(f[0].functions[0].name, "search_flights");
        assert!(f[1].functions.is_empty());
        let bad = |body: &str| function_generate(body, &subs[..1]).unwrap_err().reason;
        assert_eq!(bad("no json here"), "bad_json");
        assert_eq!(
            bad("[{\"func_list\": [{\"name\": \"f\", \"parameters\": {\"a\": {}}, \"required\": [\"b\"]}]}]"),
            "required_not_parameter"
        );
        assert_eq!(
            bad("[{\"func_list\": [{\"name\": \"f\", \"parameters\": {\"a\": {\"type\": \"text\"}}}]}]"),
            "invalid_schema"
        );
        assert_eq!(
            bad(
                "[{\"func_list\": [{\"name\": \"f\", \"parameters\": {\"b\": {\"type\": \"string\"}}}, {\"name\": \"f\", \"parameters\": {\"a\": {\"type\": \"string\"}}}]}]"
            ),
            "duplicate_function"
        );
        assert_eq!(bad("[{\"func_list\": [{\"description\": \"x\"}]}]"), "invalid_function");
        assert_eq!(bad("[1, 2]"), "bad_shape");
        // A reply cut inside its JSON is said to be cut, not read from one of its parts.
        let cut = "{\"sub_tasks\": [{\"sub_task\": \"a\", \"func_list\": [{\"name\": \"f\", \"parameters\": {\"x\": {\"type\": \"string\"}";
        let e = function_generate(cut, &subs[..1]).unwrap_err();
        assert_eq!(
            (e.reason, e.detail.as_str()),
            ("bad_json", "the text ends before its JSON closes (cut short by max_tokens?)")
        );
    }

    #[test]
    fn assistant_turns_read_calls_finals_and_questions() {
        let t = assistant_turn("<observation>User wants X.</observation>\n<thought>1. search</thought>\n<func_call>```json\n[{\"name\": \"f\", \"arguments\": {\"a\": 1}}, {\"name\": \"g\", \"arguments\": \"{\\\"b\\\": 2}\"}]\n```</func_call>").unwrap();
        assert_eq!(t.calls.len(), 2);
        assert_eq!(t.calls[1].arguments, json!({"b": 2}));
        let t = assistant_turn("<Thought>done</Thought><FINAL>It is 4.</FINAL>").unwrap();
        assert_eq!(t.final_answer.as_deref(), Some("It is 4."));
        let t = assistant_turn("<thought>Which city do you mean?</thought>").unwrap();
        assert!(t.calls.is_empty() && t.final_answer.is_none());
        assert_eq!(assistant_turn("I think I will call f.").unwrap_err().reason, "missing_tag");
        assert_eq!(
            assistant_turn("<thought>x</thought><func_call>[{\"name\": </func_call>").unwrap_err().reason,
            "bad_json"
        );
    }

    #[test]
    fn tool_returns_and_user_messages_are_unwrapped() {
        assert_eq!(tool_return("<func_return>{\"ok\": true}</func_return>").unwrap(), json!({"ok": true}));
        assert_eq!(tool_return("Result: {\"ok\": true} hope it helps").unwrap(), json!({"ok": true}));
        assert_eq!(tool_return("<func_return>nothing</func_return>").unwrap_err().reason, "bad_json");
        assert_eq!(user_message("<human>Hi, book me a room.</human>").unwrap(), "Hi, book me a room.");
        assert_eq!(user_message("Hi there").unwrap(), "Hi there");
    }
}
