//! OpenAI chat fine-tuning with tools: `{"messages": [...], "tools": [...],
//! "parallel_tool_calls": bool}`, calls as `tool_calls` with JSON-string arguments, one
//! `tool` message per result, matched by `tool_call_id`.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Parsed, shape_error, text_to_value, value_to_text};
use crate::lint::{Code, Finding, Layout};
use crate::model::{Call, FunctionDef, Message, ToolResult, Trajectory};

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    messages: Option<Vec<Msg>>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
}

#[derive(Deserialize)]
struct Msg {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<RawToolCall>>,
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawToolCall {
    #[serde(default)]
    id: Option<String>,
    function: RawFunction,
}

#[derive(Deserialize)]
struct RawFunction {
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

/// Message content is a string, or a list of `{"type": "text", "text": ...}` parts.
fn content_text(v: Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("")
        }
        Some(other) => other.to_string(),
    }
}

pub fn parse(line: &str) -> Result<Parsed, Finding> {
    let parsed: Line = serde_json::from_str(line).map_err(|e| shape_error(line, e, "OpenAI chat format"))?;
    let msgs = parsed.messages.ok_or_else(|| Finding::new(Code::NoMessages, "the line has no \"messages\" list"))?;
    if msgs.is_empty() {
        return Err(Finding::new(Code::NoMessages, "the \"messages\" list is empty"));
    }
    let mut t = Trajectory { parallel: parsed.parallel_tool_calls, ..Trajectory::default() };
    for (k, v) in parsed.tools.unwrap_or_default().into_iter().enumerate() {
        t.tools.push(
            FunctionDef::from_owned(v).map_err(|e| Finding::new(Code::Malformed, e).field(format!("tools[{k}]")))?,
        );
    }
    let mut layout = Layout::default();
    let last = msgs.len() - 1;
    for (i, m) in msgs.into_iter().enumerate() {
        let role = m.role.ok_or_else(|| Finding::new(Code::Malformed, "the message has no role").at(i))?;
        match role.as_str() {
            "system" | "developer" if i == 0 => t.system = Some(content_text(m.content)),
            "system" | "developer" => {
                return Err(Finding::new(Code::Malformed, "a system message after the first message").at(i));
            }
            "user" => {
                t.messages.push(Message::User { content: content_text(m.content) });
                layout.source_index.push(i);
            }
            "assistant" => {
                let text = content_text(m.content);
                let calls: Vec<Call> = m
                    .tool_calls
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| Call { name: c.function.name, arguments: arguments_value(c.function.arguments), id: c.id })
                    .collect();
                let message = if calls.is_empty() && i == last {
                    Message::Assistant { thought: String::new(), calls, final_answer: Some(text) }
                } else {
                    Message::Assistant { thought: text, calls, final_answer: None }
                };
                t.messages.push(message);
                layout.source_index.push(i);
            }
            "tool" | "function" => {
                let result = tool_result(&t.messages, m.tool_call_id, m.name, content_text(m.content));
                match t.messages.last_mut() {
                    Some(Message::Tool { results }) => results.push(result),
                    _ => {
                        t.messages.push(Message::Tool { results: vec![result] });
                        layout.source_index.push(i);
                    }
                }
            }
            other => {
                return Err(Finding::new(
                    Code::UnknownRole,
                    format!("unknown role {other:?} (the OpenAI format knows system, user, assistant, tool)"),
                )
                .at(i));
            }
        }
    }
    Ok(Parsed { trajectory: t, layout })
}

/// OpenAI sends arguments as a JSON string; a string that is not JSON stays a string, for
/// lint to report.
fn arguments_value(v: Option<Value>) -> Value {
    match v {
        None => Value::Object(Map::new()),
        Some(Value::String(s)) => text_to_value(&s),
        Some(other) => other,
    }
}

