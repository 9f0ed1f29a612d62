//! `OpenAI` chat fine-tuning with tools: `{"messages": [...], "tools": [...],
//! "parallel_tool_calls": bool}`, calls as `tool_calls` with JSON-string arguments, one
//! `tool` message per result, matched by `tool_call_id`.

use crate::json::{Map, Value};
use serde::Deserialize;

use super::{Parsed, read_shape, text_to_value, value_to_text};
use crate::lint::{Code, Finding, Layout};
use crate::model::{Call, FunctionDef, Message, ToolResult, Trajectory};

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    messages: Option<Vec<Msg>>,
    /// A list, or the list as a JSON string (hub datasets store it so, as Arrow can't hold
    /// schemas that differ row to row).
    #[serde(default)]
    tools: Option<Value>,
    /// The legacy name of `tools` (function calling before tool calls).
    #[serde(default)]
    functions: Option<Value>,
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
    /// The legacy single call of an assistant message.
    #[serde(default)]
    function_call: Option<RawFunction>,
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

/// What a message's content holds: its text, its reasoning, and calls given as content
/// parts.
#[derive(Default)]
struct Content {
    text: String,
    reasoning: String,
    calls: Vec<Call>,
}

/// Message content is a string, or a list of parts: `{"type": "text", "text": ...}`
/// (`OpenAI`), or LLaMA-Factory v1's `{"type": "text" | "reasoning" | "tool_call", "value":
/// ...}`. A part of another kind is an error, never dropped in silence.
fn content(v: Option<Value>) -> Result<Content, String> {
    let mut c = Content::default();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => c.text = s.into_string(),
        Some(Value::Array(parts)) => {
            for (k, p) in parts.iter().enumerate() {
                let kind = p.get("type").and_then(Value::as_str).unwrap_or("text");
                let body = p.get("text").or_else(|| p.get("value"));
                match (kind, body) {
                    ("text", Some(Value::String(t))) => c.text.push_str(t),
                    ("reasoning" | "thinking", Some(Value::String(t))) => c.reasoning.push_str(t),
                    ("tool_call", Some(v)) => {
                        let call = match v {
                            Value::String(s) => text_to_value(s),
                            other => other.clone(),
                        };
                        let name = call
                            .get("name")
                            .and_then(Value::as_str)
                            .ok_or_else(|| format!("content[{k}]: a tool_call part without a \"name\""))?;
                        c.calls.push(Call {
                            name: name.to_string(),
                            arguments: Call::arguments_from(call.get("arguments").cloned()),
                            id: None,
                        });
                    }
                    (kind, _) => {
                        return Err(format!(
                            "content[{k}]: a {kind:?} part without text (read: text, reasoning, tool_call)"
                        ));
                    }
                }
            }
        }
        Some(other) => c.text = other.to_string(),
    }
    Ok(c)
}

fn content_text(v: Option<Value>, i: usize) -> Result<String, Finding> {
    let c = content(v).map_err(|e| Finding::new(Code::Malformed, e).at(i))?;
    Ok(if c.reasoning.is_empty() { c.text } else { format!("{}{}", c.reasoning, c.text) })
}

/// The tool list: a list, or a JSON string that holds one.
fn tool_list(v: Option<Value>) -> Result<Vec<Value>, Finding> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(other) => Err(Finding::new(
                Code::Malformed,
                format!("\"tools\" is a string holding {}, not a list", crate::model::kind_of(&other)),
            )
            .field("tools")),
            Err(e) => {
                Err(Finding::new(Code::Malformed, format!("\"tools\" is a string but not JSON: {e}")).field("tools"))
            }
        },
        Some(other) => {
            Err(Finding::new(Code::Malformed, format!("\"tools\" is {}, not a list", crate::model::kind_of(&other)))
                .field("tools"))
        }
    }
}

pub fn parse(line: &str) -> Result<Parsed, Finding> {
    read_shape(line, "OpenAI chat format", read_line)
}

