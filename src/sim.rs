//! The offline simulator: a Backend that answers every step in the shapes of SPEC §2,
//! deterministic from a seed and the request. It reads only what a real model would read
//! (the prompt), so it works the same in-process and behind `button sim-serve`. A
//! configurable share of replies is malformed, to exercise re-asks and failures.
//!
//! Its data is the first a new user sees, so it is coherent, not just well formed: each
//! scenario belongs to a domain (flights, restaurants, money, ...) and its tasks, functions,
//! calls, results and answers stay there; arguments come from the task or from earlier
//! results; a superlative picks the right item; numbers are plausible for their unit and
//! totals follow from prices; the final answer answers the task in sentences.

use serde_json::{Map, Value, json};

use crate::domain::Step;
use crate::llm::{ChatMessage, ChatReply, ChatRequest, Usage};
use crate::parse;
use crate::rng::Rng;

mod world;

use world::Facts;
pub use world::{DOMAINS, Domain, Pick, domain_of, domain_of_function, has_domain};

#[derive(Clone, Debug)]
pub struct Simulator {
    pub seed: u64,
    /// Share of replies (0..1) that are deliberately malformed.
    pub malformed_rate: f64,
}

impl Default for Simulator {
    fn default() -> Self {
        Simulator { seed: 0, malformed_rate: 0.02 }
    }
}

fn hash64(parts: &[&str]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(b"\0");
    }
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

/// The seed scenarios shipped with the project (one a line).
pub const SEED_SCENARIOS: &str = include_str!("../prompts/seed_scenarios.txt");

pub fn seed_scenarios() -> Vec<String> {
    SEED_SCENARIOS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

/// The line after `label` in the prompt (up to the end of the line).
fn after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let i = text.rfind(label)? + label.len();
    Some(text[i..].lines().next().unwrap_or("").trim())
}

/// The numbered lines after `label`: `1. ...`, `2. ...`.
fn numbered_after(prompt: &str, label: &str) -> Vec<String> {
    let Some(i) = prompt.find(label) else { return Vec::new() };
    prompt[i + label.len()..]
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .filter_map(|l| l.split_once(". ").map(|(_, t)| t.to_string()))
        .collect()
}

impl Simulator {
    pub fn complete(&self, req: &ChatRequest) -> ChatReply {
        let content = self.reply(req.step, &req.sample_id, req.seed, &req.messages, req.response_format.is_some());
        let prompt_chars: usize = req.messages.iter().map(|m| m.content.len()).sum();
        ChatReply {
            usage: Usage { prompt_tokens: (prompt_chars / 4) as u64, completion_tokens: (content.len() / 4) as u64 },
            content,
            finish_reason: "stop".into(),
            attempts: 1,
            endpoint: "simulator".into(),
        }
    }

    /// The reply to one request; a request `seed` varies it as a sampling seed would.
    /// `structured`: the request carried a JSON Schema (`response_format`), so a JSON step
    /// answers with the bare JSON object the schema describes, and never malformed, as a
    /// server constraining its output would.
    pub fn reply(
        &self,
        step: Step,
        sample: &str,
        seed: Option<u64>,
        messages: &[ChatMessage],
        structured: bool,
    ) -> String {
        let prompt: String = messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n");
        let mut rng = match seed {
            None => Rng::new(hash64(&[&self.seed.to_string(), step.id(), sample, &prompt])),
            Some(s) => Rng::new(hash64(&[&self.seed.to_string(), step.id(), sample, &prompt, &s.to_string()])),
        };
        let constrained = structured && matches!(step, Step::FunctionGenerate | Step::ToolAgent);
        if !constrained && rng.chance(self.malformed_rate) {
            return malformed(step, &mut rng);
        }
        // A re-ask shows the model its unusable reply and what was wrong: answer the
        // original request again.
        let messages = match messages {
            [rest @ .., a, u]
                if a.role == "assistant" && u.role == "user" && u.content.starts_with(parse::REASK_OPENING) =>
            {
                rest
            }
            all => all,
        };
        let first = messages.first().map_or("", |m| m.content.as_str());
        match step {
            Step::ScenarioExtract => {
                let d = domain_of(first);
                format!("Concise Overview of the Scenario: {}", rng.pick(d.subjects_as_scenarios()))
            }
            Step::ScenarioExpand => {
                let seed = after(first, "Scenario:").unwrap_or(first);
                format!("Modified Scenario: {}", world::expand(seed, &mut rng))
            }
            Step::AtomicTask => {
                let scenario = after(first, "Scenario:").unwrap_or(first);
                let d = domain_of(scenario);
                let mut facts = Facts::for_scenario(d, scenario, &mut rng);
                facts.fill(d.atomic)
            }
            Step::ComposeSequential | Step::ComposeParallelSequential => {
                let atomic = after(first, "Atomic Task:").unwrap_or(first).to_string();
                compose(&atomic, step == Step::ComposeParallelSequential, &mut rng)
            }
            Step::CompositionFilter => filter(first),
            Step::FunctionGenerate => function_generate(first, structured),
            Step::UserAgent => user_agent(first, &mut rng),
            Step::AssistantAgent => assistant_agent(messages, &mut rng),
            Step::ToolAgent => tool_agent(first, structured, &mut rng),
        }
    }
}

