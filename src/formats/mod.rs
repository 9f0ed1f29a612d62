//! Dataset formats in and out (SPEC §3): `BUTTONInstruct`, `OpenAI` chat fine-tuning with
//! tools, `ShareGPT` with tools. Each reads one JSONL line into a `Trajectory` (or a
//! finding that says what is wrong and where) and writes one back.

pub mod button;
pub mod container;
pub mod glaive;
pub mod hermes;
pub mod lines;
pub mod openai;
pub mod sharegpt;
pub mod trainers;
pub mod xlam;

use std::fmt;
use std::str::FromStr;

use crate::json::Value;

use crate::lint::{Code, Finding, Layout};
use crate::model::Trajectory;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Button,
    OpenAi,
    ShareGpt,
    Hermes,
    /// xLAM / `APIGen` `query`/`tools`/`answers`: read, not written.
    Xlam,
    /// glaive-function-calling-v2's raw `system`/`chat` text: read, not written.
    Glaive,
}

impl Format {
    /// Every layout `button` reads.
    pub const ALL: [Format; 6] =
        [Format::Button, Format::OpenAi, Format::ShareGpt, Format::Hermes, Format::Xlam, Format::Glaive];
    /// The layouts it also writes.
    pub const WRITTEN: [Format; 4] = [Format::Button, Format::OpenAi, Format::ShareGpt, Format::Hermes];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Button => "button",
            Format::OpenAi => "openai",
            Format::ShareGpt => "sharegpt",
            Format::Hermes => "hermes",
            Format::Xlam => "xlam",
            Format::Glaive => "glaive",
        }
    }

    pub fn writes(self) -> bool {
        Format::WRITTEN.contains(&self)
    }

    pub fn parse_line(self, line: &str) -> Result<Parsed, Finding> {
        match self {
            Format::Button => button::parse(line),
            Format::OpenAi => openai::parse(line),
            Format::ShareGpt => sharegpt::parse(line),
            Format::Hermes => hermes::parse(line),
            Format::Xlam => xlam::parse(line),
            Format::Glaive => glaive::parse(line),
        }
    }

    /// One line of this format, without the trailing newline. The layouts that are only
    /// read (`writes()` is false) are written as `OpenAI`; `ops::export_as` refuses them before.
    pub fn write_line(self, t: &Trajectory) -> String {
        match self {
            Format::Button => button::write(t),
            Format::OpenAi | Format::Xlam | Format::Glaive => openai::write(t),
            Format::ShareGpt => sharegpt::write(t),
            Format::Hermes => hermes::write(t),
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
            "sharegpt" | "llamafactory" => Ok(Format::ShareGpt),
            "hermes" => Ok(Format::Hermes),
            "xlam" | "apigen" => Ok(Format::Xlam),
            "glaive" => Ok(Format::Glaive),
            other => Err(format!("unknown format {other:?}: use button, openai, sharegpt, hermes, xlam or glaive")),
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
    if xlam::looks_like(o) {
        return Some(Format::Xlam);
    }
    if glaive::looks_like(o) {
        return Some(Format::Glaive);
    }
    if hermes::looks_like(o) {
        return Some(Format::Hermes);
    }
    if o.contains_key("conversations") {
        return Some(Format::ShareGpt);
    }
    let msgs = o.get("messages")?.as_array()?;
    if o.contains_key("tools") || o.contains_key("functions") || o.contains_key("parallel_tool_calls") {
        return Some(Format::OpenAi);
    }
    for m in msgs {
        if m.get("tool_calls").is_some() || m.get("tool_call_id").is_some() || m.get("function_call").is_some() {
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
    // Checked with SIMD; a line that fails is checked again by `std` for where.
    if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
        return Ok(text);
    }
    std::str::from_utf8(bytes).map_err(|e| {
        Finding::new(Code::NotUtf8, format!("the line is not valid UTF-8 (bad byte at column {})", e.valid_up_to() + 1))
    })
}

thread_local! {
    /// A copy of the line for `simd_json`, which unescapes strings in place.
    static SIMD_LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// `simd_json`'s working buffers, kept between lines.
    /// (An `Option`, so that taking them leaves nothing behind: `Buffers::default()` is
    /// three allocations.)
    static SIMD_BUFFERS: std::cell::RefCell<Option<simd_json::Buffers>> = const { std::cell::RefCell::new(None) };
    /// `simd_json`'s tape of the line's values, emptied and kept between lines.
    static SIMD_TAPE: std::cell::RefCell<simd_json::tape::Tape<'static>> =
        const { std::cell::RefCell::new(simd_json::tape::Tape(Vec::new())) };
}

/// The sample's own system prompt as a writer puts it: a tool list it holds in `<tool>` lists
/// the sample's tools as they are now (`button::with_current_tools`).
pub(crate) fn system_of(t: &crate::model::Trajectory) -> Option<std::borrow::Cow<'_, str>> {
    t.system.as_deref().map(|s| button::with_current_tools(s, &t.tools))
}

/// A layout's shape of a line, which may borrow the line's text (`Of<'a>`): BUTTON's
/// messages are not copied out of the text `simd_json` unescaped in place.
pub(crate) trait Shape {
    type Of<'a>: serde::Deserialize<'a>;
}

/// The shape of a layout whose line is read into owned values.
pub(crate) struct Owned<T>(std::marker::PhantomData<T>);

impl<T: serde::de::DeserializeOwned> Shape for Owned<T> {
    type Of<'a> = T;
}

/// Reads a line into a layout's shape `T`, which owns what it holds, and hands it to `then`
/// (`read_borrowed`).
pub(crate) fn read_shape<T, R>(line: &str, what: &str, then: impl FnOnce(T) -> Result<R, Finding>) -> Result<R, Finding>
where
    T: serde::de::DeserializeOwned,
{
    read_borrowed::<Owned<T>, R>(line, what, then)
}

/// Reads a line into a layout's shape `S` and hands it to `then`. The line is read by
/// `simd_json` (SIMD over whole messages, strings unescaped in place: a third less time than
/// `serde_json` on dialogue text, which is JSON inside JSON with an escape every few bytes);
/// a line it refuses, or may read otherwise (`negative_zero`), is read by `serde_json`, whose
/// answer (the shape or the error, for `shape_error`) is the one given. The shape may borrow
/// from the copy of the line `simd_json` reads, which lives until `then` returns.
pub(crate) fn read_borrowed<S: Shape, R>(
    line: &str,
    what: &str,
    then: impl for<'a> FnOnce(S::Of<'a>) -> Result<R, Finding>,
) -> Result<R, Finding> {
    // The answer of `serde_json`, which is the one given wherever `simd_json` does not answer.
    let by_serde_json = || serde_json::from_str::<S::Of<'_>>(line).map_err(|e| shape_error(line, e, what));
    let serde_json_only = negative_zero(line.as_bytes());
    #[cfg(test)]
    let serde_json_only = serde_json_only || tests::SERDE_ONLY.get();
    if serde_json_only {
        return by_serde_json().and_then(then);
    }
    // Taken, not borrowed, while `then` runs: a reader inside it gets buffers of its own.
    let (mut buf, mut b, tape) = (
        SIMD_LINE.take(),
        SIMD_BUFFERS.take().unwrap_or_default(),
        SIMD_TAPE.replace(simd_json::tape::Tape(Vec::new())),
    );
    // The copy `simd_json` unescapes in place, padded as it needs (it then makes no copy of
    // its own); its tape is the last line's, emptied.
    buf.clear();
    buf.extend_from_slice(line.as_bytes());
    buf.resize(line.len() + simd_json::INPUT_PADDING, b' ');
    let mut tape = tape.reset();
    let (answer, tape) = match simd_json::fill_tape_padded(&mut buf, line.len(), &mut b, &mut tape) {
        Ok(()) => {
            let mut de = simd_json::Deserializer::from_tape(tape);
            let answer = match <S::Of<'_> as serde::Deserialize>::deserialize(&mut de) {
                Ok(shape) => then(shape),
                Err(_) => by_serde_json().and_then(then),
            };
            (answer, de.into_tape())
        }
        Err(_) => (by_serde_json().and_then(then), tape),
    };
    let tape: simd_json::tape::Tape<'static> = tape.reset();
    // A thread keeps these for the next line; not the room a rare huge line took.
    if line.len() <= KEEP_ROOM {
        SIMD_LINE.set(buf);
        SIMD_BUFFERS.set(Some(b));
        SIMD_TAPE.set(tape);
    }
    answer
}

