//! Exports shaped for the trainers people use (`button export --for TARGET`). Each writes
//! what that trainer's own code reads correctly; `trainers/check.py` passes an export
//! through the real code (LLaMA-Factory's converter and template, TRL's tokenization via
//! transformers' `apply_chat_template`, HF `datasets`' JSON loader at 4.0 and 5.x).
//!
//! - `openai`: the `OpenAI` fine-tuning API's chat layout (arguments a JSON string, as the
//!   API requires; the thought before calls in `content`).
//! - `trl`: TRL `SFTTrainer`'s `messages` + `tools`: arguments as objects (chat templates
//!   such as Qwen2.5's print them with `tojson`, so a string would be encoded twice), the
//!   thought in `content`, `tools` a JSON string (TRL parses it; as a list, `datasets` < 4.7
//!   merges every row's schemas into one and prints other tools' parameters as null).
//! - `llamafactory`: LLaMA-Factory's `sharegpt` formatting. A call turn's value is the
//!   calls as JSON; with a thought before them, `THOUGHT\n<tool_call>CALLS</tool_call>`,
//!   which its `FunctionFormatter` trains as the thought, then the calls. Parallel results
//!   are one observation, split as LLaMA-Factory splits them. `system` always there.
//! - `llamafactory-openai`: its `openai` formatting, with role and content strings only: a
//!   call turn goes under its function tag (`function_call`) with the same text as above,
//!   because its converter replaces the content of a message with `tool_calls` (the
//!   thought is lost), encodes string arguments a second time, and loads object arguments
//!   through Arrow, which under `datasets` <= 4.0 merges them across rows.

use std::fmt;
use std::str::FromStr;

use crate::json::{Map, Value};

use super::openai::{obj, tool_value};
use super::value_to_text;
use crate::model::{Call, Message, ToolResult, Trajectory};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    OpenAi,
    Trl,
    LlamaFactory,
    LlamaFactoryOpenAi,
}

