//! What can be edited in a sample, as text, and the checks run as you type: JSON syntax
//! (with line and column), function schemas (valid JSON Schema, `required` names that are
//! parameters, unique names), messages, and templates (they must render).

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::domain::Step;
use crate::model::{Composition, FunctionDef, Message, Sample, SubTaskFunctions, ToolResult};

/// One editable field of a sample (or a template of the workspace).
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Scenario,
    AtomicTask,
    /// The composed task and its sub-tasks, as text.
    Composition,
    /// The generated functions, grouped by sub-task (JSON).
    Functions,
    /// An imported sample's tool list (JSON).
    Tools,
    /// The content of a user message.
    UserMessage(usize),
    /// An assistant turn: thought, calls, final answer (JSON).
    AssistantMessage(usize),
    /// The results of a tool message (JSON).
    ToolResults(usize),
    /// A step's prompt template (a workspace override).
    Template(Step),
}

impl Field {
    /// The JSON pointer the edit is saved at.
    pub fn path(&self) -> String {
        match self {
            Field::Scenario => "/scenario".into(),
            Field::AtomicTask => "/atomic_task".into(),
            Field::Composition => "/composition".into(),
            Field::Functions => "/functions".into(),
            Field::Tools => "/trajectory/tools".into(),
            Field::UserMessage(i) => format!("/trajectory/messages/{i}/content"),
            Field::AssistantMessage(i) => format!("/trajectory/messages/{i}"),
            Field::ToolResults(i) => format!("/trajectory/messages/{i}/results"),
            Field::Template(s) => format!("prompts/{}.jinja", s.id()),
        }
    }

    pub fn title(&self) -> String {
        match self {
            Field::Scenario => "scenario".into(),
            Field::AtomicTask => "atomic task".into(),
            Field::Composition => "composed task (first paragraph) and sub-tasks (one a line)".into(),
            Field::Functions => "function schemas by sub-task (JSON)".into(),
            Field::Tools => "tool list (JSON)".into(),
            Field::UserMessage(i) => format!("user message {}", i + 1),
            Field::AssistantMessage(i) => format!("assistant turn {} (JSON)", i + 1),
            Field::ToolResults(i) => format!("tool results of message {} (JSON)", i + 1),
            Field::Template(s) => format!("template prompts/{}.jinja", s.id()),
        }
    }

    pub fn is_json(&self) -> bool {
        matches!(self, Field::Functions | Field::Tools | Field::AssistantMessage(_) | Field::ToolResults(_))
    }

    /// The file name extension for $EDITOR.
    pub fn extension(&self) -> &'static str {
        match self {
            Field::Template(_) => "jinja",
            f if f.is_json() => "json",
            _ => "txt",
        }
    }
}

/// A problem found while checking an edit: where (1-based line and column, 0 when it is
/// about the whole text) and what.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
        } else {
            write!(f, "{}", self.message)
        }
    }
}

fn whole(message: impl Into<String>) -> Problem {
    Problem { line: 0, column: 0, message: message.into() }
}

/// The line of the first occurrence of `needle` in `text` (1-based), to point at a name.
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle).map_or(0, |i| text[..i].matches('\n').count() + 1)
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).expect("values serialize")
}

/// The field's current value as the text to edit; None when the sample does not have it.
pub fn to_text(sample: &Sample, field: &Field) -> Option<String> {
    let t = sample.trajectory.as_ref();
    match field {
        Field::Scenario => sample.scenario.clone(),
        Field::AtomicTask => sample.atomic_task.clone(),
        Field::Composition => sample.composition.as_ref().map(|c| {
            let subs: Vec<String> = c.sub_tasks.iter().enumerate().map(|(i, s)| format!("{}. {s}", i + 1)).collect();
            format!("{}\n\n{}", c.task, subs.join("\n"))
        }),
        Field::Functions => (!sample.functions.is_empty())
            .then(|| pretty(&serde_json::to_value(&sample.functions).expect("serializes"))),
        Field::Tools => t.map(|t| pretty(&serde_json::to_value(&t.tools).expect("serializes"))),
        Field::UserMessage(i) => match t?.messages.get(*i)? {
            Message::User { content } => Some(content.clone()),
            _ => None,
        },
        Field::AssistantMessage(i) => match t?.messages.get(*i)? {
            m @ Message::Assistant { .. } => Some(pretty(&serde_json::to_value(m).expect("serializes"))),
            _ => None,
        },
        Field::ToolResults(i) => match t?.messages.get(*i)? {
            Message::Tool { results } => Some(pretty(&serde_json::to_value(results).expect("serializes"))),
            _ => None,
        },
        Field::Template(_) => None,
    }
}

