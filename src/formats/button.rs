//! `BUTTONInstruct`: `{"messages": [{"role", "content"}, ...]}` with the system prompt of
//! `formats/button-system-template.txt`, `<call>[...]</call>` and `<final>...</final>` in
//! assistant text, and tool messages that are JSON lists of `{name, arguments, results}`.

use std::sync::LazyLock;

use crate::json::{Map, Value};
use serde::Deserialize;

use super::{Parsed, Shape, read_borrowed};
use crate::lint::{Code, Finding, Layout};
use crate::model::{
    Call, FunctionDef, Message, Text, ToolResult, Trajectory, Written, WrittenCall, WrittenFunction, kind_of,
};

/// The published dataset's system prompt, byte for byte (a format fact, not ours to reword).
pub const SYSTEM_TEMPLATE: &str = include_str!("../../formats/button-system-template.txt");
const PARALLEL_TSV: &str = include_str!("../../formats/button-parallel-sentences.tsv");

pub fn parallel_sentence(on: bool) -> &'static str {
    let key = if on { "on" } else { "off" };
    PARALLEL_TSV
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('\t')))
        .expect("formats/button-parallel-sentences.tsv has an on and an off line")
}

/// The template's text before and after `{tool_list}` (found once: reading a line's system
/// prompt looked for it every time, 1% of lint's instructions).
fn template_parts() -> (&'static str, &'static str) {
    static PARTS: LazyLock<(&str, &str)> =
        LazyLock::new(|| SYSTEM_TEMPLATE.split_once("{tool_list}").expect("the template has {tool_list}"));
    *PARTS
}

/// The tool list as it goes between `<tool>` and `</tool>`: one JSON object a line, in the
/// paper's flat layout where the schema allows it.
pub fn tool_list_text(tools: &[FunctionDef]) -> String {
    let mut s = String::new();
    for (i, f) in tools.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&f.to_flat_value().to_string());
    }
    s
}

/// A system prompt of a sample's own that lists tools in `<tool>` (a BUTTON prompt other than
/// the template, kept as it was read) with the sample's tools as they are now. The list is
/// written anew only when it no longer reads as `tools` (the tools were edited); otherwise,
/// and where the block holds no tool list, the prompt is as it was, byte for byte.
pub fn with_current_tools<'a>(system: &'a str, tools: &[FunctionDef]) -> std::borrow::Cow<'a, str> {
    let Some(body) = tool_block(system) else { return system.into() };
    match parse_tool_list(&system[body.clone()]) {
        Ok(listed) if listed != tools => {
            format!("{}\n{}\n{}", &system[..body.start], tool_list_text(tools), &system[body.end..]).into()
        }
        _ => system.into(),
    }
}

/// Where a prompt lists its tools: the text between `<tool>` and the last `</tool>`.
fn tool_block(prompt: &str) -> Option<std::ops::Range<usize>> {
    let a = prompt.find("<tool>")? + "<tool>".len();
    let b = prompt.rfind("</tool>")?;
    (b >= a).then_some(a..b)
}

pub fn render_system(tools: &[FunctionDef], parallel: bool) -> String {
    let (pre, post) = template_parts();
    let mut s = String::with_capacity(SYSTEM_TEMPLATE.len() + 512 * tools.len());
    s.push_str(pre);
    s.push_str(&tool_list_text(tools));
    s.push_str(&post.replace("{parallel}", parallel_sentence(parallel)));
    s
}

