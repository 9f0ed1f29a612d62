//! Hermes function-calling (`NousResearch`'s hermes-function-calling-v1, and the datasets
//! made for models trained on it): `ShareGPT` turns (`from`/`value`, or `role`/`content`)
//! whose system prompt lists the tools inside `<tools>`, whose assistant turns carry calls
//! as `<tool_call>` blocks in their text, and whose `tool` turns carry results as
//! `<tool_response>` blocks. Tools, calls and results are JSON or Python literals (the
//! dataset was written with Python's `str()`).
//!
//! The system prompt's own words describe the tag protocol, which no other layout uses, so
//! they are dropped once the tools are read; a system prompt that says anything else is
//! kept. An untouched sample exported back as Hermes is its source record (see export).

use crate::json::{Map, Value};
use serde::Deserialize;
use std::fmt::Write as _;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::{Parsed, loose_json, read_shape};
use crate::lint::{Code, Finding, Layout};
use crate::model::{Call, FunctionDef, Message, ToolResult, Trajectory};

#[derive(Deserialize)]
struct Line {
    #[serde(default, alias = "messages")]
    conversations: Option<Vec<Turn>>,
    #[serde(default)]
    tools: Option<Value>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
}

#[derive(Deserialize)]
struct Turn {
    #[serde(default, alias = "role")]
    from: Option<String>,
    #[serde(default, alias = "content")]
    value: Option<String>,
}

/// True when a record reads as Hermes: its turns use the tag protocol.
pub fn looks_like(o: &Map) -> bool {
    let turns = match o.get("conversations") {
        Some(c) => c.as_array(),
        // `messages` with role/content is Hermes only without OpenAI's own tool fields.
        None if o.contains_key("tools") || o.contains_key("functions") => None,
        None => o
            .get("messages")
            .and_then(Value::as_array)
            .filter(|m| m.iter().all(|m| m.get("tool_calls").is_none() && m.get("function_call").is_none())),
    };
    turns.is_some_and(|turns| {
        // LLaMA-Factory's ShareGPT has roles of its own for calls and results.
        let sharegpt_roles = turns
            .iter()
            .any(|t| matches!(t.get("from").and_then(Value::as_str), Some("function_call" | "observation")));
        !sharegpt_roles
            && turns.iter().any(|t| {
                let text = t.get("value").or_else(|| t.get("content")).and_then(Value::as_str).unwrap_or("");
                text.contains("<tool_call>") || text.contains("<tools>") || text.contains("<tool_response>")
            })
    })
}

pub fn parse(line: &str) -> Result<Parsed, Finding> {
    read_shape(line, "Hermes function-calling", read_line)
}

fn read_line(parsed: Line) -> Result<Parsed, Finding> {
    let turns =
        parsed.conversations.ok_or_else(|| Finding::new(Code::NoMessages, "the line has no \"conversations\" list"))?;
    if turns.is_empty() {
        return Err(Finding::new(Code::NoMessages, "the \"conversations\" list is empty"));
    }
    let mut t = Trajectory { parallel: parsed.parallel_tool_calls, ..Trajectory::default() };
    let mut layout = Layout::default();
    let last = turns.len() - 1;
    for (i, turn) in turns.into_iter().enumerate() {
        let from = turn.from.ok_or_else(|| Finding::new(Code::Malformed, "the turn has no \"from\"").at(i))?;
        let value =
            turn.value.ok_or_else(|| Finding::new(Code::Malformed, format!("the {from} turn has no value")).at(i))?;
        let message = match from.as_str() {
            "system" if i == 0 => {
                read_system(&value, &mut t).map_err(|e| e.at(i))?;
                continue;
            }
            "human" | "user" => Message::User { content: value },
            "gpt" | "assistant" => {
                let (text, calls) = read_calls(&value).map_err(|e| e.at(i))?;
                if !calls.is_empty() {
                    Message::Assistant { thought: text, calls, final_answer: None }
                } else if i == last {
                    Message::Assistant { thought: String::new(), calls, final_answer: Some(text) }
                } else {
                    Message::Assistant { thought: text, calls, final_answer: None }
                }
            }
            "tool" | "observation" | "function" | "ipython" => {
                let results = read_results(&value);
                // One tool turn per result: the results join the tool message before them
                // (names and arguments are filled from the calls at the end).
                if let Some(Message::Tool { results: before }) = t.messages.last_mut() {
                    before.extend(results);
                    continue;
                }
                Message::Tool { results }
            }
            other => {
                return Err(Finding::new(
                    Code::UnknownRole,
                    format!("unknown role {other:?} (Hermes knows system, human, gpt, tool)"),
                )
                .at(i));
            }
        };
        t.messages.push(message);
        layout.source_index.push(i);
    }
    // A record may also list its tools in a `tools` field, mostly the same ones as its
    // system prompt: those not listed there are added.
    if let Some(tools) = parsed.tools {
        for f in super::sharegpt::read_tools(Some(tools))? {
            if !t.tools.iter().any(|g| g.name == f.name) {
                t.tools.push(f);
            }
        }
    }
    fill_result_names(&mut t);
    Ok(Parsed { trajectory: t, layout })
}