fn read_line(parsed: Line) -> Result<Parsed, Finding> {
    let msgs = parsed.messages.ok_or_else(|| Finding::new(Code::NoMessages, "the line has no \"messages\" list"))?;
    if msgs.is_empty() {
        return Err(Finding::new(Code::NoMessages, "the \"messages\" list is empty"));
    }
    let mut t = Trajectory { parallel: parsed.parallel_tool_calls, ..Trajectory::default() };
    for (k, v) in tool_list(parsed.tools.or(parsed.functions))?.into_iter().enumerate() {
        t.tools.push(
            FunctionDef::from_owned(v).map_err(|e| Finding::new(Code::Malformed, e).field(format!("tools[{k}]")))?,
        );
    }
    let mut layout = Layout::default();
    let last = msgs.len() - 1;
    for (i, m) in msgs.into_iter().enumerate() {
        let role = m.role.ok_or_else(|| Finding::new(Code::Malformed, "the message has no role").at(i))?;
        match role.as_str() {
            "system" | "developer" if i == 0 => t.system = Some(content_text(m.content, i)?),
            "system" | "developer" => {
                return Err(Finding::new(Code::Malformed, "a system message after the first message").at(i));
            }
            "user" => {
                t.messages.push(Message::User { content: content_text(m.content, i)? });
                layout.source_index.push(i);
            }
            "assistant" => {
                let c = content(m.content).map_err(|e| Finding::new(Code::Malformed, e).at(i))?;
                let mut calls: Vec<Call> = m
                    .tool_calls
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| Call {
                        name: c.function.name,
                        arguments: Call::arguments_from(c.function.arguments),
                        id: c.id,
                    })
                    .chain(m.function_call.map(|f| Call {
                        name: f.name,
                        arguments: Call::arguments_from(f.arguments),
                        id: None,
                    }))
                    .collect();
                calls.extend(c.calls);
                let message = if calls.is_empty() && i == last {
                    Message::Assistant { thought: c.reasoning, calls, final_answer: Some(c.text) }
                } else {
                    let thought =
                        [c.reasoning, c.text].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
                    Message::Assistant { thought, calls, final_answer: None }
                };
                t.messages.push(message);
                layout.source_index.push(i);
            }
            "tool" | "function" => {
                let text = content_text(m.content, i)?;
                // LLaMA-Factory puts the results of parallel calls in one message, as a JSON
                // list of {"tool_call_id", "name", "content"}: one result each.
                let pending = match t.messages.last() {
                    Some(Message::Assistant { calls, .. }) => calls.len(),
                    _ => 0,
                };
                let parts: Vec<(Option<String>, Option<String>, String)> = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Array(items))
                        if pending > 1
                            && items.len() == pending
                            && items.iter().all(|x| x.get("content").is_some()) =>
                    {
                        items
                            .iter()
                            .map(|x| {
                                let s = |k: &str| x.get(k).and_then(Value::as_str).map(String::from);
                                (s("tool_call_id"), s("name"), x.get("content").map(value_to_text).unwrap_or_default())
                            })
                            .collect()
                    }
                    _ => vec![(m.tool_call_id, m.name, text)],
                };
                for (id, name, text) in parts {
                    let result = tool_result(&t.messages, id, name, text);
                    if let Some(Message::Tool { results }) = t.messages.last_mut() {
                        results.push(result);
                    } else {
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
        // An id no call has (calls given as content parts carry none): by position.
        Some(id) => calls.iter().find(|c| c.id.as_deref() == Some(id.as_str())).or_else(|| calls.get(done)),
        None => calls.get(done),
    });
    ToolResult {
        name: call.map(|c| c.name.clone()).or(name).unwrap_or_default(),
        arguments: call.map_or(Value::Null, |c| c.arguments.clone()),
        results: text_to_value(&content),
        id,
    }
}

pub fn tool_value(f: &FunctionDef) -> Value {
    let mut func = Map::new();
    func.insert("name".into(), Value::String(f.name.as_str().into()));
    func.insert("description".into(), Value::String(f.description.as_str().into()));
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
    if let Some(s) = super::system_of(t) {
        msgs.push(obj([("role", "system".into()), ("content", s.into_owned().into())]));
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
                let content =
                    if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text.into()) };
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
                    // The id of a call written above: the result's own when it names one
                    // (results may come in another order than their calls), else the call
                    // at its place (a source may give ids to results but not to calls, as
                    // LLaMA-Factory's v1 parts do).
                    let id =
                        r.id.clone()
                            .filter(|id| last_ids.contains(id))
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
    // Always said: when the source did not say, whether the data has parallel calls.
    o.insert("parallel_tool_calls".into(), Value::Bool(t.parallel.unwrap_or_else(|| t.has_parallel_calls())));
    Value::Object(o).to_string()
}

fn arguments_text(v: &Value) -> String {
    value_to_text(v)
}

pub(crate) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut o = Map::with_capacity(N);
    for (k, v) in pairs {
        o.insert(k.into(), v);
    }
    Value::Object(o)
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn content_parts_and_tool_lists_are_read_or_refused_never_dropped() {
        let ok = r#"{"messages": [{"role": "user", "content": [{"type": "text", "value": "Hi"}]}, {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]}], "tools": "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"dict\", \"properties\": {\"x\": {\"type\": \"int\"}}}, \"required\": [\"x\"]}}]"}"#;
        let p = parse(ok).unwrap();
        assert_eq!(p.trajectory.messages[0], Message::User { content: "Hi".into() });
        let f = &p.trajectory.tools[0];
        assert_eq!(f.parameters["type"], "object");
        assert_eq!(f.parameters["properties"]["x"]["type"], "integer");
        assert_eq!(f.parameters["required"], serde_json::json!(["x"]));
        let image =
            r#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}"#;
        let e = parse(image).unwrap_err();
        assert_eq!(e.code, Code::Malformed);
        assert!(e.message.contains("\"image_url\" part"), "{}", e.message);
        let bad = r#"{"messages": [{"role": "user", "content": "Hi"}], "tools": "[{\"name\": "}"#;
        assert!(parse(bad).unwrap_err().message.contains("\"tools\" is a string but not JSON"));
    }
}