/// Reads a tool list: a JSON array of functions, or function objects one after another.
pub fn parse_tool_list(text: &str) -> Result<Vec<FunctionDef>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    // Straight into the fields a function is made of; anything that read can't hold is
    // read again as values, whose reading names what is wrong.
    let written: Option<Vec<WrittenFunction>> = if text.starts_with('[') {
        serde_json::from_str(text).ok()
    } else {
        serde_json::Deserializer::from_str(text).into_iter().collect::<Result<_, _>>().ok()
    };
    if let Some(written) = written {
        return written
            .into_iter()
            .enumerate()
            .map(|(i, w)| FunctionDef::from_written(w).map_err(|e| format!("function {} of the tool list: {e}", i + 1)))
            .collect();
    }
    let values: Vec<Value> = if text.starts_with('[') {
        serde_json::from_str(text).map_err(|e| format!("the tool list is not a JSON array: {e}"))?
    } else {
        serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the tool list is not JSON objects one after another: {e}"))?
    };
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| FunctionDef::from_owned(v).map_err(|e| format!("function {} of the tool list: {e}", i + 1)))
        .collect()
}

/// A line's messages, their text borrowed from the text read (`simd_json`'s copy of the line,
/// unescaped in place; the line itself where `serde_json` reads a string without escapes).
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(default, borrow)]
    messages: Option<Vec<Msg<'a>>>,
}

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(default, borrow)]
    role: Option<Text<'a>>,
    #[serde(default, borrow)]
    content: Option<Text<'a>>,
}

struct LineShape;

impl Shape for LineShape {
    type Of<'a> = Line<'a>;
}

pub fn parse(line: &str) -> Result<Parsed, Finding> {
    read_borrowed::<LineShape, _>(line, "BUTTONInstruct", read_line)
}

fn read_line(parsed: Line<'_>) -> Result<Parsed, Finding> {
    let msgs = parsed.messages.ok_or_else(|| Finding::new(Code::NoMessages, "the line has no \"messages\" list"))?;
    if msgs.is_empty() {
        return Err(Finding::new(Code::NoMessages, "the \"messages\" list is empty"));
    }
    let mut t = Trajectory { messages: Vec::with_capacity(msgs.len()), ..Trajectory::default() };
    let mut layout = Layout { source_index: Vec::with_capacity(msgs.len()) };
    for (i, m) in msgs.into_iter().enumerate() {
        let role = m.role.ok_or_else(|| Finding::new(Code::Malformed, "the message has no role").at(i))?.0;
        let content = m
            .content
            .map(|c| c.0)
            .ok_or_else(|| Finding::new(Code::Malformed, format!("the {role} message has no content")).at(i))?;
        let message = match role.as_ref() {
            "system" | "systems" if i == 0 => {
                read_system(&content, &mut t).map_err(|e| e.at(i))?;
                continue;
            }
            "system" | "systems" => {
                return Err(Finding::new(Code::Malformed, "a system message after the first message").at(i));
            }
            "user" => Message::User { content: content.into_owned() },
            "assistant" => parse_assistant(&content).map_err(|e| e.at(i))?,
            "tool" => parse_tool(&content).map_err(|e| e.at(i))?,
            other => {
                return Err(Finding::new(
                    Code::UnknownRole,
                    format!("unknown role {other:?} (BUTTONInstruct knows system, user, assistant, tool)"),
                )
                .at(i));
            }
        };
        t.messages.push(message);
        layout.source_index.push(i);
    }
    Ok(Parsed { trajectory: t, layout })
}

/// The template's text after `{tool_list}`, with each parallel sentence put in.
static TEMPLATE_TAILS: LazyLock<[(bool, String); 2]> = LazyLock::new(|| {
    let (_, post) = template_parts();
    [true, false].map(|on| (on, post.replace("{parallel}", parallel_sentence(on)).trim_end().to_string()))
});

