//! One minijinja template per step id. The defaults in `prompts/` are embedded in the binary;
//! a `prompts/` folder in the workspace overrides them file by file. Undefined variables are
//! errors, never silent blanks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Value, json};

use crate::domain::Step;

const DEFAULTS: [(Step, &str); 10] = [
    (Step::ScenarioExtract, include_str!("../prompts/scenario_extract.jinja")),
    (Step::ScenarioExpand, include_str!("../prompts/scenario_expand.jinja")),
    (Step::AtomicTask, include_str!("../prompts/atomic_task.jinja")),
    (Step::ComposeSequential, include_str!("../prompts/compose_sequential.jinja")),
    (Step::ComposeParallelSequential, include_str!("../prompts/compose_parallel_sequential.jinja")),
    (Step::CompositionFilter, include_str!("../prompts/composition_filter.jinja")),
    (Step::FunctionGenerate, include_str!("../prompts/function_generate.jinja")),
    (Step::UserAgent, include_str!("../prompts/user_agent.jinja")),
    (Step::AssistantAgent, include_str!("../prompts/assistant_agent.jinja")),
    (Step::ToolAgent, include_str!("../prompts/tool_agent.jinja")),
];

/// The text of a step's template: the workspace's override when there is one, else the
/// built-in one; and whether it is the override.
pub fn source(workspace: &Path, step: Step) -> Result<(String, bool), PromptError> {
    let p = workspace.join("prompts").join(file_name(step));
    if p.is_file() {
        return std::fs::read_to_string(&p).map(|t| (t, true)).map_err(|e| PromptError::Read(p, e));
    }
    let text = DEFAULTS.iter().find(|(s, _)| *s == step).map(|(_, t)| t.to_string()).expect("every step has one");
    Ok((text, false))
}

/// The short hash every call records as its template version.
pub fn version(text: &str) -> String {
    version_of(text)
}

pub fn file_name(step: Step) -> String {
    format!("{}.jinja", step.id())
}

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("{file}:{line}: {message}")]
    Template { file: String, line: usize, message: String },
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
}

/// Where a template came from, and a short hash of its text: every artifact records which
/// version of the prompt made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateInfo {
    pub file: String,
    pub overridden: bool,
    pub version: String,
}

pub struct Prompts {
    env: Environment<'static>,
    info: BTreeMap<Step, TemplateInfo>,
}

fn version_of(source: &str) -> String {
    blake3::hash(source.as_bytes()).to_hex().as_str()[..8].to_string()
}

impl Prompts {
    /// The embedded defaults, with the workspace's `prompts/*.jinja` over them.
    pub fn load(workspace: Option<&Path>) -> Result<Prompts, PromptError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut info = BTreeMap::new();
        for (step, default) in DEFAULTS {
            let name = file_name(step);
            let path = workspace.map(|w| w.join("prompts").join(&name));
            let (source, file, overridden) = match path.filter(|p| p.is_file()) {
                Some(p) => {
                    let text = std::fs::read_to_string(&p).map_err(|e| PromptError::Read(p.clone(), e))?;
                    (text, p.display().to_string(), true)
                }
                None => (default.to_string(), format!("prompts/{name} (built in)"), false),
            };
            let version = version_of(&source);
            env.add_template_owned(step.id().to_string(), source).map_err(|e| template_error(&file, &e))?;
            info.insert(step, TemplateInfo { file, overridden, version });
        }
        Ok(Prompts { env, info })
    }

    pub fn info(&self, step: Step) -> &TemplateInfo {
        &self.info[&step]
    }

    pub fn render(&self, step: Step, ctx: &Value) -> Result<String, PromptError> {
        let file = &self.info[&step].file;
        let tmpl = self.env.get_template(step.id()).map_err(|e| template_error(file, &e))?;
        tmpl.render(minijinja::value::Serde(ctx)).map_err(|e| template_error(file, &e))
    }

    /// Renders every template with example data; the errors, each with file and line.
    pub fn check(&self) -> Vec<PromptError> {
        Step::ALL.into_iter().filter_map(|s| self.render(s, &example_context(s)).err()).collect()
    }
}

fn template_error(file: &str, e: &minijinja::Error) -> PromptError {
    let mut message = e.kind().to_string();
    if let Some(d) = e.detail() {
        message = format!("{message}: {d}");
    }
    PromptError::Template { file: file.to_string(), line: e.line().unwrap_or(0), message }
}

/// The variables each step's template gets, with example values.
pub fn example_context(step: Step) -> Value {
    let subs = json!(["Find the cheapest flight from Lisbon to Osaka on 3 May.", "Book it for Ana Souza."]);
    match step {
        Step::ScenarioExtract => json!({"conversation": "user: I need a flight to Osaka.\nassistant: Which date?"}),
        Step::ScenarioExpand | Step::AtomicTask => json!({"scenario": "planning a weekend trip abroad"}),
        Step::ComposeSequential | Step::ComposeParallelSequential => {
            json!({"atomic_task": "Find the cheapest flight from Lisbon to Osaka on 3 May."})
        }
        Step::CompositionFilter | Step::FunctionGenerate => {
            json!({"composition": "Find the cheapest flight from Lisbon to Osaka on 3 May and book it for Ana Souza.", "sub_tasks": subs})
        }
        Step::UserAgent => json!({"task": "Book Ana Souza on the cheapest flight from Lisbon to Osaka on 3 May.",
            "conversation": [{"role": "assistant", "content": "Which airport?"}]}),
        Step::AssistantAgent => json!({"functions": "[]", "parallel": true}),
        Step::ToolAgent => {
            json!({"function": "{\"name\": \"search_flights\"}", "call": "{\"name\": \"search_flights\", \"arguments\": {}}", "conversation": ""})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_render_and_an_undefined_variable_is_an_error_with_file_and_line() {
        let p = Prompts::load(None).unwrap();
        assert!(p.check().is_empty(), "{:?}", p.check());
        assert!(!p.info(Step::AtomicTask).overridden);

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("prompts")).unwrap();
        std::fs::write(dir.path().join("prompts/atomic_task.jinja"), "Scenario: {{ scenario }}\nAlso: {{ mood }}\n")
            .unwrap();
        let p = Prompts::load(Some(dir.path())).unwrap();
        assert!(p.info(Step::AtomicTask).overridden);
        assert_ne!(p.info(Step::AtomicTask).version, Prompts::load(None).unwrap().info(Step::AtomicTask).version);
        let errs = p.check();
        assert_eq!(errs.len(), 1);
        let msg = errs[0].to_string();
        assert!(msg.contains("atomic_task.jinja:2:"), "{msg}");
        assert!(msg.contains("undefined"), "{msg}");
    }

    #[test]
    fn a_syntax_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("prompts")).unwrap();
        std::fs::write(dir.path().join("prompts/tool_agent.jinja"), "ok\n{% if %}\n").unwrap();
        let e = Prompts::load(Some(dir.path())).err().unwrap().to_string();
        assert!(e.contains("tool_agent.jinja:2:"), "{e}");
    }
}