fn malformed(step: Step, rng: &mut Rng) -> String {
    let options: &[&str] = match step {
        Step::ComposeSequential | Step::ComposeParallelSequential => {
            &["### Subsequent Task: <the subsequent task>", "I am not sure what to compose here."]
        }
        Step::CompositionFilter => &["The sub-tasks look reasonable overall.", "Maybe."],
        Step::FunctionGenerate => &[
            "[{\"sub_task\": \"x\", \"func_list\": [{\"name\": \"f\", \"parameters\": ",
            "Here are the functions: none needed.",
        ],
        Step::AssistantAgent => {
            &["I will now call the function.", "<thought>calling</thought><func_call>[{\"name\": </func_call>"]
        }
        Step::ToolAgent => &["<func_return>the call succeeded</func_return>", "Sorry, I cannot simulate that."],
        Step::UserAgent => &["", "I'm sorry, but I can't help with that request."],
        _ => &["", "   "],
    };
    rng.pick(options).to_string()
}

/// A requirement the sub-tasks never cover, which the composer sometimes adds: the filter
/// must catch it.
const EXTRAS: &[&str] = &[
    "and also rent me a car for the weekend",
    "and also find a babysitter for that evening",
    "and also sign me up for the city newsletter",
    "and also book a taxi to the airport afterwards",
];

fn compose(atomic: &str, parallel: bool, rng: &mut Rng) -> String {
    let d = domain_of(atomic);
    let mut facts = Facts::read(atomic, rng);
    let subsequent = facts.fill(d.subsequent);
    let mut composition = facts.fill(if parallel { d.parallel_sequential } else { d.sequential });
    if rng.chance(0.03) {
        let extra = rng.pick(EXTRAS);
        composition = format!("{}, {extra}.", composition.trim_end_matches(['.', '?']));
    }
    if parallel {
        let parallel = facts.fill(d.parallel);
        format!("### Parallel Task: {parallel}\n### Subsequent Task: {subsequent}\n### Composition Task: {composition}")
    } else {
        format!("### Subsequent Task: {subsequent}\n### Composition Task: {composition}")
    }
}

/// The filter reads the composition: a requirement no sub-task covers makes it a no, and
/// the analysis names it; otherwise it says how the sub-tasks chain.
fn filter(prompt: &str) -> String {
    let composition = after(prompt, "Composition Task:").unwrap_or("");
    let subs = numbered_after(prompt, "Sub-tasks:");
    if let Some(extra) = EXTRAS.iter().find(|e| composition.contains(*e)) {
        let what = extra.trim_start_matches("and also ");
        return format!(
            "The composition also asks to {what}, which none of the {} sub-tasks covers, so doing them all still leaves part of the request undone.\n<ans>no</ans>",
            subs.len()
        );
    }
    let last = subs.len().max(1);
    let chain = if subs.len() == 3 {
        format!(
            "Sub-tasks 1 and 2 are independent and can run together; sub-task {last} (\"{}\") uses what sub-task 1 returns.",
            subs.last().map_or("", String::as_str)
        )
    } else {
        format!("Sub-task {last} (\"{}\") needs what sub-task 1 returns.", subs.last().map_or("", String::as_str))
    };
    format!(
        "{chain} Every part of the composition is covered by one of them, and nothing else is asked for.\n<ans>yes</ans>"
    )
}

