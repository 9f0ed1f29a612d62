//! glaive-function-calling-v2 as glaiveai published it: `{"system": "SYSTEM: ... -\n{fn}\n{fn}",
//! "chat": "USER: ...\n\n\nASSISTANT: <functioncall> {...} <|endoftext|>\n\n\nFUNCTION
//! RESPONSE: {...}\n\n\nASSISTANT: ..."}`. The functions follow the system sentence as
//! JSON objects one after another; a call's `arguments` is usually a JSON text in single
//! quotes, a Python literal.
//!
//! The system sentence ("You are a helpful assistant with access to the following
//! functions. Use them if required -") only introduces the functions and is dropped once
//! they are read; any other system text before the functions is kept, whole.

use crate::json::{Map, Value};
use serde::Deserialize;

use super::{Parsed, loose_json, read_shape, text_to_value};
use crate::lint::{Code, Finding, Layout};
use crate::model::{Call, FunctionDef, Message, ToolResult, Trajectory};

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    chat: Option<String>,
}

pub fn looks_like(o: &Map) -> bool {
    o.get("chat").and_then(Value::as_str).is_some_and(|c| c.trim_start().starts_with("USER:"))
}

const END: &str = "<|endoftext|>";
const SPEAKERS: [(&str, Speaker); 3] =
    [("USER:", Speaker::User), ("ASSISTANT:", Speaker::Assistant), ("FUNCTION RESPONSE:", Speaker::Function)];

#[derive(Clone, Copy, PartialEq)]
enum Speaker {
    User,
    Assistant,
    Function,
}

pub fn parse(line: &str) -> Result<Parsed, Finding> {
    read_shape(line, "glaive", read_line)
}

fn read_line(parsed: Line) -> Result<Parsed, Finding> {
    let chat = parsed.chat.ok_or_else(|| Finding::new(Code::NoMessages, "the line has no \"chat\" text"))?;
    let mut t = Trajectory::default();
    if let Some(system) = parsed.system {
        read_system(&system, &mut t)?;
    }
    let turns = split_chat(&chat);
    if turns.is_empty() {
        return Err(Finding::new(Code::NoMessages, "the \"chat\" text has no USER: or ASSISTANT: turn").field("chat"));
    }
    let last = turns.len() - 1;
    let mut layout = Layout::default();
    for (i, (speaker, text)) in turns.into_iter().enumerate() {
        let message = match speaker {
            Speaker::User => Message::User { content: text.to_string() },
            Speaker::Assistant => match text.find("<functioncall>") {
                Some(a) => {
                    let call = read_call(&text[a + "<functioncall>".len()..]).map_err(|e| e.at(i))?;
                    Message::Assistant { thought: text[..a].trim().to_string(), calls: vec![call], final_answer: None }
                }
                None if i == last => {
                    Message::Assistant { thought: String::new(), calls: vec![], final_answer: Some(text.to_string()) }
                }
                None => Message::Assistant { thought: text.to_string(), calls: vec![], final_answer: None },
            },
            Speaker::Function => {
                let call = match t.messages.last() {
                    Some(Message::Assistant { calls, .. }) => calls.first(),
                    _ => None,
                };
                Message::Tool {
                    results: vec![ToolResult {
                        name: call.map(|c| c.name.clone()).unwrap_or_default(),
                        arguments: call.map_or(Value::Null, |c| c.arguments.clone()),
                        results: text_to_value(text),
                        id: None,
                    }],
                }
            }
        };
        t.messages.push(message);
        layout.source_index.push(i);
    }
    Ok(Parsed { trajectory: t, layout })
}

fn read_system(system: &str, t: &mut Trajectory) -> Result<(), Finding> {
    let text = system.trim();
    let text = text.strip_prefix("SYSTEM:").unwrap_or(text).trim();
    let Some(a) = text.find('{') else {
        if !text.is_empty() {
            t.system = Some(text.to_string());
        }
        return Ok(());
    };
    let mut functions = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(&text[a..]).into_iter::<Value>();
    for v in stream.by_ref() {
        let v = v.map_err(|e| {
            Finding::new(Code::Malformed, format!("the functions after the system sentence can't be read: {e}"))
                .field("system")
        })?;
        functions.push(
            FunctionDef::from_owned(v)
                .map_err(|e| Finding::new(Code::Malformed, format!("function {}: {e}", functions.len() + 1)))
                .map_err(|f| f.field("system"))?,
        );
    }
    t.tools = functions;
    let intro = text[..a].trim();
    if !intro.is_empty() && !is_stock_intro(intro) {
        t.system = Some(intro.to_string());
    }
    Ok(())
}

/// glaive's own sentence before the functions, which says nothing the tool list doesn't: it
/// is dropped. Any other text there is the row's own (a persona, a rule), kept whole even
/// when it says "with access to the following functions" too.
fn is_stock_intro(intro: &str) -> bool {
    const STOCK: &str = "You are a helpful assistant with access to the following functions. Use them if required";
    intro.trim_end_matches(|c: char| c == '-' || c.is_whitespace()) == STOCK
}

/// The turns of a chat text: each starts with a speaker's mark at the start of a line.
fn split_chat(chat: &str) -> Vec<(Speaker, &str)> {
    let mut marks: Vec<(usize, usize, Speaker)> = Vec::new();
    for (mark, speaker) in SPEAKERS {
        for (at, _) in chat.match_indices(mark) {
            let line_start = chat[..at].trim_end_matches([' ', '\t']).is_empty()
                || chat[..at].trim_end_matches([' ', '\t']).ends_with('\n');
            if line_start {
                marks.push((at, mark.len(), speaker));
            }
        }
    }
    marks.sort_by_key(|m| m.0);
    marks
        .iter()
        .enumerate()
        .map(|(k, &(at, len, speaker))| {
            let end = marks.get(k + 1).map_or(chat.len(), |m| m.0);
            let text = chat[at + len..end].trim();
            let text = text.strip_suffix(END).unwrap_or(text).trim();
            (speaker, text)
        })
        .collect()
}

/// `{"name": "f", "arguments": '{"a": 1}'}`: a Python literal whose arguments are JSON in
/// single quotes. When the JSON inside holds a single quote itself the literal is broken,
/// and the two fields are read by position instead.
fn read_call(text: &str) -> Result<Call, Finding> {
    let text = text.trim();
    let text = text.strip_suffix(END).unwrap_or(text).trim();
    if let Some(call) = loose_json(text).ok().and_then(|v| Call::from_value(v).ok()) {
        return Ok(call);
    }
    by_position(text).ok_or_else(|| {
        let shown: String = text.chars().take(80).collect();
        Finding::new(Code::Malformed, format!("the <functioncall> can't be read: {shown}"))
    })
}

fn by_position(text: &str) -> Option<Call> {
    let after_name = &text[text.find("\"name\"")? + "\"name\"".len()..];
    let after_colon = after_name.trim_start().strip_prefix(':')?.trim_start();
    let mut names = serde_json::Deserializer::from_str(after_colon).into_iter::<String>();
    let name = names.next()?.ok()?;
    let args_at = text.find("\"arguments\"")? + "\"arguments\"".len();
    let args = text[args_at..].trim_start().strip_prefix(':')?.trim();
    let args = args.strip_suffix('}')?.trim();
    let args = args.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')).unwrap_or(args);
    Some(Call { name, arguments: text_to_value(args), id: None })
}
