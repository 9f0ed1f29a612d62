//! Dataset formats in and out (SPEC §3): BUTTONInstruct, OpenAI chat fine-tuning with
//! tools, ShareGPT with tools. Each reads one JSONL line into a `Trajectory` (or a
//! finding that says what is wrong and where) and writes one back.

pub mod button;
pub mod container;
pub mod lines;
pub mod openai;
pub mod sharegpt;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::lint::{Code, Finding, Layout};
use crate::model::Trajectory;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Button,
    OpenAi,
    ShareGpt,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Button, Format::OpenAi, Format::ShareGpt];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Button => "button",
            Format::OpenAi => "openai",
            Format::ShareGpt => "sharegpt",
        }
    }

    pub fn parse_line(self, line: &str) -> Result<Parsed, Finding> {
        match self {
            Format::Button => button::parse(line),
            Format::OpenAi => openai::parse(line),
            Format::ShareGpt => sharegpt::parse(line),
        }
    }

    /// One line of this format, without the trailing newline.
    pub fn write_line(self, t: &Trajectory) -> String {
        match self {
            Format::Button => button::write(t),
            Format::OpenAi => openai::write(t),
            Format::ShareGpt => sharegpt::write(t),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "button" | "buttoninstruct" => Ok(Format::Button),
            "openai" => Ok(Format::OpenAi),
            "sharegpt" => Ok(Format::ShareGpt),
            other => Err(format!("unknown format {other:?}: use button, openai or sharegpt")),
        }
    }
}

/// A trajectory read from a line, with where its messages sit in the line.
#[derive(Debug)]
pub struct Parsed {
    pub trajectory: Trajectory,
    pub layout: Layout,
}

/// Guesses the format of one JSONL line, or None when the line does not tell.
pub fn detect_line(line: &str) -> Option<Format> {
    let v: Value = serde_json::from_str(line).ok()?;
    let o = v.as_object()?;
    if o.contains_key("conversations") {
        return Some(Format::ShareGpt);
    }
    let msgs = o.get("messages")?.as_array()?;
    if o.contains_key("tools") || o.contains_key("parallel_tool_calls") {
        return Some(Format::OpenAi);
    }
    for m in msgs {
        if m.get("tool_calls").is_some() || m.get("tool_call_id").is_some() {
            return Some(Format::OpenAi);
        }
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let content = m.get("content").and_then(Value::as_str).unwrap_or("");
        if role == "systems" || content.contains("<tool>") || content.contains("<call>") || content.contains("<final>")
        {
            return Some(Format::Button);
        }
    }
    None
}

/// Text of a JSON line, or the finding for a line that is not UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

pub fn line_text(bytes: &[u8]) -> Result<&str, Finding> {
    // A byte-order mark (Windows tools write one before the first line) is not content.
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        Finding::new(Code::NotUtf8, format!("the line is not valid UTF-8 (bad byte at column {})", e.valid_up_to() + 1))
    })
}

/// Finding for a line serde could not read into the format's shape: says whether it is
/// JSON at all, and where.
pub(crate) fn shape_error(line: &str, e: serde_json::Error, what: &str) -> Finding {
    match serde_json::from_str::<Value>(line) {
        Err(e) => Finding::new(Code::NotJson, format!("the line is not JSON: {e}")),
        Ok(v) if !v.is_object() => Finding::new(Code::NotJson, "the line is JSON but not an object"),
        Ok(_) => Finding::new(Code::Malformed, format!("the line is not {what}: {e}")),
    }
}

pub(crate) fn value_to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses text that should hold JSON; a tool result that is plain text stays a string.
pub(crate) fn text_to_value(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}