fn function_generate(prompt: &str, structured: bool) -> String {
    let subs = numbered_after(prompt, "Sub-tasks:");
    let d = domain_of(subs.first().map_or(prompt, String::as_str));
    let groups: Vec<Value> = subs
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let f = match (k, subs.len()) {
                (0, _) => &d.atomic_fn,
                (1, 3) => &d.parallel_fn,
                _ => &d.subsequent_fn,
            };
            json!({"sub_task": s, "func_list": [f.to_value()]})
        })
        .collect();
    if structured {
        // As the schema has it: parameters and responses are lists of named entries, and
        // each parameter says whether it is required.
        let mut groups = groups;
        for f in groups.iter_mut().flat_map(|g| g["func_list"].as_array_mut().into_iter().flatten()) {
            let required: Vec<Value> = f["required"].as_array().cloned().unwrap_or_default();
            let Some(o) = f.as_object_mut() else { continue };
            o.remove("required");
            for key in ["parameters", "responses"] {
                let Some(slot) = o.get_mut(key) else { continue };
                let Value::Object(map) = slot else { continue };
                let map = std::mem::take(map);
                let list = map.into_iter().map(|(name, mut p)| {
                    let mut named = json!({"name": name});
                    if let (Value::Object(n), Value::Object(rest)) = (&mut named, &mut p) {
                        n.append(rest);
                    }
                    if key == "parameters" {
                        named["required"] = json!(required.iter().any(|r| *r == named["name"]));
                    }
                    named
                });
                *slot = Value::Array(list.collect());
            }
        }
        return json!({"sub_tasks": groups}).to_string();
    }
    format!("```json\n{}\n```", serde_json::to_string_pretty(&Value::Array(groups)).expect("serializes"))
}

fn user_agent(prompt: &str, rng: &mut Rng) -> String {
    let task = after(prompt, "Task:").unwrap_or(prompt);
    if prompt.contains("Conversation so far:") {
        return format!(
            "<human>{}</human>",
            rng.pick(&[
                "Yes, exactly as I said: please go ahead with all of it.",
                "Please just use the details I gave, they are all correct.",
                "Go ahead, that is right."
            ])
        );
    }
    let opener = *rng.pick(&["Hi! ", "Hello, could you help? ", "Hey there. ", ""]);
    let closer = rng.pick(&[" Thanks!", " Could you handle that for me?", " Let me know how it goes.", ""]);
    format!("<human>{opener}{task}{closer}</human>")
}

/// A sub-task and its functions, as the assistant prompt lists them.
struct Group {
    sub_task: String,
    functions: Vec<Value>,
}

/// What the assistant prompt says: the functions per sub-task and whether parallel calls
/// are allowed.
fn assistant_setup(system: &str) -> (Vec<Group>, bool) {
    let groups = parse::tag(system, "functions")
        .and_then(|t| serde_json::from_str::<Vec<Value>>(t.trim()).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|g| Group {
            sub_task: g.get("sub_task").and_then(Value::as_str).unwrap_or("").to_string(),
            functions: g.get("functions").and_then(Value::as_array).cloned().unwrap_or_default(),
        })
        .collect();
    let parallel = parse::tag(system, "parallel").is_some_and(|p| p.trim().eq_ignore_ascii_case("on"));
    (groups, parallel)
}

/// The calls made so far and what each returned, in order.
#[derive(Default)]
struct Done {
    calls: Vec<(String, Value)>,
    results: Vec<Value>,
}