fn parse_json(text: &str) -> Result<Value, Vec<Problem>> {
    serde_json::from_str(text).map_err(|e| {
        vec![Problem { line: e.line(), column: e.column(), message: format!("JSON syntax: {}", strip_position(&e)) }]
    })
}

/// `serde_json`'s message without its " at line L column C" tail (shown separately).
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Checks function schemas: each a valid function (name, description, parameters), its
/// parameters a valid JSON Schema (draft 7), `required` naming parameters, names unique.
pub fn check_functions(fns: &[Value], text: &str, problems: &mut Vec<Problem>) -> Vec<FunctionDef> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, v) in fns.iter().enumerate() {
        let name = v.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let at = if name.is_empty() { 0 } else { line_of(text, &format!("\"{name}\"")) };
        let here = |m: String| Problem { line: at, column: usize::from(at > 0), message: m };
        let f = match FunctionDef::from_owned(v.clone().into()) {
            Ok(f) => f,
            Err(e) => {
                problems.push(here(format!("function {}: {e}", i + 1)));
                continue;
            }
        };
        if !seen.insert(f.name.clone()) {
            problems.push(here(format!("two functions are named {}: names must be unique", f.name)));
        }
        if let Err(e) = jsonschema::draft7::meta::validate(&serde_json::Value::from(&f.parameters)) {
            problems.push(here(format!("{}: parameters are not a valid JSON Schema: {e}", f.name)));
        }
        let props: HashSet<String> =
            f.properties().map(|p| p.keys().map(crate::json::Key::to_string).collect()).unwrap_or_default();
        for r in f.required() {
            if !props.contains(r) {
                problems.push(here(format!("{}: required names {r:?}, which is not one of its parameters", f.name)));
            }
        }
        out.push(f);
    }
    out
}