/// Each result without a name or arguments takes them from the call at its position.
fn fill_result_names(t: &mut Trajectory) {
    let mut calls: &[Call] = &[];
    for m in &mut t.messages {
        match m {
            Message::Assistant { calls: c, .. } => calls = c.as_slice(),
            Message::Tool { results } => {
                for (k, r) in results.iter_mut().enumerate() {
                    let call = calls.get(k).or_else(|| calls.iter().find(|c| c.name == r.name));
                    if let Some(call) = call {
                        if r.name.is_empty() {
                            r.name = call.name.clone();
                        }
                        if r.arguments.is_null() {
                            r.arguments = call.arguments.clone();
                        }
                    }
                }
            }
            Message::User { .. } => {}
        }
    }
}

/// Tags and the protocol's sentences, each searched for with a finder built once (as
/// BUTTON's tags are: `str::find` builds a searcher on every call, and for the protocol's two
/// sentences that was 14% of what a line cost).
type Pair = LazyLock<[Finder<'static>; 2]>;
static TOOLS: Pair = LazyLock::new(|| ["<tools>", "</tools>"].map(Finder::new));
static TOOL_CALL: Pair = LazyLock::new(|| ["<tool_call>", "</tool_call>"].map(Finder::new));
static TOOL_RESPONSE: Pair = LazyLock::new(|| ["<tool_response>", "</tool_response>"].map(Finder::new));
static PROTOCOL: Pair = LazyLock::new(|| [PROTOCOL_BEFORE, PROTOCOL_AFTER].map(Finder::new));

/// The bodies of every `<open>...</close>` block (an unclosed last block runs to the end),
/// and the text outside them.
fn blocks<'a>(text: &'a str, [open, close]: &[Finder<'static>; 2]) -> (String, Vec<&'a str>) {
    let mut outside = String::new();
    let mut bodies = Vec::new();
    let mut rest = text;
    // Both ends of a body are at ASCII tags, so they are char boundaries.
    while let Some(a) = open.find(rest.as_bytes()) {
        outside.push_str(&rest[..a]);
        let after = &rest[a + open.needle().len()..];
        if let Some(b) = close.find(after.as_bytes()) {
            bodies.push(&after[..b]);
            rest = &after[b + close.needle().len()..];
        } else {
            bodies.push(after);
            rest = "";
        }
    }
    outside.push_str(rest);
    (outside.trim().to_string(), bodies)
}

/// `text` without any of its occurrences of `needle`.
fn without(text: &str, needle: &Finder) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = needle.find(rest.as_bytes()) {
        out.push_str(&rest[..at]);
        rest = &rest[at + needle.needle().len()..];
    }
    out.push_str(rest);
    out
}

/// hermes-function-calling-v1's words around the tool list, which `write` uses.
const PROTOCOL_BEFORE: &str = "You are a function calling AI model. You are provided with function signatures within <tools> </tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions.";
const PROTOCOL_AFTER: &str = "For each function call return a json object with function name and arguments within <tool_call> </tool_call> tags with the following schema:\n<tool_call>\n{'arguments': <args-dict>, 'name': <function-name>}\n</tool_call>";

fn read_system(text: &str, t: &mut Trajectory) -> Result<(), Finding> {
    // The words around the tools describe the tag protocol; anything else is the
    // dataset's own system prompt and is kept. They go first: the opening sentence names
    // `<tools> </tools>` itself, which the search for the tools would split.
    let text = without(&without(text, &PROTOCOL[0]), &PROTOCOL[1]);
    let (outside, bodies) = blocks(&text, &TOOLS);
    for body in bodies {
        t.tools.extend(parse_tools(body)?);
    }
    let own = outside.trim();
    // Other wordings of the protocol (Hermes 2 Pro's "Here are the available tools: ...
    // pydantic model ...") are left; a paragraph that speaks of the tags or the signatures
    // is one, and goes, while the record's own paragraphs stay. Without any, the text is
    // kept as it is.
    let protocol = |p: &str| p.contains("<tool_call>") || p.contains("function signatures");
    if protocol(own) {
        let kept: Vec<&str> = own.split("\n\n").map(str::trim).filter(|p| !p.is_empty() && !protocol(p)).collect();
        if !kept.is_empty() {
            t.system = Some(kept.join("\n\n"));
        }
    } else if !own.is_empty() {
        t.system = Some(own.to_string());
    }
    Ok(())
}