impl Done {
    fn read(convo: &[ChatMessage]) -> Done {
        let mut d = Done::default();
        for m in convo {
            if m.role == "assistant"
                && let Some(body) = parse::tag(&m.content, "func_call")
                && let Ok(Value::Array(calls)) = parse::first_json(body)
            {
                for c in calls {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("").to_string();
                    d.calls.push((name, c.get("arguments").cloned().unwrap_or(Value::Null)));
                }
            }
            if m.role == "user"
                && let Some(body) = parse::tag(&m.content, "func_return")
                && let Ok(Value::Array(returns)) = parse::first_json(body)
            {
                d.results.extend(returns);
            }
        }
        d
    }

    fn called(&self, name: &str) -> bool {
        self.calls.iter().any(|(n, _)| n == name)
    }

    /// What the function `name` returned, if it was called.
    fn result(&self, name: &str) -> Option<&Value> {
        self.results.iter().find(|r| r.get("name").and_then(Value::as_str) == Some(name)).and_then(|r| r.get("results"))
    }
}

fn assistant_agent(messages: &[ChatMessage], rng: &mut Rng) -> String {
    let system = messages.first().map_or("", |m| m.content.as_str());
    let (groups, parallel) = assistant_setup(system);
    let convo = &messages[1.min(messages.len())..];
    let user_text: String = convo
        .iter()
        .filter(|m| m.role == "user" && !m.content.contains("<func_return>"))
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let done = Done::read(convo);
    let assistant_turns = convo.iter().filter(|m| m.role == "assistant").count();
    let pending: Vec<(usize, &Value)> = groups
        .iter()
        .enumerate()
        .flat_map(|(i, g)| g.functions.iter().map(move |f| (i, f)))
        .filter(|(_, f)| f.get("name").and_then(Value::as_str).is_some_and(|n| !done.called(n)))
        .collect();
    if assistant_turns == 0 && rng.chance(0.05) {
        return "<observation>The user wants several things done, with the details in one message.</observation>\n<thought>Before I book anything I want the user to confirm the details.</thought>\nShould I go ahead with exactly the details you gave?".into();
    }
    if pending.is_empty() {
        let answer = world::final_answer(&groups_functions(&groups), &user_text, |n| done.result(n).cloned());
        return format!(
            "<observation>Every call has returned.</observation>\n<thought>I have what the user asked for and can answer.</thought>\n<final>{answer}</final>"
        );
    }
    // The first two groups are independent in a parallel-then-sequential task.
    let first_group = pending[0].0;
    let take: Vec<&(usize, &Value)> =
        if parallel && groups.len() == 3 && done.calls.is_empty() && pending.iter().any(|(g, _)| *g == 1) {
            pending.iter().filter(|(g, _)| *g <= 1).collect()
        } else {
            pending.iter().filter(|(g, _)| *g == first_group).take(1).collect()
        };
    let calls: Vec<Value> =
        take.iter().map(|(g, f)| make_call(f, &groups[*g].sub_task, &user_text, &done, rng)).collect();
    let thought = if assistant_turns == 0 {
        let steps: Vec<String> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let how = g.functions.first().and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or("myself");
                format!("{}. {} ({how})", i + 1, g.sub_task.trim_end_matches('.'))
            })
            .collect();
        format!("My plan: {}.", steps.join("; "))
    } else {
        let names: Vec<&str> = calls.iter().filter_map(|c| c["name"].as_str()).collect();
        format!("The results give me what {} needs.", names.join(" and "))
    };
    let observation = if done.results.is_empty() {
        "The user has given every detail the task needs."
    } else {
        "The last call returned its results."
    };
    format!(
        "<observation>{observation}</observation>\n<thought>{thought}</thought>\n<func_call>{}</func_call>",
        Value::Array(calls)
    )
}

fn groups_functions(groups: &[Group]) -> Vec<String> {
    groups
        .iter()
        .flat_map(|g| g.functions.iter().filter_map(|f| f.get("name").and_then(Value::as_str).map(String::from)))
        .collect()
}

