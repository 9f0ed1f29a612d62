//! How many replies of the JSON steps (`function_generate`, `tool_agent`) parse, asked of a
//! real endpoint with and without structured outputs. A small model rarely gets a sample as
//! far as these steps, so they are asked here directly, with the inputs of simulated samples
//! (their compositions, and the first call of their dialogues), rendered by the real
//! templates and parsed by the real parsers. A reply that fails is asked again as the
//! pipeline does (`reasks = 2`: first with the reply and what was wrong, then afresh), and
//! both counts are printed. Used by benches/yield.sh.
//!
//!     cargo run --release --example json_steps -- ENDPOINT MODEL N on|off
//!     cargo run --release --example json_steps -- replay FILE
//!
//! `JSON_STEPS_PROMPTS=DIR` asks with the templates in DIR/prompts/ where there are any (a
//! workspace's overrides), `JSON_STEPS_ONLY=STEP` asks one step alone.
//!
//! `replay` reads the replies a run kept (`JSON_STEPS_REPLIES=FILE`) with today's parsers,
//! so a parser change is judged on the same replies.

use std::collections::BTreeMap;
use std::sync::Arc;

use button::domain::Step;
use button::formats::button::message_text;
use button::llm::http::{Client, ClientConfig, Endpoint};
use button::llm::{ChatMessage, ChatRequest};
use button::model::Message;
use button::pipeline::{self, RunConfig};
use button::prompts::Prompts;
use button::sim::Simulator;
use button::store::{StatusFilter, Store};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, replay, file] = &args[..]
        && replay == "replay"
    {
        return replay_file(file);
    }
    let [_, endpoint, model, n, structured] = &args[..] else {
        eprintln!("usage: json_steps ENDPOINT MODEL N on|off, or json_steps replay FILE");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let structured = structured == "on";
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // One template's wording against another's, on the same inputs (module doc).
    let prompts_dir = std::env::var_os("JSON_STEPS_PROMPTS").map(std::path::PathBuf::from);
    let prompts = Prompts::load(prompts_dir.as_deref()).unwrap();
    let only = std::env::var("JSON_STEPS_ONLY").ok();
    // The inputs: simulated samples.
    rt.block_on(async {
        let cfg = RunConfig { samples: n, seed: 21, ..RunConfig::default() };
        let backend = button::backend::Backend::Sim(Simulator { seed: 21, malformed_rate: 0.0 });
        let p = pipeline::start(dir.path(), backend, Prompts::load(None).unwrap(), cfg, button::sources::builtin())
            .unwrap();
        p.wait().await.unwrap();
    });
    let store = Store::open(dir.path(), false).unwrap();
    let mut ids = Vec::new();
    store.list(StatusFilter::All, |r| ids.push(r.id.clone())).unwrap();
    let mut asks: Vec<(Step, String, Value)> = Vec::new();
    for id in ids.iter().take(n) {
        let s = store.sample(id).unwrap().sample;
        let (Some(c), Some(t)) = (&s.composition, &s.trajectory) else { continue };
        asks.push((Step::FunctionGenerate, id.clone(), json!({"composition": c.task, "sub_tasks": c.sub_tasks})));
        let first_call = t.messages.iter().find_map(|m| match m {
            Message::Assistant { calls, .. } => calls.first().cloned(),
            _ => None,
        });
        if let Some(call) = first_call
            && let Some(f) = t.tools.iter().find(|f| f.name == call.name)
        {
            let transcript = format!("user: {}", message_text(&t.messages[0]));
            asks.push((
                Step::ToolAgent,
                id.clone(),
                json!({"function": serde_json::to_string_pretty(&f.to_flat_value()).unwrap(),
                       "call": json!({"name": call.name, "arguments": call.arguments}).to_string(),
                       "conversation": transcript}),
            ));
        }
    }
    let client = Arc::new(
        Client::new(ClientConfig {
            endpoints: vec![Endpoint { url: endpoint.clone(), weight: 1 }],
            model: model.clone(),
            concurrency: 2,
            stream: false,
            ..ClientConfig::default()
        })
        .unwrap(),
    );
    asks.retain(|(step, _, _)| only.as_deref().is_none_or(|o| step.id() == o));
    if asks.is_empty() {
        eprintln!(
            "JSON_STEPS_ONLY={}: no such step among the asks (function_generate, tool_agent)",
            only.unwrap_or_default()
        );
        std::process::exit(2);
    }
    let results = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (k, (step, sample, ctx)) in asks.into_iter().enumerate() {
            let client = client.clone();
            let prompt = prompts.render(step, &ctx).unwrap();
            tasks.spawn(async move {
                let req = ChatRequest {
                    step,
                    sample_id: sample,
                    messages: vec![ChatMessage::new("user", prompt)],
                    response_format: if structured { button::parse::reply_format(step, Some(&ctx)) } else { None },
                    seed: Some(k as u64),
                    max_tokens: Some(step.default_max_tokens()),
                };
                let ask = |req: ChatRequest, attempt: u32| {
                    let client = client.clone();
                    let ctx = ctx.clone();
                    async move {
                        let reply = client.complete(&req, &CancellationToken::new(), &|_| {}).await;
                        let parsed = match &reply {
                            Ok(r) => button::parse::by_step(step, &r.content, &ctx).map(|_| ()).map_err(|e| {
                                // What each failure was, for the reader of the benchmark's log.
                                let tail: String =
                                    r.content.chars().rev().take(120).collect::<Vec<_>>().into_iter().rev().collect();
                                eprintln!(
                                    "{step} {k} (re-ask {attempt}): {}: {} (reply ends {tail:?})",
                                    e.reason, e.detail
                                );
                                Ok(e)
                            }),
                            Err(e) => Err(Err(format!("llm_{}", e.reason()))),
                        };
                        (parsed, reply)
                    }
                };
                let (parsed, reply) = ask(req.clone(), 0).await;
                // Ok, or why not: the parser's reason, or the call's error.
                let first = parsed.clone().map_err(|e| e.map_or_else(|llm| llm, |e| e.reason.to_string()));
                // Then as the pipeline goes on (`reasks = 2`): the first re-ask shows the
                // model its reply and what was wrong, the second asks afresh.
                let mut rescued = first.is_ok();
                if let (Err(Ok(e)), Ok(r)) = (&parsed, &reply) {
                    for reask in 1..=2 {
                        let mut again = req.clone();
                        again.seed = Some(1000 * u64::from(reask) + k as u64);
                        again.messages = pipeline::reask_messages(step, &req.messages, reask, Some((&r.content, e)));
                        rescued = ask(again, reask).await.0.is_ok();
                        if rescued {
                            break;
                        }
                    }
                }
                (step, first, rescued, reply.map(|r| r.content).ok(), ctx)
            });
        }
        let mut out = Vec::new();
        while let Some(r) = tasks.join_next().await {
            out.push(r.unwrap());
        }
        out
    });
    // JSON_STEPS_REPLIES=FILE keeps every reply (a JSON line each: step, why it failed, reply,
    // the step's inputs), so a parser change can be judged on the same replies again.
    if let Ok(path) = std::env::var("JSON_STEPS_REPLIES") {
        let lines: Vec<String> = results
            .iter()
            .map(|(step, parsed, _, reply, ctx)| {
                json!({"step": step.to_string(), "failed": parsed.clone().err(), "reply": reply, "context": ctx})
                    .to_string()
            })
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").expect("the replies file is writable");
    }
    let rows = results.into_iter().map(|(step, parsed, rescued, _, _)| (step, parsed, Some(rescued))).collect();
    summarize(rows, if structured { "on" } else { "off" });
}