/// The line length up to which `read_borrowed`'s buffers are kept for the next line.
const KEEP_ROOM: usize = 1 << 20;

/// Whether the line may hold a negative zero without a fraction (`-0`, `-0e0`), which
/// `simd_json` reads as the integer 0 and `serde_json` as the float -0.0. Such lines are left
/// to `serde_json`; a `-0` inside text (a date's "-05") follows a digit and is not one.
fn negative_zero(line: &[u8]) -> bool {
    // Every `-` looked at (one byte's search is quicker than a two-byte one's).
    memchr::memchr_iter(b'-', line).any(|at| {
        line.get(at + 1) == Some(&b'0')
            && !matches!(line.get(at + 2), Some(b'0'..=b'9' | b'.'))
            && line[..at].iter().rev().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| b"[:,".contains(b))
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
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// Parses text that should hold JSON; a tool result that is plain text stays a string.
pub(crate) fn text_to_value(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.into()))
}

/// Reads text that holds JSON, or a Python literal as datasets written with Python's
/// `str()` hold it (single quotes, `True`, `None`): Hermes tool lists and calls, glaive's
/// quoted arguments.
pub(crate) fn loose_json(text: &str) -> Result<Value, String> {
    let text = text.trim();
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        // No text is no literal either (`py_literal`'s parser costs some 25,000
        // instructions to say so: more than all the rest of a Hermes line).
        Err(json_err) if text.is_empty() => Err(format!("neither JSON nor a Python literal ({json_err})")),
        Err(json_err) => match text.parse::<py_literal::Value>() {
            Ok(v) => python_to_json(v),
            Err(_) => Err(format!("neither JSON nor a Python literal ({json_err})")),
        },
    }
}

