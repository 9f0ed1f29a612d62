//! `ShareGPT` with tools, LLaMA-Factory's layout: `{"conversations": [{"from", "value"}],
//! "system": ..., "tools": "<JSON string>"}`. A turn's calls are one `function_call` whose
//! value is a call object (a list when parallel); its results one `observation`. The
//! thought before calls rides in a `thought` key beside `value`, which trainers ignore.

use crate::json::{Map, Value};
use serde::Deserialize;

use super::openai::obj;
use super::{Parsed, read_shape, text_to_value, value_to_text};
use crate::lint::{Code, Finding, Layout};
use crate::model::{Call, FunctionDef, Message, ToolResult, Trajectory};

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    conversations: Option<Vec<Turn>>,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    tools: Option<Value>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
}

#[derive(Deserialize)]
struct Turn {
    #[serde(default)]
    from: Option<String>,
    /// Text; a `function_call` value may also be the call object or list itself.
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    thought: Option<String>,
}

pub fn parse(line: &str) -> Result<Parsed, Finding> {
    read_shape(line, "ShareGPT", read_line)
}

fn read_line(parsed: Line) -> Result<Parsed, Finding> {
    let turns =
        parsed.conversations.ok_or_else(|| Finding::new(Code::NoMessages, "the line has no \"conversations\" list"))?;
    if turns.is_empty() {
        return Err(Finding::new(Code::NoMessages, "the \"conversations\" list is empty"));
    }
    let mut t = Trajectory {
        parallel: parsed.parallel_tool_calls,
        system: parsed.system.filter(|s| !s.is_empty()),
        ..Trajectory::default()
    };
    t.tools = read_tools(parsed.tools)?;
    let mut layout = Layout::default();
    let last = turns.len() - 1;
    for (i, turn) in turns.into_iter().enumerate() {
        let from = turn.from.ok_or_else(|| Finding::new(Code::Malformed, "the turn has no \"from\"").at(i))?;
        let value =
            turn.value.ok_or_else(|| Finding::new(Code::Malformed, format!("the {from} turn has no value")).at(i))?;
        let thought = turn.thought.unwrap_or_default();
        let value = match (from.as_str(), value) {
            (_, Value::String(s)) => s.into_string(),
            ("function_call", v @ (Value::Object(_) | Value::Array(_))) => v.to_string(),
            ("observation" | "tool", v) => v.to_string(),
            (_, v) => {
                return Err(Finding::new(
                    Code::Malformed,
                    format!("the {from} turn's value is {}, not text", crate::model::kind_of(&v)),
                )
                .at(i));
            }
        };
        let message = match from.as_str() {
            "human" | "user" => Message::User { content: value },
            "gpt" | "assistant" if i == last => {
                Message::Assistant { thought, calls: vec![], final_answer: Some(value) }
            }
            "gpt" | "assistant" => Message::Assistant { thought: value, calls: vec![], final_answer: None },
            "function_call" => {
                // LLaMA-Factory's form with a thought: `THOUGHT\n<tool_call>CALLS</tool_call>`.
                let (thought, value) = match value.split_once("<tool_call>") {
                    Some((before, rest)) if thought.is_empty() => {
                        let calls = rest.rsplit_once("</tool_call>").map_or(rest, |(c, _)| c);
                        (before.trim_end().to_string(), calls.to_string())
                    }
                    _ => (thought, value),
                };
                let calls = parse_calls(&value).map_err(|e| e.at(i))?;
                Message::Assistant { thought, calls, final_answer: None }
            }
            "observation" | "tool" => {
                let calls = match t.messages.last() {
                    Some(Message::Assistant { calls, .. }) => calls.as_slice(),
                    _ => &[],
                };
                Message::Tool { results: results_for(calls, &value) }
            }
            "system" if i == 0 => {
                t.system = Some(value);
                continue;
            }
            other => {
                return Err(Finding::new(
                    Code::UnknownRole,
                    format!("unknown role {other:?} (ShareGPT knows human, gpt, function_call, observation or tool)"),
                )
                .at(i));
            }
        };
        t.messages.push(message);
        layout.source_index.push(i);
    }
    Ok(Parsed { trajectory: t, layout })
}