/// Per step: how many replies parse (and of those that don't, how many are not even JSON:
/// `bad_json`; the rest are JSON that fails the step's checks), and how many parse within
/// the re-asks, when they were asked.
fn summarize(rows: Vec<(Step, Result<(), String>, Option<bool>)>, structured: &str) {
    let mut by_step: BTreeMap<Step, (usize, usize, usize, BTreeMap<String, usize>)> = BTreeMap::new();
    let reasked = rows.iter().all(|r| r.2.is_some());
    for (step, parsed, rescued) in rows {
        let e = by_step.entry(step).or_default();
        e.0 += 1;
        e.2 += usize::from(rescued.unwrap_or(false));
        match parsed {
            Ok(()) => e.1 += 1,
            Err(reason) => *e.3.entry(reason).or_default() += 1,
        }
    }
    let (mut all, mut ok, mut json, mut within) = (0, 0, 0, 0);
    for (step, (n, k, r, why)) in &by_step {
        all += n;
        ok += k;
        within += r;
        json += n - why
            .iter()
            .filter(|(r, _)| r.as_str() == "bad_json" || r.starts_with("llm_"))
            .map(|(_, c)| c)
            .sum::<usize>();
        let why: Vec<String> = why.iter().map(|(r, c)| format!("{c} {r}")).collect();
        println!(
            "  {step}: {k}/{n} replies parse{}{}",
            if why.is_empty() { String::new() } else { format!(" (failed: {})", why.join(", ")) },
            if reasked { format!("; {r}/{n} within 2 re-asks") } else { String::new() }
        );
    }
    let pct = |x: usize| 100.0 * x as f64 / all.max(1) as f64;
    println!(
        "  JSON steps, structured outputs {structured}: {ok}/{all} parse ({:.1}%); {json}/{all} are JSON ({:.1}%), {} of them failing the step's checks{}",
        pct(ok),
        pct(json),
        json - ok,
        if reasked { format!("; {within}/{all} within 2 re-asks ({:.1}%)", pct(within)) } else { String::new() }
    );
}

/// The replies a run kept, read again by today's parsers.
fn replay_file(path: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut rows = Vec::new();
    let mut changed = 0;
    let mut schema_fit: BTreeMap<Step, usize> = BTreeMap::new();
    for (k, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", k + 1));
        let step = Step::from_id(v["step"].as_str().unwrap_or_default())
            .unwrap_or_else(|| panic!("{path}:{}: no step named {}", k + 1, v["step"]));
        let before = v["failed"].as_str().map(str::to_string);
        let now = match v["reply"].as_str() {
            // The call itself failed: there is no reply to read again.
            None => Err(before.clone().unwrap_or_else(|| "llm_error".into())),
            Some(reply) => {
                button::parse::by_step(step, reply, &v["context"]).map(|_| ()).map_err(|e| e.reason.to_string())
            }
        };
        if now.as_ref().err() != before.as_ref() {
            changed += 1;
            println!(
                "  {path}:{}: {step}: {} -> {}",
                k + 1,
                before.as_deref().unwrap_or("parses"),
                now.as_ref().err().map_or("parses", String::as_str)
            );
        }
        // Whether the reply is JSON that the step's schema (the one a structured run sends)
        // allows: what a server that enforces the schema guarantees, before the step's checks.
        if let Some(reply) = v["reply"].as_str() {
            let fits = serde_json::from_str::<Value>(reply.trim())
                .is_ok_and(|r| button::parse::schema_errors(step, &v["context"], &r).is_empty());
            *schema_fit.entry(step).or_default() += usize::from(fits);
        }
        rows.push((step, now, None));
    }
    println!("  {changed} verdicts changed");
    for (step, k) in &schema_fit {
        println!("  {step}: {k} replies are JSON that its schema allows");
    }
    summarize(rows, "(as recorded)");
}