fn read_system(content: &str, t: &mut Trajectory) -> Result<(), Finding> {
    let (pre, _) = template_parts();
    // The template, alone or after a sample's own system prompt and a blank line (as
    // `write` puts a prompt from another layout).
    let at = if content.starts_with(pre) { Some(0) } else { content.find(pre) };
    let (own, template) = match at {
        Some(0) => (None, content),
        Some(at) if content[..at].ends_with(OWN_SEPARATOR) => {
            (Some(&content[..at - OWN_SEPARATOR.len()]), &content[at..])
        }
        _ => (None, ""),
    };
    if let Some(rest) = template.strip_prefix(pre) {
        let rest = rest.trim_end();
        for (on, tail) in TEMPLATE_TAILS.iter() {
            if let Some(tools) = rest.strip_suffix(tail.as_str()) {
                t.parallel = Some(*on);
                t.tools =
                    parse_tool_list(tools).map_err(|e| Finding::new(Code::Malformed, e).field("content.<tool>"))?;
                t.system = own.map(str::to_string);
                return Ok(());
            }
        }
    }
    // Not the BUTTON template: keep the prompt verbatim and still read its tools and mode.
    t.parallel = if content.contains(parallel_sentence(true)) {
        Some(true)
    } else if content.contains(parallel_sentence(false)) {
        Some(false)
    } else {
        None
    };
    t.system = Some(content.to_string());
    if let Some(body) = tool_block(content) {
        t.tools =
            parse_tool_list(&content[body]).map_err(|e| Finding::new(Code::Malformed, e).field("content.<tool>"))?;
    }
    Ok(())
}

/// The tags of an assistant turn, each searched for with a finder built once (`str::find`
/// builds its searcher on every call: 4% of lint's instructions went there).
static TAGS: LazyLock<[memchr::memmem::Finder<'static>; 4]> =
    LazyLock::new(|| ["<call>", "</call>", "<final>", "</final>"].map(memchr::memmem::Finder::new));

/// Where the tag `open` starts, the text after it up to `close` (or to the end), and
/// whether `close` was there.
fn tag_body<'a>(
    content: &'a str,
    open: &memchr::memmem::Finder,
    close: &memchr::memmem::Finder,
) -> Option<(usize, &'a str, bool)> {
    let a = open.find(content.as_bytes())?;
    let rest = &content[a + open.needle().len()..];
    // Both ends of the body are at ASCII tags, so they are char boundaries.
    Some(match close.find(rest.as_bytes()) {
        Some(b) => (a, &rest[..b], true),
        None => (a, rest, false),
    })
}

fn parse_assistant(content: &str) -> Result<Message, Finding> {
    let [call_open, call_close, final_open, final_close] = &*TAGS;
    let call = tag_body(content, call_open, call_close);
    let fin = tag_body(content, final_open, final_close);
    if let Some((_, _, false)) = call {
        return Err(Finding::new(Code::Malformed, "a <call> without its </call>").field("content"));
    }
    let first_tag = [call.map(|c| c.0), fin.map(|f| f.0)].into_iter().flatten().min();
    let thought = content[..first_tag.unwrap_or(content.len())].trim().to_string();
    let calls = match call {
        Some((_, body, _)) => parse_calls(body)?,
        None => Vec::new(),
    };
    let final_answer = fin.map(|(_, body, _)| body.trim().to_string());
    Ok(Message::Assistant { thought, calls, final_answer })
}

/// A JSON list (or a single object) of `{"name", "arguments"}`.
pub fn parse_calls(body: &str) -> Result<Vec<Call>, Finding> {
    let call = |(k, c): (usize, Result<Call, &str>)| {
        c.map_err(|e| {
            let field = if e == "has no name" { format!("calls[{k}].name") } else { format!("calls[{k}]") };
            Finding::new(Code::Malformed, format!("call {k} {e}")).field(field)
        })
    };
    if let Some(written) = written_objects::<WrittenCall>(body.trim()) {
        return written.into_iter().map(Call::from_written).enumerate().map(call).collect();
    }
    let v: Value = serde_json::from_str(body.trim()).map_err(|e| {
        Finding::new(Code::Malformed, format!("the <call> body is not JSON: {e}")).field("content.<call>")
    })?;
    let items = match v {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        other => {
            return Err(Finding::new(
                Code::Malformed,
                format!("the <call> body is {}, not a list of calls", kind_of(&other)),
            )
            .field("content.<call>"));
        }
    };
    items.into_iter().map(Call::from_value).enumerate().map(call).collect()
}