/// The edited text as the value to save at the field's path, or what is wrong with it.
/// `sample` gives what the check needs around the field (the strategy, the tool names).
pub fn from_text(sample: &Sample, field: &Field, text: &str) -> Result<Value, Vec<Problem>> {
    let mut problems = Vec::new();
    let value = match field {
        Field::Scenario | Field::AtomicTask | Field::UserMessage(_) => {
            if text.trim().is_empty() {
                return Err(vec![whole("the text is empty")]);
            }
            Value::String(text.trim_end().to_string())
        }
        Field::Composition => {
            let mut parts = text.splitn(2, "\n\n");
            let task = parts.next().unwrap_or("").trim().to_string();
            let subs: Vec<String> = parts
                .next()
                .unwrap_or("")
                .lines()
                .map(|l| {
                    let l = l.trim();
                    let l = l.trim_start_matches(|c: char| c.is_ascii_digit()).trim_start_matches(['.', ')']);
                    l.trim_start_matches(['-', '*']).trim().to_string()
                })
                .filter(|l| !l.is_empty())
                .collect();
            if task.is_empty() {
                problems.push(Problem { line: 1, column: 1, message: "the composed task is empty".into() });
            }
            if subs.len() < 2 {
                problems.push(whole("a composition needs at least two sub-tasks, one a line after a blank line"));
            }
            let strategy = sample.strategy().unwrap_or(crate::model::Strategy::Sequential);
            serde_json::to_value(Composition { strategy, task, sub_tasks: subs }).expect("serializes")
        }
        Field::Functions => {
            let v = parse_json(text)?;
            let groups: Vec<Value> = match v {
                Value::Array(a) => a,
                _ => return Err(vec![whole("expected a JSON array of {\"sub_task\", \"functions\"} groups")]),
            };
            let mut all = Vec::new();
            let mut out = Vec::new();
            for (i, g) in groups.iter().enumerate() {
                let sub = g.get("sub_task").and_then(Value::as_str);
                let fns = g.get("functions").and_then(Value::as_array);
                match (sub, fns) {
                    (Some(s), Some(f)) => {
                        all.extend(f.iter().cloned());
                        out.push((s.to_string(), f.clone()));
                    }
                    _ => problems
                        .push(whole(format!("group {} needs \"sub_task\" (text) and \"functions\" (array)", i + 1))),
                }
            }
            let checked = check_functions(&all, text, &mut problems);
            if problems.is_empty() {
                let mut it = checked.into_iter();
                let groups: Vec<SubTaskFunctions> = out
                    .into_iter()
                    .map(|(sub_task, f)| SubTaskFunctions { sub_task, functions: it.by_ref().take(f.len()).collect() })
                    .collect();
                serde_json::to_value(groups).expect("serializes")
            } else {
                Value::Null
            }
        }
        Field::Tools => {
            let v = parse_json(text)?;
            let Value::Array(a) = v else {
                return Err(vec![whole("expected a JSON array of functions")]);
            };
            let checked = check_functions(&a, text, &mut problems);
            serde_json::to_value(checked).expect("serializes")
        }
        Field::AssistantMessage(_) => {
            let mut v = parse_json(text)?;
            if let Value::Object(m) = &mut v {
                m.insert("role".into(), json!("assistant"));
            }
            match serde_json::from_value::<Message>(v.clone()) {
                Ok(Message::Assistant { calls, final_answer, .. }) => {
                    let tools: HashSet<&str> = sample
                        .trajectory
                        .as_ref()
                        .map(|t| t.tools.iter().map(|f| f.name.as_str()).collect())
                        .unwrap_or_default();
                    for c in &calls {
                        if !tools.contains(c.name.as_str()) {
                            problems.push(Problem {
                                line: line_of(text, &format!("\"{}\"", c.name)),
                                column: 1,
                                message: format!("{} is not one of the sample's functions", c.name),
                            });
                        }
                        if !c.arguments.is_object() {
                            problems.push(whole(format!("the arguments of {} must be a JSON object", c.name)));
                        }
                    }
                    if !calls.is_empty() && final_answer.is_some() {
                        problems.push(whole("a turn has calls or a final answer, not both"));
                    }
                }
                Ok(_) => problems.push(whole("not an assistant turn")),
                Err(e) => problems.push(whole(format!("not an assistant turn: {e}"))),
            }
            v
        }
        Field::ToolResults(_) => {
            let v = parse_json(text)?;
            match serde_json::from_value::<Vec<ToolResult>>(v.clone()) {
                Ok(r) if r.is_empty() => problems.push(whole("a tool message has at least one result")),
                Ok(_) => {}
                Err(e) => {
                    problems.push(whole(format!("expected [{{\"name\", \"arguments\", \"results\"}}, ...]: {e}")));
                }
            }
            v
        }
        Field::Template(step) => {
            if let Err(e) = check_template(*step, text) {
                problems.push(e);
            }
            Value::String(text.to_string())
        }
    };
    if problems.is_empty() { Ok(value) } else { Err(problems) }
}

/// A template must compile and render its step's example variables.
pub fn check_template(step: Step, text: &str) -> Result<(), Problem> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let at = |e: &minijinja::Error| Problem {
        line: e.line().unwrap_or(0),
        column: usize::from(e.line().is_some()),
        message: format!("{}{}", e.kind(), e.detail().map(|d| format!(": {d}")).unwrap_or_default()),
    };
    env.add_template_owned("t", text.to_string()).map_err(|e| at(&e))?;
    let t = env.get_template("t").map_err(|e| at(&e))?;
    t.render(minijinja::value::Serde(crate::prompts::example_context(step))).map_err(|e| at(&e))?;
    Ok(())
}