fn python_to_json(v: py_literal::Value) -> Result<Value, String> {
    use py_literal::Value as Py;
    Ok(match v {
        Py::String(s) => Value::String(s.into()),
        Py::Boolean(b) => Value::Bool(b),
        Py::None => Value::Null,
        Py::Integer(i) => match i64::try_from(&i) {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(i.to_string().into()),
        },
        Py::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Py::List(items) | Py::Tuple(items) | Py::Set(items) => {
            Value::Array(items.into_iter().map(python_to_json).collect::<Result<_, _>>()?)
        }
        Py::Dict(pairs) => {
            let mut o = crate::json::Map::with_capacity(pairs.len());
            for (k, v) in pairs {
                let key = match k {
                    Py::String(s) => s,
                    Py::Integer(i) => i.to_string(),
                    Py::Boolean(b) => if b { "True" } else { "False" }.to_string(),
                    other => return Err(format!("a dict key that is not a string ({other})")),
                };
                o.insert(key.into(), python_to_json(v)?);
            }
            Value::Object(o)
        }
        Py::Bytes(_) => return Err("bytes are not JSON".into()),
        Py::Complex(_) => return Err("complex numbers are not JSON".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// `read_shape` reads with `serde_json` alone while this is set.
        pub(super) static SERDE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    fn by_serde_json(format: Format, line: &str) -> Result<Parsed, Finding> {
        SERDE_ONLY.set(true);
        let parsed = format.parse_line(line);
        SERDE_ONLY.set(false);
        parsed
    }

    /// Every layout's line is read by `simd_json`, and by `serde_json` when `simd_json`
    /// refuses it: on any line, good or bad, the answer must be `serde_json`'s alone.
    #[test]
    fn the_simd_reading_gives_serde_jsons_answer_on_every_kind_of_line() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut bases: Vec<String> = Vec::new();
        for sub in ["lint", "layouts"] {
            for entry in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                bases.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_string));
            }
        }
        // The written layouts, from the lint fixtures' trajectories.
        let written: Vec<String> = bases
            .iter()
            .filter_map(|l| button::parse(l).ok())
            .flat_map(|p| Format::WRITTEN.map(|f| f.write_line(&p.trajectory)))
            .collect();
        bases.extend(written);
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let mut lines = Vec::new();
        for base in &bases {
            lines.push(base.clone());
            let Some(open) = base.trim_end().strip_suffix('}') else { continue };
            lines.push(format!("{base} trailing"));
            lines.push(format!("{base}{base}"));
            lines.push(format!("  {base}  "));
            lines.push(format!("{open},}}"));
            for extra in [
                r#""n":1e999"#,
                r#""n":18446744073709551616"#,
                r#""n":-0.1e-400"#,
                r#""n":NaN"#,
                r#""n":01"#,
                r#""n":1."#,
                r#""n":-"#,
                r#""n":1e"#,
                r#""n":.5"#,
                r#""n":+1"#,
                r#""n":-0"#,
                r#""n":1E+2"#,
                r#""n":123456789012345678901234567890"#,
                r#""b":tru"#,
                r#""b":nulll"#,
                r#""s":"\x""#,
                r#""s":"\u12""#,
                "\"s\":\"\u{1}\"",
                "\"s\":\"\u{7f}\u{a0}\u{2028}\"",
                r#""s":"\ud800""#,
                r#""s":"\ud83d\ude00 \u00e9\n\t\"\\\/""#,
                "\"s\":\"a\tb\"",
                &format!(r#""deep":{deep}"#),
            ] {
                lines.push(format!("{open},{extra}}}"));
            }
            // Each top-level key given twice.
            if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(base) {
                for (k, v) in &o {
                    lines.push(format!("{open},{}:{v}}}", Value::String(k.clone())));
                }
            }
            lines.push(base.chars().take(base.chars().count() / 2).collect());
        }
        lines.extend(["{}", "[]", "\"messages\"", "", "null"].map(str::to_string));
        // Values the layouts keep, read by `simd_json` where it reads the line: numbers
        // at the edges of f64 and past u64, and strings with escapes, in a tool's schema.
        for v in [
            "0.1",
            "1e-7",
            "0.30000000000000004",
            "2.2250738585072014e-308",
            "5e-324",
            "1.7976931348623157e308",
            "9007199254740993",
            "18446744073709551615",
            "-9223372036854775808",
            "123456789012345678901234567890",
            "-0",
            "-0.0",
            "-0e0",
            "-0E+1",
            "[ -0 ,0]",
            "1E+2",
            r#""\ud83d\ude00 \u00e9\n\"\\\/""#,
            "[1,2.5,{\"a\":null}]",
        ] {
            let tool = format!(
                r#"{{"type":"function","function":{{"name":"f","parameters":{{"type":"object","properties":{{"x":{{"type":"number","default":{v}}}}}}}}}}}"#
            );
            lines.push(format!(
                r#"{{"messages":[{{"role":"user","content":"hi"}},{{"role":"assistant","content":"ok"}}],"tools":[{tool}]}}"#
            ));
            lines.push(format!(
                r#"{{"conversations":[{{"from":"human","value":"hi"}},{{"from":"gpt","value":"ok"}}],"tools":[{tool}]}}"#
            ));
        }
        // A line past the room kept for the next one, then a small one.
        lines.push(format!(r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#, r"a\n".repeat(600_000)));
        lines.push(r#"{"messages":[{"role":"user","content":"after"}]}"#.to_string());
        assert!(lines.len() > 500, "{} lines", lines.len());
        let mut read = 0;
        for line in &lines {
            for format in Format::ALL {
                let simd = format.parse_line(line);
                read += usize::from(simd.is_ok());
                assert_eq!(format!("{simd:?}"), format!("{:?}", by_serde_json(format, line)), "{format}: {line}");
            }
        }
        assert!(read > 100, "only {read} lines read");
    }
}