pub(crate) fn read_tools(tools: Option<Value>) -> Result<Vec<FunctionDef>, Finding> {
    let list = match tools {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => serde_json::from_str::<Value>(&s).map_err(|e| {
            Finding::new(Code::Malformed, format!("\"tools\" is not a JSON string of functions: {e}")).field("tools")
        })?,
        Some(other) => other,
    };
    let items = match list {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => return Err(Finding::new(Code::Malformed, "\"tools\" is not a list of functions").field("tools")),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(k, v)| {
            FunctionDef::from_owned(v).map_err(|e| Finding::new(Code::Malformed, e).field(format!("tools[{k}]")))
        })
        .collect()
}

fn parse_calls(value: &str) -> Result<Vec<Call>, Finding> {
    let v: Value = serde_json::from_str(value).map_err(|e| {
        Finding::new(Code::Malformed, format!("the function_call value is not JSON: {e}")).field("value")
    })?;
    let items = match v {
        Value::Array(items) => items,
        one => vec![one],
    };
    items
        .into_iter()
        .enumerate()
        .map(|(k, item)| {
            Call::from_value(item).map_err(|e| Finding::new(Code::Malformed, format!("call {k} {e}")).field("value"))
        })
        .collect()
}

/// One result per call: with several calls the value is a list, one entry per call.
fn results_for(calls: &[Call], value: &str) -> Vec<ToolResult> {
    const LF_JOIN: &str = "\n</tool_response>\n<tool_response>\n";
    // (A join has a `<`, which one byte's search finds quicker than the join's own.)
    let values = if calls.len() > 1 && memchr::memchr(b'<', value.as_bytes()).is_some() && value.contains(LF_JOIN) {
        // LLaMA-Factory's join of one turn's results.
        value.split(LF_JOIN).map(text_to_value).collect()
    } else {
        match text_to_value(value) {
            Value::Array(items) if calls.len() > 1 => items,
            other => vec![other],
        }
    };
    values
        .into_iter()
        .enumerate()
        .map(|(k, results)| {
            let call = calls.get(k);
            ToolResult {
                name: call.map(|c| c.name.clone()).unwrap_or_default(),
                arguments: call.map_or(Value::Null, |c| c.arguments.clone()),
                results,
                id: None,
            }
        })
        .collect()
}

pub fn write(t: &Trajectory) -> String {
    let mut turns = Vec::with_capacity(t.messages.len());
    for m in &t.messages {
        match m {
            Message::User { content } => turns.push(obj([("from", "human".into()), ("value", content.clone().into())])),
            Message::Assistant { thought, calls, final_answer } => {
                if !calls.is_empty() {
                    let list: Vec<Value> = calls
                        .iter()
                        .map(|c| obj([("name", c.name.clone().into()), ("arguments", c.arguments.clone())]))
                        .collect();
                    let value = if list.len() == 1 { list[0].to_string() } else { Value::Array(list).to_string() };
                    let mut o = obj([("from", "function_call".into()), ("value", value.into())]);
                    if !thought.is_empty() {
                        o.as_object_mut().unwrap().insert("thought".into(), thought.clone().into());
                    }
                    turns.push(o);
                } else if let Some(f) = final_answer {
                    let mut o = obj([("from", "gpt".into()), ("value", f.clone().into())]);
                    if !thought.is_empty() {
                        o.as_object_mut().unwrap().insert("thought".into(), thought.clone().into());
                    }
                    turns.push(o);
                } else {
                    turns.push(obj([("from", "gpt".into()), ("value", thought.clone().into())]));
                }
            }
            Message::Tool { results } => {
                let value = if results.len() == 1 {
                    value_to_text(&results[0].results)
                } else {
                    Value::Array(results.iter().map(|r| r.results.clone()).collect()).to_string()
                };
                turns.push(obj([("from", "observation".into()), ("value", value.into())]));
            }
        }
    }
    let tools: Vec<Value> = t
        .tools
        .iter()
        .map(|f| {
            obj([
                ("name", f.name.clone().into()),
                ("description", f.description.clone().into()),
                ("parameters", f.parameters.clone()),
            ])
        })
        .collect();
    let mut o = Map::new();
    o.insert("conversations".into(), Value::Array(turns));
    // Always there, empty when there is none: LLaMA-Factory's documented columns
    // include `system`, and a column missing from a row is a KeyError there.
    o.insert("system".into(), Value::String(super::system_of(t).unwrap_or_default().into()));
    o.insert("tools".into(), Value::String(Value::Array(tools).to_string().into()));
    o.insert("parallel_tool_calls".into(), Value::Bool(t.parallel.unwrap_or_else(|| t.has_parallel_calls())));
    Value::Object(o).to_string()
}