/// A JSON list of objects, or one object, read straight into `T`; None for anything else
/// (the caller reads it again as values, whose reading names what is wrong).
fn written_objects<'a, T: Deserialize<'a>>(text: &'a str) -> Option<Vec<T>> {
    match text.as_bytes().first() {
        Some(b'[') => serde_json::from_str(text).ok(),
        Some(b'{') => serde_json::from_str(text).ok().map(|t| vec![t]),
        _ => None,
    }
}

crate::model::written_fields! {
    /// The fields of a tool result object, read from the text directly.
    struct WrittenResult { name, arguments, results }
}

fn tool_result(k: usize, w: WrittenResult) -> Result<ToolResult, Finding> {
    let Written::Given(Value::String(name)) = w.name else {
        return Err(
            Finding::new(Code::Malformed, format!("result {k} has no name")).field(format!("results[{k}].name"))
        );
    };
    let arguments = w.arguments.into_option().unwrap_or(Value::Null);
    let results = w.results.into_option().unwrap_or(Value::Null);
    Ok(ToolResult { name: name.into_string(), arguments, results, id: None })
}

fn parse_tool(content: &str) -> Result<Message, Finding> {
    if let Some(written) = written_objects::<WrittenResult>(content.trim()) {
        let results = written.into_iter().enumerate().map(|(k, w)| tool_result(k, w)).collect::<Result<_, _>>()?;
        return Ok(Message::Tool { results });
    }
    let v: Value = serde_json::from_str(content.trim()).map_err(|e| {
        Finding::new(Code::Malformed, format!("the tool message is not a JSON list of results: {e}")).field("content")
    })?;
    let items = match v {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        other => {
            return Err(Finding::new(
                Code::Malformed,
                format!("the tool message is {}, not a list of results", kind_of(&other)),
            )
            .field("content"));
        }
    };
    let results = items
        .into_iter()
        .enumerate()
        .map(|(k, item)| {
            let Value::Object(mut o) = item else {
                return Err(Finding::new(Code::Malformed, format!("result {k} is not an object"))
                    .field(format!("results[{k}]")));
            };
            let mut take = |f: &str| o.remove(f).map_or(Written::Absent, Written::Given);
            tool_result(k, WrittenResult { name: take("name"), arguments: take("arguments"), results: take("results") })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Message::Tool { results })
}

pub fn assistant_text(thought: &str, calls: &[Call], final_answer: Option<&str>) -> String {
    let mut s = String::from(thought);
    if !calls.is_empty() {
        let list: Vec<Value> = calls
            .iter()
            .map(|c| {
                let mut o = Map::new();
                o.insert("name".into(), Value::String(c.name.as_str().into()));
                o.insert("arguments".into(), c.arguments.clone());
                Value::Object(o)
            })
            .collect();
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str("<call>");
        s.push_str(&Value::Array(list).to_string());
        s.push_str("</call>");
    }
    if let Some(f) = final_answer {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str("<final>");
        s.push_str(f);
        s.push_str("</final>");
    }
    s
}

/// A message's content as the `BUTTONInstruct` format writes it.
pub fn message_text(m: &Message) -> String {
    match m {
        Message::User { content } => content.clone(),
        Message::Assistant { thought, calls, final_answer } => assistant_text(thought, calls, final_answer.as_deref()),
        Message::Tool { results } => tool_text(results),
    }
}

pub fn tool_text(results: &[ToolResult]) -> String {
    let list: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut o = Map::new();
            o.insert("name".into(), Value::String(r.name.as_str().into()));
            o.insert("arguments".into(), r.arguments.clone());
            o.insert("results".into(), r.results.clone());
            Value::Object(o)
        })
        .collect();
    Value::Array(list).to_string()
}

/// Between a sample's own system prompt and the template that follows it.
const OWN_SEPARATOR: &str = "\n\n";