/// A call whose arguments come from its sub-task's words (the values the user gave), or
/// from an earlier result: an id, picked by the superlative the sub-task uses.
fn make_call(f: &Value, sub_task: &str, user_text: &str, done: &Done, rng: &mut Rng) -> Value {
    let name = f.get("name").and_then(Value::as_str).unwrap_or("");
    let props = f.get("parameters").and_then(Value::as_object).cloned().unwrap_or_default();
    let local = Facts::read(sub_task, rng);
    let whole = Facts::read(user_text, rng);
    let mut args = Map::new();
    for p in props.keys() {
        let v = if let Some(v) = from_results(p, sub_task, done) {
            Some(v)
        } else {
            world::argument(name, p, &local).or_else(|| world::argument(name, p, &whole))
        };
        // Nothing in the task says it: the argument is left out rather than made up (lint
        // then names the missing required parameter).
        if let Some(v) = v {
            args.insert(p.clone(), v);
        }
    }
    json!({"name": name, "arguments": args})
}

/// An id (or a branch, a class time) from an earlier result: from a list, the item the
/// sub-task's superlative picks.
fn from_results(param: &str, sub_task: &str, done: &Done) -> Option<Value> {
    // Only references come from results; a person's name, a city or a title comes from
    // the user's words (a restaurant's "name" is not the name to book under).
    if !(param.ends_with("_id") || param == "branch") {
        return None;
    }
    let pick = Pick::of(sub_task);
    for r in done.results.iter().rev() {
        let Some(results) = r.get("results") else { continue };
        if let Some(v) = results.get(param).filter(|v| v.is_string()) {
            return Some(v.clone());
        }
        for list in results.as_object().into_iter().flat_map(|o| o.values()).filter_map(Value::as_array) {
            if list.iter().any(|i| i.get(param).is_some())
                && let Some(item) = pick.choose(list)
            {
                return item.get(param).cloned();
            }
        }
    }
    None
}

fn tool_agent(prompt: &str, structured: bool, rng: &mut Rng) -> String {
    let function = parse::tag(prompt, "function")
        .and_then(|t| serde_json::from_str::<Value>(t.trim()).ok())
        .unwrap_or(Value::Null);
    let call =
        parse::tag(prompt, "call").and_then(|t| serde_json::from_str::<Value>(t.trim()).ok()).unwrap_or(Value::Null);
    let conversation = prompt.split_once("Conversation so far:").map_or("", |(_, c)| c);
    let earlier: Vec<Value> = conversation
        .lines()
        .filter_map(|l| l.strip_prefix("tool: "))
        .filter_map(|l| serde_json::from_str::<Vec<Value>>(l).ok())
        .flatten()
        .collect();
    let name = call.get("name").and_then(Value::as_str).unwrap_or("");
    let args = call.get("arguments").cloned().unwrap_or(Value::Null);
    let result = world::result(name, &args, &earlier, rng).unwrap_or_else(|| generic_result(&function, &args, rng));
    if structured {
        return result.to_string();
    }
    format!("<func_return>{result}</func_return>")
}

/// A result for a function the simulator does not know (one written by hand): each field of
/// its `responses`, a value of its type.
fn generic_result(function: &Value, args: &Value, rng: &mut Rng) -> Value {
    let mut out = Map::new();
    if let Some(resp) = function.get("responses").and_then(Value::as_object) {
        for (k, schema) in resp {
            let ty = schema.get("type").and_then(Value::as_str).unwrap_or("string");
            let v = match ty {
                "number" => json!(rng.between(10, 500)),
                "integer" => json!(rng.between(1, 9)),
                "boolean" => json!(true),
                "array" => json!([]),
                "object" => json!({}),
                _ if k.ends_with("_id") || k.contains("code") => json!(format!("REF-{:05}", rng.below(100_000))),
                _ => {
                    args.as_object().and_then(|a| a.values().find(|v| v.is_string()).cloned()).unwrap_or(json!("done"))
                }
            };
            out.insert(k.clone(), v);
        }
    }
    if out.is_empty() {
        out.insert("status".into(), json!("done"));
    }
    Value::Object(out)
}