/// A result takes its name and arguments from the call it answers (by id, else by position
/// in the pending calls).
fn tool_result(messages: &[Message], id: Option<String>, name: Option<String>, content: String) -> ToolResult {
    let done = match messages.last() {
        Some(Message::Tool { results }) => results.len(),
        _ => 0,
    };
    let calls = messages.iter().rev().find_map(|m| match m {
        Message::Assistant { calls, .. } => Some(calls.as_slice()),
        _ => None,
    });
    let call = calls.and_then(|calls| match &id {
        Some(id) => calls.iter().find(|c| c.id.as_deref() == Some(id.as_str())),
        None => calls.get(done),
    });
    ToolResult {
        name: call.map(|c| c.name.clone()).or(name).unwrap_or_default(),
        arguments: call.map(|c| c.arguments.clone()).unwrap_or(Value::Null),
        results: text_to_value(&content),
        id,
    }
}

pub fn tool_value(f: &FunctionDef) -> Value {
    let mut func = Map::new();
    func.insert("name".into(), Value::String(f.name.clone()));
    func.insert("description".into(), Value::String(f.description.clone()));
    func.insert("parameters".into(), f.parameters.clone());
    let mut o = Map::new();
    o.insert("type".into(), Value::String("function".into()));
    o.insert("function".into(), Value::Object(func));
    Value::Object(o)
}

pub fn call_id(turn: usize, k: usize) -> String {
    format!("call_{turn}_{k}")
}

pub fn write(t: &Trajectory) -> String {
    let mut msgs = Vec::with_capacity(t.messages.len() + 4);
    if let Some(s) = &t.system {
        msgs.push(obj([("role", "system".into()), ("content", s.clone().into())]));
    }
    let mut last_ids: Vec<String> = Vec::new();
    for (turn, m) in t.messages.iter().enumerate() {
        match m {
            Message::User { content } => msgs.push(obj([("role", "user".into()), ("content", content.clone().into())])),
            Message::Assistant { thought, calls, final_answer } => {
                let mut text = thought.clone();
                if let Some(f) = final_answer {
                    if !text.is_empty() && calls.is_empty() {
                        // OpenAI has one content per message: the final answer is what the
                        // model must say; the thought before it travels in the provenance.
                        text.clear();
                    }
                    text.push_str(f);
                }
                let content = if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) };
                let mut o = obj([("role", "assistant".into()), ("content", content)]);
                if !calls.is_empty() {
                    last_ids = calls
                        .iter()
                        .enumerate()
                        .map(|(k, c)| c.id.clone().unwrap_or_else(|| call_id(turn, k)))
                        .collect();
                    let list: Vec<Value> = calls
                        .iter()
                        .zip(&last_ids)
                        .map(|(c, id)| {
                            obj([
                                ("id", id.clone().into()),
                                ("type", "function".into()),
                                (
                                    "function",
                                    obj([
                                        ("name", c.name.clone().into()),
                                        ("arguments", arguments_text(&c.arguments).into()),
                                    ]),
                                ),
                            ])
                        })
                        .collect();
                    o.as_object_mut().unwrap().insert("tool_calls".into(), Value::Array(list));
                }
                msgs.push(o);
            }
            Message::Tool { results } => {
                for (k, r) in results.iter().enumerate() {
                    let id =
                        r.id.clone()
                            .or_else(|| last_ids.get(k).cloned())
                            .unwrap_or_else(|| call_id(turn.saturating_sub(1), k));
                    msgs.push(obj([
                        ("role", "tool".into()),
                        ("tool_call_id", id.into()),
                        ("content", value_to_text(&r.results).into()),
                    ]));
                }
            }
        }
    }
    let mut o = Map::new();
    o.insert("messages".into(), Value::Array(msgs));
    o.insert("tools".into(), Value::Array(t.tools.iter().map(tool_value).collect()));
    if let Some(p) = t.parallel {
        o.insert("parallel_tool_calls".into(), Value::Bool(p));
    }
    Value::Object(o).to_string()
}

fn arguments_text(v: &Value) -> String {
    value_to_text(v)
}

pub(crate) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut o = Map::with_capacity(N);
    for (k, v) in pairs {
        o.insert(k.to_string(), v);
    }
    Value::Object(o)
}