impl Target {
    pub const ALL: [Target; 4] = [Target::OpenAi, Target::Trl, Target::LlamaFactory, Target::LlamaFactoryOpenAi];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::OpenAi => "openai",
            Target::Trl => "trl",
            Target::LlamaFactory => "llamafactory",
            Target::LlamaFactoryOpenAi => "llamafactory-openai",
        }
    }

    pub fn write_line(self, t: &Trajectory) -> String {
        match self {
            Target::OpenAi => super::openai::write(t),
            Target::Trl => trl(t),
            Target::LlamaFactory => llamafactory(t),
            Target::LlamaFactoryOpenAi => llamafactory_openai(t),
        }
    }

    /// The entry LLaMA-Factory's `data/dataset_info.json` needs for an export named
    /// `file_name`; None for the other trainers.
    pub fn dataset_info(self, file_name: &str) -> Option<Value> {
        let columns = |pairs: &[(&str, &str)]| {
            Value::Object(pairs.iter().map(|(k, v)| (*k, Value::String((*v).into()))).collect())
        };
        match self {
            Target::LlamaFactory => Some(obj([
                ("file_name", file_name.into()),
                ("formatting", "sharegpt".into()),
                ("columns", columns(&[("messages", "conversations"), ("system", "system"), ("tools", "tools")])),
            ])),
            Target::LlamaFactoryOpenAi => Some(obj([
                ("file_name", file_name.into()),
                ("formatting", "openai".into()),
                ("columns", columns(&[("messages", "messages"), ("tools", "tools")])),
                (
                    "tags",
                    columns(&[
                        ("role_tag", "role"),
                        ("content_tag", "content"),
                        ("user_tag", "user"),
                        ("assistant_tag", "assistant"),
                        ("observation_tag", "tool"),
                        ("function_tag", FUNCTION_TAG),
                        ("system_tag", "system"),
                    ]),
                ),
            ])),
            Target::OpenAi | Target::Trl => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Target, String> {
        Target::ALL
            .into_iter()
            .find(|t| t.as_str() == s.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown trainer {s:?}: use openai, trl, llamafactory or llamafactory-openai"))
    }
}

/// LLaMA-Factory's role for a call turn.
const FUNCTION_TAG: &str = "function_call";
/// How LLaMA-Factory's own openai converter joins the results of one turn.
const RESPONSE_JOIN: &str = "\n</tool_response>\n<tool_response>\n";

fn tools_text(t: &Trajectory) -> String {
    Value::Array(t.tools.iter().map(tool_value).collect()).to_string()
}

/// The text a turn with calls is trained as, for LLaMA-Factory: the calls as JSON (an
/// object, or a list when parallel), after the thought in its tool-call words.
fn lf_call_text(thought: &str, calls: &[Call]) -> String {
    let list: Vec<Value> =
        calls.iter().map(|c| obj([("name", c.name.clone().into()), ("arguments", c.arguments.clone())])).collect();
    let json = if list.len() == 1 { list[0].to_string() } else { Value::Array(list).to_string() };
    if thought.trim().is_empty() { json } else { format!("{}\n<tool_call>{json}</tool_call>", thought.trim_end()) }
}

fn lf_results_text(results: &[ToolResult]) -> String {
    results.iter().map(|r| value_to_text(&r.results)).collect::<Vec<_>>().join(RESPONSE_JOIN)
}

/// What an assistant turn without calls says: the final answer, or the question back.
fn said(thought: &str, final_answer: Option<&String>) -> String {
    final_answer.cloned().unwrap_or_else(|| thought.to_string())
}

fn llamafactory(t: &Trajectory) -> String {
    let turn = |from: &str, value: String| obj([("from", from.into()), ("value", value.into())]);
    let turns: Vec<Value> = t
        .messages
        .iter()
        .map(|m| match m {
            Message::User { content } => turn("human", content.clone()),
            Message::Assistant { thought, calls, .. } if !calls.is_empty() => {
                turn("function_call", lf_call_text(thought, calls))
            }
            Message::Assistant { thought, final_answer, .. } => turn("gpt", said(thought, final_answer.as_ref())),
            Message::Tool { results } => turn("observation", lf_results_text(results)),
        })
        .collect();
    let mut o = Map::new();
    o.insert("conversations".into(), Value::Array(turns));
    o.insert("system".into(), Value::String(super::system_of(t).unwrap_or_default().into()));
    o.insert("tools".into(), Value::String(tools_text(t).into()));
    Value::Object(o).to_string()
}

fn llamafactory_openai(t: &Trajectory) -> String {
    let msg = |role: &str, content: String| obj([("role", role.into()), ("content", content.into())]);
    let mut msgs = Vec::with_capacity(t.messages.len() + 1);
    if let Some(s) = super::system_of(t) {
        msgs.push(msg("system", s.into_owned()));
    }
    for m in &t.messages {
        match m {
            Message::User { content } => msgs.push(msg("user", content.clone())),
            Message::Assistant { thought, calls, .. } if !calls.is_empty() => {
                msgs.push(msg(FUNCTION_TAG, lf_call_text(thought, calls)));
            }
            Message::Assistant { thought, final_answer, .. } => {
                msgs.push(msg("assistant", said(thought, final_answer.as_ref())));
            }
            // One tool message per result; LLaMA-Factory joins them itself.
            Message::Tool { results } => msgs.extend(results.iter().map(|r| msg("tool", value_to_text(&r.results)))),
        }
    }
    let mut o = Map::new();
    o.insert("messages".into(), Value::Array(msgs));
    o.insert("tools".into(), Value::String(tools_text(t).into()));
    Value::Object(o).to_string()
}

fn trl(t: &Trajectory) -> String {
    let mut msgs = Vec::with_capacity(t.messages.len() + 1);
    if let Some(s) = super::system_of(t) {
        msgs.push(obj([("role", "system".into()), ("content", s.into_owned().into())]));
    }
    for m in &t.messages {
        match m {
            Message::User { content } => msgs.push(obj([("role", "user".into()), ("content", content.clone().into())])),
            Message::Assistant { thought, calls, final_answer } => {
                let content = if calls.is_empty() { said(thought, final_answer.as_ref()) } else { thought.clone() };
                let mut o = obj([("role", "assistant".into()), ("content", content.into())]);
                if !calls.is_empty() {
                    let list: Vec<Value> = calls
                        .iter()
                        .map(|c| {
                            obj([
                                ("type", "function".into()),
                                (
                                    "function",
                                    obj([("name", c.name.clone().into()), ("arguments", c.arguments.clone())]),
                                ),
                            ])
                        })
                        .collect();
                    o.as_object_mut().expect("obj is an object").insert("tool_calls".into(), Value::Array(list));
                }
                msgs.push(o);
            }
            Message::Tool { results } => {
                for r in results {
                    msgs.push(obj([
                        ("role", "tool".into()),
                        ("name", r.name.clone().into()),
                        ("content", value_to_text(&r.results).into()),
                    ]));
                }
            }
        }
    }
    let mut o = Map::new();
    o.insert("messages".into(), Value::Array(msgs));
    o.insert("tools".into(), Value::String(tools_text(t).into()));
    Value::Object(o).to_string()
}