/// One `BUTTONInstruct` line. The system message is always the template with the sample's
/// tools (so the line passes lint); a system prompt of the sample's own (from another
/// layout) comes first, a blank line before the template. A prompt read from a BUTTON
/// line that already lists tools in `<tool>` is written as it was.
pub fn write(t: &Trajectory) -> String {
    let parallel = t.parallel.unwrap_or_else(|| t.has_parallel_calls());
    let system = match &t.system {
        Some(s) if s.contains("<tool>") => with_current_tools(s, &t.tools).into_owned(),
        Some(own) => format!("{own}{OWN_SEPARATOR}{}", render_system(&t.tools, parallel)),
        None => render_system(&t.tools, parallel),
    };
    let mut msgs = Vec::with_capacity(t.messages.len() + 1);
    msgs.push(role_content("system", system));
    for m in &t.messages {
        msgs.push(match m {
            Message::User { content } => role_content("user", content.clone()),
            Message::Assistant { thought, calls, final_answer } => {
                role_content("assistant", assistant_text(thought, calls, final_answer.as_deref()))
            }
            Message::Tool { results } => role_content("tool", tool_text(results)),
        });
    }
    let mut o = Map::new();
    o.insert("messages".into(), Value::Array(msgs));
    Value::Object(o).to_string()
}