/// A step's reply kept for the sample (the template loop's "keep"): the field it replaces
/// and its new value, from the call's parsed result. A dialogue turn is kept by forking
/// instead (its later turns depend on it).
pub fn kept_reply(step: Step, parsed: &Value, sample: &Sample) -> Result<(String, Value), String> {
    let text = |v: &Value| v.as_str().map(str::to_string).ok_or("the parsed reply is not text".to_string());
    match step {
        Step::ScenarioExtract | Step::ScenarioExpand => Ok(("/scenario".into(), json!(text(parsed)?))),
        Step::AtomicTask => Ok(("/atomic_task".into(), json!(text(parsed)?))),
        Step::ComposeSequential | Step::ComposeParallelSequential => {
            let atomic = sample.atomic_task.clone().ok_or("the sample has no atomic task to compose from")?;
            let field = |k: &str| parsed.get(k).and_then(Value::as_str).map(str::to_string);
            let (task, subsequent) = field("composition")
                .zip(field("subsequent"))
                .ok_or("the parsed reply has no composition and subsequent task")?;
            let mut sub_tasks = vec![atomic];
            sub_tasks.extend(field("parallel"));
            sub_tasks.push(subsequent);
            let strategy = if step == Step::ComposeSequential {
                crate::model::Strategy::Sequential
            } else {
                crate::model::Strategy::ParallelThenSequential
            };
            let c = Composition { strategy, task, sub_tasks };
            Ok(("/composition".into(), serde_json::to_value(c).expect("a composition serializes")))
        }
        Step::CompositionFilter => {
            let passed = parsed.get(0).and_then(Value::as_bool).ok_or("the parsed reply has no verdict")?;
            let analysis = parsed.get(1).and_then(Value::as_str).unwrap_or_default();
            Ok(("/filter".into(), json!({"passed": passed, "analysis": analysis})))
        }
        Step::FunctionGenerate => {
            let groups: Vec<SubTaskFunctions> =
                serde_json::from_value(parsed.clone()).map_err(|e| format!("the parsed functions don't read: {e}"))?;
            Ok(("/functions".into(), serde_json::to_value(groups).expect("functions serialize")))
        }
        Step::UserAgent | Step::AssistantAgent | Step::ToolAgent => {
            Err("a dialogue turn is kept by forking: open the turn in the trajectory and press b".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sample {
        serde_json::from_value(json!({
            "id": "s", "origin": {"kind": "generated", "seed": 0},
            "composition": {"strategy": "sequential", "task": "T", "sub_tasks": ["a", "b"]},
            "trajectory": {"tools": [{"name": "get_weather", "description": "d", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
                "messages": [{"role": "user", "content": "hi"}]}
        }))
        .unwrap()
    }

    #[test]
    fn json_syntax_errors_say_line_and_column() {
        let e = from_text(&sample(), &Field::Tools, "[\n  {\"name\": \"x\",,}\n]").unwrap_err();
        assert_eq!((e[0].line, e[0].column), (2, 16), "{e:?}");
        assert!(e[0].to_string().starts_with("line 2, column 16: JSON syntax"), "{}", e[0]);
    }

    #[test]
    fn schemas_are_checked_for_validity_required_names_and_unique_names() {
        let text = r#"[
  {"name": "get_weather", "description": "d", "parameters": {"type": "object", "properties": {"city": {"type": "strin"}}, "required": ["town"]}},
  {"name": "get_weather", "description": "d", "parameters": {"type": "object", "properties": {}}}
]"#;
        let e = from_text(&sample(), &Field::Tools, text).unwrap_err();
        let all: Vec<String> = e.iter().map(|p| p.message.clone()).collect();
        assert!(all.iter().any(|m| m.contains("not a valid JSON Schema")), "{all:?}");
        assert!(all.iter().any(|m| m.contains("\"town\", which is not one of its parameters")), "{all:?}");
        assert!(all.iter().any(|m| m.contains("names must be unique")), "{all:?}");
        assert!(e.iter().all(|p| p.line == 2), "pointed at the function: {e:?}");
        let ok = to_text(&sample(), &Field::Tools).unwrap();
        assert!(from_text(&sample(), &Field::Tools, &ok).is_ok());
    }

    #[test]
    fn composition_text_round_trips_and_assistant_turns_are_checked() {
        let s = sample();
        let text = to_text(&s, &Field::Composition).unwrap();
        assert_eq!(text, "T\n\n1. a\n2. b");
        let v = from_text(&s, &Field::Composition, "New task\n\n1. one\n- two\n").unwrap();
        assert_eq!(v, json!({"strategy": "sequential", "task": "New task", "sub_tasks": ["one", "two"]}));
        assert!(from_text(&s, &Field::Composition, "only a task").is_err());
        let bad = r#"{"thought": "t", "calls": [{"name": "book", "arguments": {}}]}"#;
        let e = from_text(&s, &Field::AssistantMessage(1), bad).unwrap_err();
        assert!(e[0].message.contains("book is not one of the sample's functions"), "{e:?}");
        let good = r#"{"thought": "t", "calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}"#;
        assert!(from_text(&s, &Field::AssistantMessage(1), good).is_ok());
    }

    #[test]
    fn templates_must_render_their_step() {
        assert!(check_template(Step::AtomicTask, "Scenario: {{ scenario }}").is_ok());
        let e = check_template(Step::AtomicTask, "line one\n{{ scenaro }}").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(check_template(Step::AtomicTask, "{% if %}").is_err());
    }
}
