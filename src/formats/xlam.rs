//! xLAM / `APIGen` (Salesforce's xlam-function-calling-60k and its kin): `{"query", "tools",
//! "answers"}`, `tools` and `answers` usually JSON strings. Read as a single-turn sample:
//! the query, then one assistant turn with every answer as a call (several answers are
//! parallel calls). The data has no results or final answer, so lint says E08 of each.
//!
//! Parameters are the flat layout with Python type names; a type ending in `, optional`
//! marks the parameter optional, and every other parameter is required.

use crate::json::{Map, Value};
use serde::Deserialize;

use super::{Parsed, read_shape};
use crate::lint::{Code, Finding, Layout};
use crate::model::{Call, FunctionDef, Message, Trajectory};

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    tools: Option<Value>,
    #[serde(default)]
    answers: Option<Value>,
}

pub fn looks_like(o: &Map) -> bool {
    o.get("query").is_some_and(Value::is_string) && o.contains_key("answers")
}

/// A JSON list, or a JSON string holding one.
fn list(v: Option<Value>, field: &str) -> Result<Vec<Value>, Finding> {
    let v = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => serde_json::from_str::<Value>(&s).map_err(|e| {
            Finding::new(Code::Malformed, format!("\"{field}\" is not a JSON string of a list: {e}")).field(field)
        })?,
        Some(other) => other,
    };
    match v {
        Value::Array(items) => Ok(items),
        one @ Value::Object(_) => Ok(vec![one]),
        _ => Err(Finding::new(Code::Malformed, format!("\"{field}\" is not a list")).field(field)),
    }
}

pub fn parse(line: &str) -> Result<Parsed, Finding> {
    read_shape(line, "xLAM", read_line)
}

fn read_line(parsed: Line) -> Result<Parsed, Finding> {
    let query = parsed.query.ok_or_else(|| Finding::new(Code::NoMessages, "the line has no \"query\""))?;
    let tools = list(parsed.tools, "tools")?
        .into_iter()
        .enumerate()
        .map(|(k, v)| {
            FunctionDef::from_owned(with_optional_marks(v))
                .map_err(|e| Finding::new(Code::Malformed, e).field(format!("tools[{k}]")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let calls = list(parsed.answers, "answers")?
        .into_iter()
        .enumerate()
        .map(|(k, v)| {
            Call::from_value(v).map_err(|e| Finding::new(Code::Malformed, format!("answer {k} {e}")).field("answers"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let parallel = (calls.len() > 1).then_some(true);
    let mut t = Trajectory { tools, parallel, ..Trajectory::default() };
    t.messages.push(Message::User { content: query });
    if !calls.is_empty() {
        t.messages.push(Message::Assistant { thought: String::new(), calls, final_answer: None });
    }
    let n = t.messages.len();
    Ok(Parsed { trajectory: t, layout: Layout::offset(0, n) })
}

/// xLAM writes `"type": "str, optional"` for an optional parameter and says nothing for a
/// required one: the marks become a function-level `required` list (unless the function
/// has one), and the types lose their suffix.
fn with_optional_marks(v: Value) -> Value {
    let Value::Object(mut f) = v else { return v };
    let Some(Value::Object(params)) = f.get_mut("parameters") else { return Value::Object(f) };
    // A JSON Schema object already says what is required.
    if params.get("type").and_then(Value::as_str).is_some_and(|t| t == "object" || t == "dict") {
        return Value::Object(f);
    }
    let mut required = Vec::new();
    for (name, p) in params.iter_mut() {
        let Some(Value::String(t)) = p.get_mut("type") else {
            required.push(Value::String(name.clone()));
            continue;
        };
        match t.strip_suffix(", optional") {
            Some(base) => *t = base.trim().into(),
            None => required.push(Value::String(name.clone())),
        }
    }
    if !f.contains_key("required") {
        f.insert("required".into(), Value::Array(required));
    }
    Value::Object(f)
}