fn role_content(role: &str, content: String) -> Value {
    let mut o = Map::new();
    o.insert("role".into(), Value::String(role.into()));
    o.insert("content".into(), Value::String(content.into()));
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn assistant_turns_split_at_their_tags_and_an_open_call_is_an_error() {
        let m = parse_assistant(r#"Look it up. <call>[{"name":"f","arguments":{}}]</call>"#).unwrap();
        let Message::Assistant { thought, calls, final_answer } = m else { panic!("an assistant turn") };
        assert_eq!((thought.as_str(), calls[0].name.as_str(), final_answer), ("Look it up.", "f", None));
        let m = parse_assistant("Done. <final> It is 12 °C. </final> trailing").unwrap();
        let Message::Assistant { thought, calls, final_answer } = m else { panic!("an assistant turn") };
        assert_eq!((thought.as_str(), calls.len(), final_answer.as_deref()), ("Done.", 0, Some("It is 12 °C.")));
        // A final answer with no closing tag runs to the end; a call with none is an error.
        let m = parse_assistant("<final>all of it").unwrap();
        assert!(matches!(m, Message::Assistant { final_answer: Some(f), .. } if f == "all of it"));
        let e = parse_assistant(r#"<call>[{"name":"f","arguments":{}}]"#).unwrap_err();
        assert_eq!(e.message, "a <call> without its </call>");
    }

    /// What the straight reading can't hold (a repeated key, an element that is not an
    /// object) is read as values, and gets their answer.
    #[test]
    fn tool_lists_calls_and_results_the_straight_reading_cannot_hold_get_the_value_answer() {
        let repeated = parse_tool_list(r#"[{"name":"f","name":"g","parameters":{}}]"#).unwrap();
        assert_eq!(repeated[0].name, "g");
        assert_eq!(
            parse_tool_list(r#"[{"name":"f","parameters":{}}, "g"]"#).unwrap_err(),
            "function 2 of the tool list: a function must be a JSON object, found a string"
        );
        assert_eq!(
            parse_tool_list(r#"[["g", "an array is not a function"]]"#).unwrap_err(),
            "function 1 of the tool list: a function must be a JSON object, found an array"
        );
        assert_eq!(parse_calls(r#"[{"name":"f","name":"g"}]"#).unwrap()[0].name, "g");
        assert_eq!(parse_calls(r#"[{"name":"f"}, 3]"#).unwrap_err().message, "call 1 is not an object");
        let Message::Tool { results } = parse_tool(r#"[{"name":"f","results":1,"results":2}]"#).unwrap() else {
            panic!("a tool message")
        };
        assert_eq!(results[0].results, json!(2));
        assert_eq!(parse_tool(r#"[{"name":"f"}, [1]]"#).unwrap_err().message, "result 1 is not an object");
        assert_eq!(parse_tool(r#"[{"name":5}]"#).unwrap_err().message, "result 0 has no name");
    }

    const TEMPLATE_BLAKE3: &str = "605c7cfe98bba33d415f5d81e5591fd204bb0628ee87bc7192f74f6d74116cdb";
    const SENTENCES_BLAKE3: &str = "3c135aa97cf35d0bd67d4fcd614d5dcdde6c60b717e1c31f0cca65d2069e0201";

    #[test]
    fn the_template_and_sentences_are_the_published_text_byte_for_byte() {
        // formats/ holds copies of the published dataset's text (shared/formats in the
        // project's steering repo, which .ci/run compares byte for byte when it is beside the
        // checkout). The hashes pin those copies, so the test needs nothing outside the
        // repository.
        let hex = |b: &[u8]| blake3::hash(b).to_hex().to_string();
        assert_eq!(hex(SYSTEM_TEMPLATE.as_bytes()), TEMPLATE_BLAKE3, "formats/button-system-template.txt changed");
        assert_eq!(hex(PARALLEL_TSV.as_bytes()), SENTENCES_BLAKE3, "formats/button-parallel-sentences.tsv changed");
        let template = SYSTEM_TEMPLATE.as_bytes().to_vec();
        for line in PARALLEL_TSV.lines() {
            let (key, sentence) = line.split_once('\t').unwrap();
            assert_eq!(parallel_sentence(key == "on"), sentence);
        }
        // The rendered prompt is the template with exactly the two placeholders replaced.
        let f = FunctionDef::from_value(&json!({"name": "f", "parameters": {}})).unwrap();
        let rendered = render_system(std::slice::from_ref(&f), false);
        let expected = String::from_utf8(template)
            .unwrap()
            .replace("{tool_list}", &f.to_flat_value().to_string())
            .replace("{parallel}", parallel_sentence(false));
        assert_eq!(rendered, expected);
    }

    #[test]
    fn tool_lists_read_as_array_or_objects_one_after_another() {
        let a = parse_tool_list(r#"[{"name":"a","parameters":{}},{"name":"b","parameters":{}}]"#).unwrap();
        let b = parse_tool_list("{\"name\":\"a\",\"parameters\":{}}\n\n  {\"name\":\"b\",\"parameters\":{}}").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
        assert!(parse_tool_list("{\"name\": \"a\"} nonsense").unwrap_err().contains("one after another"));
    }

    #[test]
    fn assistant_text_splits_into_thought_calls_and_final() {
        let m = parse_assistant(r#"I will look. <call>[{"name": "f", "arguments": {"x": 1}}]</call>"#).unwrap();
        let Message::Assistant { thought, calls, final_answer } = &m else { panic!() };
        assert_eq!(thought, "I will look.");
        assert_eq!(calls[0].name, "f");
        assert_eq!(calls[0].arguments, json!({"x": 1}));
        assert!(final_answer.is_none());
        let text = assistant_text(thought, calls, None);
        assert_eq!(parse_assistant(&text).unwrap(), m);

        let m = parse_assistant("Done. <final>It is 3.</final>").unwrap();
        assert_eq!(
            m,
            Message::Assistant { thought: "Done.".into(), calls: vec![], final_answer: Some("It is 3.".into()) }
        );
        let e = parse_assistant("x <call>[{\"name\": ").unwrap_err();
        assert_eq!(e.code, Code::Malformed);
    }

    #[test]
    fn a_custom_system_prompt_is_kept_verbatim() {
        let line = json!({"messages": [
            {"role": "system", "content": "Be brief. <tool>[{\"name\": \"f\", \"parameters\": {}}]</tool>"},
            {"role": "user", "content": "hi"}]})
        .to_string();
        let p = parse(&line).unwrap();
        assert_eq!(p.trajectory.tools.len(), 1);
        assert!(p.trajectory.system.as_deref().unwrap().starts_with("Be brief."));
        assert_eq!(p.trajectory.parallel, None);
        assert_eq!(p.layout.source_index, vec![1]);
    }
}