/// One Hermes record: the system prompt of hermes-function-calling-v1 with the tools as a
/// JSON list (after the sample's own system prompt, when it has one), calls as
/// `<tool_call>` blocks after the thought, all results of a turn in one `tool` turn. The
/// final answer's thought has no place in Hermes and is not written.
pub fn write(t: &Trajectory) -> String {
    let tools: Vec<Value> = t.tools.iter().map(super::openai::tool_value).collect();
    let mut system = String::new();
    if let Some(own) = super::system_of(t) {
        system.push_str(&own);
        system.push_str("\n\n");
    }
    system.push_str(PROTOCOL_BEFORE);
    system.push_str("\n<tools>\n");
    system.push_str(&Value::Array(tools).to_string());
    system.push_str("\n</tools>\n");
    system.push_str(PROTOCOL_AFTER);
    let turn = |from: &str, value: String| super::openai::obj([("from", from.into()), ("value", value.into())]);
    let mut turns = vec![turn("system", system)];
    for m in &t.messages {
        turns.push(match m {
            Message::User { content } => turn("human", content.clone()),
            Message::Assistant { thought, calls, final_answer } => {
                let mut text = String::new();
                if let Some(f) = final_answer.as_ref().filter(|_| calls.is_empty()) {
                    text.push_str(f);
                } else {
                    text.push_str(thought);
                }
                for c in calls {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    let call =
                        super::openai::obj([("name", c.name.clone().into()), ("arguments", c.arguments.clone())]);
                    let _ = write!(text, "<tool_call>\n{call}\n</tool_call>");
                }
                turn("gpt", text)
            }
            Message::Tool { results } => {
                let blocks: Vec<String> = results
                    .iter()
                    .map(|r| {
                        let body =
                            super::openai::obj([("name", r.name.clone().into()), ("content", r.results.clone())]);
                        format!("<tool_response>\n{body}\n</tool_response>")
                    })
                    .collect();
                turn("tool", blocks.join("\n"))
            }
        });
    }
    let mut o = Map::new();
    o.insert("conversations".into(), Value::Array(turns));
    if let Some(p) = t.parallel {
        o.insert("parallel_tool_calls".into(), Value::Bool(p));
    }
    Value::Object(o).to_string()
}

fn parse_tools(body: &str) -> Result<Vec<FunctionDef>, Finding> {
    let bad = |e: String| Finding::new(Code::Malformed, format!("the <tools> list can't be read: {e}")).field("value");
    let values: Vec<Value> = match loose_json(body) {
        Ok(Value::Array(items)) => items,
        Ok(one @ Value::Object(_)) => vec![one],
        Ok(_) => return Err(bad("it is not a list of functions".into())),
        // Tools one after another, as Hermes 2 Pro's template prints them.
        Err(e) => serde_json::Deserializer::from_str(body.trim())
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .map_err(|_| bad(e))?,
    };
    values
        .into_iter()
        .enumerate()
        .map(|(k, v)| FunctionDef::from_owned(v).map_err(|e| bad(format!("function {}: {e}", k + 1))))
        .collect()
}

/// The text of an assistant turn outside its `<tool_call>` blocks, and the calls in them.
fn read_calls(value: &str) -> Result<(String, Vec<Call>), Finding> {
    let (text, bodies) = blocks(value, &TOOL_CALL);
    let mut calls = Vec::new();
    for (k, body) in bodies.into_iter().enumerate() {
        let bad = |e: String| Finding::new(Code::Malformed, format!("<tool_call> {} can't be read: {e}", k + 1));
        let v = loose_json(body).map_err(bad)?;
        // A block may hold one call or a list of them.
        let items = match v {
            Value::Array(items) => items,
            one => vec![one],
        };
        for item in items {
            calls.push(Call::from_value(item).map_err(|e| bad(format!("it {e}")))?);
        }
    }
    Ok((text, calls))
}

/// The results in a tool turn: each `<tool_response>` block (the whole text when there is
/// none), `{"name", "content"}` or the bare result.
fn read_results(value: &str) -> Vec<ToolResult> {
    let (outside, bodies) = blocks(value, &TOOL_RESPONSE);
    let bodies: Vec<&str> = if bodies.is_empty() { vec![outside.as_str()] } else { bodies };
    bodies
        .into_iter()
        .map(|body| {
            let v = loose_json(body).unwrap_or_else(|_| Value::String(body.trim().into()));
            match v {
                Value::Object(mut o) if o.contains_key("content") && o.len() <= 3 => {
                    let name = match o.remove("name") {
                        Some(Value::String(s)) => s.into_string(),
                        _ => String::new(),
                    };
                    let results = o.remove("content").unwrap_or(Value::Null);
                    let arguments = o.remove("arguments").unwrap_or(Value::Null);
                    ToolResult { name, arguments, results, id: None }
                }
                other => ToolResult { name: String::new(), arguments: Value::Null, results: other, id: None },
            }
        })
        .collect()
}
