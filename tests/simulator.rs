//! The offline simulator's data is the first a new user sees: these properties are checked
//! over 500 simulated samples, not on hand-picked ones. The checks read the samples as a
//! reviewer would (the dialogue's words and results), with their own rules, not the
//! simulator's code.

use std::collections::BTreeMap;
use std::path::Path;

use button::backend::Backend;
use button::domain::Step;
use button::llm::ChatMessage;
use button::model::{Message, Sample};
use button::pipeline::{self, RunConfig};
use button::prompts::Prompts;
use button::sim::Simulator;
use button::store::{StatusFilter, Store};
use serde_json::{Value, json};

const N: usize = 500;

fn samples(ws: &Path, seed: u64, n: usize) -> Vec<Sample> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let cfg = RunConfig { samples: n, seed, ..RunConfig::default() };
        let backend = Backend::Sim(Simulator { seed, malformed_rate: 0.02 });
        let p = pipeline::start(ws, backend, Prompts::load(None).unwrap(), cfg, button::sources::builtin()).unwrap();
        button::headless::drive(p, n).await.unwrap();
    });
    let store = Store::open(ws, false).unwrap();
    let mut ids = Vec::new();
    store.list(StatusFilter::All, |r| ids.push(r.id.clone())).unwrap();
    ids.sort();
    ids.iter().map(|id| store.sample(id).unwrap().sample).collect()
}

/// Real-world units per US dollar, with room for a day's move.
const RATES: &[(&str, f64, f64)] = &[
    ("EUR", 0.85, 1.0),
    ("JPY", 135.0, 165.0),
    ("CAD", 1.25, 1.5),
    ("GBP", 0.7, 0.9),
    ("AUD", 1.4, 1.7),
    ("CHF", 0.8, 0.95),
    ("MXN", 15.0, 20.0),
    ("SEK", 9.5, 12.0),
];

fn user_text(messages: &[Message]) -> String {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::User { content } => Some(content.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each call with the result it got, in dialogue order.
fn calls_and_results(messages: &[Message]) -> Vec<(String, Value, Value)> {
    let mut out = Vec::new();
    for m in messages {
        if let Message::Tool { results } = m {
            for r in results {
                out.push((r.name.clone(), r.arguments.clone().into(), r.results.clone().into()));
            }
        }
    }
    out
}

/// The first list of objects in a result.
fn list_in(v: &Value) -> Option<&Vec<Value>> {
    v.as_object()?.values().find_map(|x| x.as_array().filter(|a| a.iter().all(Value::is_object) && !a.is_empty()))
}

fn key_with<'a>(item: &'a Value, part: &str) -> Option<&'a Value> {
    item.as_object()?.iter().find(|(k, _)| k.contains(part)).map(|(_, v)| v)
}

/// The id the superlative of `task` picks from `list`, by the reviewer's reading.
fn expected_pick(task: &str, list: &[Value]) -> Option<String> {
    let t = task.to_lowercase();
    let id_of =
        |i: &Value| i.as_object().and_then(|o| o.iter().find(|(k, _)| k.ends_with("_id"))).map(|(_, v)| v.to_string());
    let by = |part: &str| list.iter().filter_map(|i| key_with(i, part).map(|v| (v.clone(), i))).collect::<Vec<_>>();
    if t.contains("cheapest") {
        let v = by("price");
        v.iter().min_by(|a, b| a.0.as_f64().partial_cmp(&b.0.as_f64()).unwrap()).and_then(|(_, i)| id_of(i))
    } else if t.contains("earliest") {
        let v = by("time");
        v.iter().min_by_key(|a| a.0.as_str().unwrap().to_string()).and_then(|(_, i)| id_of(i))
    } else if t.contains("best-rated") {
        let v = by("rating");
        v.iter().max_by(|a, b| a.0.as_f64().partial_cmp(&b.0.as_f64()).unwrap()).and_then(|(_, i)| id_of(i))
    } else {
        None
    }
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn five_hundred_simulated_samples_are_coherent() {
    let dir = tempfile::tempdir().unwrap();
    let all = samples(dir.path(), 11, N);
    assert_eq!(all.len(), N);
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    let mut complete = 0;
    for s in &all {
        let id = &s.id;
        let composition = s.composition.as_ref().map(|c| c.task.clone()).unwrap_or_default();
        // Nothing of a prompt's placeholders or its few-shot example reaches a sample.
        let text = serde_json::to_string(s).unwrap();
        for bad in ["<the ", "Great Gatsby", "this author", "{{", "a complete answer built from"] {
            assert!(!text.contains(bad), "{id}: holds {bad:?}");
        }
        // Tasks stay in their scenario's domain.
        if let (Some(scenario), Some(f)) = (&s.scenario, s.functions.first().and_then(|g| g.functions.first())) {
            let d = button::sim::domain_of(scenario).id;
            let fd = button::sim::domain_of_function(&f.name).map(|d| d.id);
            assert_eq!(Some(d), fd, "{id}: the scenario {scenario:?} got the function {}", f.name);
            *checked.entry("domain").or_default() += 1;
        }
        // The filter's verdict names its reason, and depends on what the task asks.
        if let (Some(filter), Some(c)) = (&s.filter, &s.composition) {
            let covered = |w: &str| c.sub_tasks.iter().any(|t| t.to_lowercase().contains(&w.to_lowercase()));
            // Three words in a row of the task that no sub-task holds: what a "no" must name.
            let words: Vec<String> = c
                .task
                .split(|ch: char| !ch.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            let subs = c.sub_tasks.join(" ").to_lowercase();
            let uncovered: Vec<String> =
                words.windows(3).map(|w| w.join(" ")).filter(|p| !subs.contains(p.as_str())).collect();
            if filter.passed {
                // Every name and place of the task is in a sub-task.
                for w in c
                    .task
                    .split(|ch: char| !ch.is_alphanumeric())
                    .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
                {
                    if !["Book", "Find", "Send", "Buy", "Put", "Sign", "Reserve", "See", "USD", "I"].contains(&w)
                        && w.len() > 1
                    {
                        assert!(covered(w), "{id}: passed, but {w:?} of {:?} is in no sub-task", c.task);
                    }
                }
            } else {
                let analysis = filter.analysis.to_lowercase();
                assert!(
                    uncovered.iter().any(|p| analysis.contains(p.as_str()) && !p.contains("tell me")),
                    "{id}: \"no\" without naming what is uncovered: {}",
                    filter.analysis
                );
            }
            *checked.entry("filter").or_default() += 1;
        }
        let Some(t) = &s.trajectory else { continue };
        if s.failure.is_some() {
            continue;
        }
        complete += 1;
        let user = user_text(&t.messages);
        let calls = calls_and_results(&t.messages);
        assert!(calls.len() >= 2, "{id}: {} calls", calls.len());
        // Every function is called before the final answer.
        for f in &t.tools {
            assert!(calls.iter().any(|(n, _, _)| *n == f.name), "{id}: {} is never called", f.name);
        }
        let mut earlier = String::new();
        for (k, (name, args, result)) in calls.iter().enumerate() {
            // Arguments come from the user's words or from earlier results, never from a
            // function's name.
            let mut values = Vec::new();
            strings(args, &mut values);
            for v in values {
                assert!(
                    user.to_lowercase().contains(&v.to_lowercase()) || earlier.contains(&v),
                    "{id}: {name} argument {v:?} is in neither the task nor an earlier result"
                );
                assert!(!t.tools.iter().any(|f| f.name == v), "{id}: an argument is a function's name");
            }
            // A superlative picks the right item from the list before.
            if let Some((pname, pargs)) = args
                .as_object()
                .and_then(|o| o.iter().find(|(p, _)| p.ends_with("_id")))
                .map(|(p, v)| (p.clone(), v.to_string()))
            {
                let list = calls[..k]
                    .iter()
                    .find_map(|(_, _, r)| list_in(r).filter(|l| l.iter().any(|i| i.get(&pname).is_some())));
                if let Some(list) = list
                    && let Some(want) = expected_pick(&composition, list)
                {
                    assert_eq!(pargs, want, "{id}: {name} got {pname} {pargs}, the task {composition:?} picks {want}");
                    *checked.entry("superlative").or_default() += 1;
                }
            }
            // Numbers fit their unit; totals follow from prices.
            if let Some(h) = result.get("high_c").and_then(Value::as_f64) {
                let l = result["low_c"].as_f64().unwrap();
                assert!((-50.0..=60.0).contains(&h) && (-50.0..=h).contains(&l), "{id}: {h} / {l} °C");
                *checked.entry("temperature").or_default() += 1;
            }
            if name == "get_exchange_rate" {
                let cur = args["target"].as_str().unwrap();
                let (_, lo, hi) = RATES.iter().find(|r| r.0 == cur).unwrap();
                let rate = result["rate"].as_f64().unwrap();
                assert!((*lo..=*hi).contains(&rate), "{id}: USD to {cur} at {rate}");
                *checked.entry("rate").or_default() += 1;
            }
            let item = |key: &str| {
                let idv = args.get(key)?;
                calls[..k]
                    .iter()
                    .filter_map(|(_, _, r)| list_in(r))
                    .flatten()
                    .find(|i| i.get(key) == Some(idv))
                    .cloned()
            };
            let total = result.get("total_price_usd").or(result.get("total_usd")).and_then(Value::as_f64);
            let expect = match name.as_str() {
                "book_flight" => item("flight_id").and_then(|i| i["price_usd"].as_f64()),
                "place_order" => item("product_id").and_then(|i| i["price_usd"].as_f64()),
                "book_hotel" => item("hotel_id")
                    .and_then(|i| i["price_per_night_usd"].as_f64())
                    .map(|p| p * args["nights"].as_f64().unwrap()),
                "buy_tickets" => item("event_id")
                    .and_then(|i| i["price_usd"].as_f64())
                    .map(|p| p * args["quantity"].as_f64().unwrap()),
                _ => None,
            };
            if let Some(e) = expect {
                assert_eq!(total, Some(e), "{id}: {name} charged {total:?} for {e}");
                *checked.entry("total").or_default() += 1;
            }
            if name == "send_money" {
                let rate =
                    calls.iter().find(|c| c.0 == "get_exchange_rate").map(|c| c.2["rate"].as_f64().unwrap()).unwrap();
                let got = result["amount_received"].as_f64().unwrap();
                assert!((got - args["amount_usd"].as_f64().unwrap() * rate).abs() < 0.01, "{id}: {got}");
                *checked.entry("total").or_default() += 1;
            }
            earlier.push_str(&result.to_string());
        }
        // The final answer answers in sentences, with what the calls returned.
        let Some(Message::Assistant { final_answer: Some(answer), .. }) = t.messages.last() else {
            panic!("{id}: no final answer last")
        };
        assert!(answer.ends_with('.') && answer.len() > 60 && !answer.contains('?'), "{id}: {answer:?}");
        assert!(!answer.contains(" gave ") && !answer.contains('_'), "{id}: lists fields: {answer:?}");
        let (last_name, _, last) = calls
            .iter()
            .rev()
            .find(|(n, _, _)| t.tools.iter().position(|f| f.name == *n) == Some(t.tools.len() - 1))
            .unwrap();
        let mut refs = Vec::new();
        strings(last, &mut refs);
        let reference =
            refs.iter().find(|r| r.contains('-')).unwrap_or_else(|| panic!("{id}: {last_name} returned no reference"));
        assert!(answer.contains(reference.as_str()), "{id}: the answer does not give {reference}: {answer}");
    }
    assert!(complete >= 450, "{complete} of {N} complete");
    for (what, min) in
        [("domain", 440), ("filter", 480), ("superlative", 400), ("temperature", 30), ("rate", 15), ("total", 90)]
    {
        assert!(
            checked.get(what).copied().unwrap_or(0) >= min,
            "{what} checked only {:?} times: {checked:?}",
            checked.get(what)
        );
    }
    // With the default mix of 0.5, any 20 consecutive samples hold 6 to 14
    // parallel-then-sequential compositions.
    let parallel: Vec<bool> = all
        .iter()
        .map(|s| s.composition.as_ref().is_some_and(|c| c.strategy == button::model::Strategy::ParallelThenSequential))
        .collect();
    for (i, w) in parallel.windows(20).enumerate() {
        let n = w.iter().filter(|p| **p).count();
        assert!((6..=14).contains(&n), "samples {i}..{}: {n} parallel-then-sequential", i + 20);
    }
}

#[test]
fn the_filter_verdict_follows_the_task_not_its_names() {
    let sim = Simulator { seed: 0, malformed_rate: 0.0 };
    let prompts = Prompts::load(None).unwrap();
    let ask = |composition: &str, subs: &[&str]| {
        let prompt =
            prompts.render(Step::CompositionFilter, &json!({"composition": composition, "sub_tasks": subs})).unwrap();
        let reply = sim.reply(Step::CompositionFilter, "s", Some(1), &[ChatMessage::new("user", prompt)], false);
        button::parse::composition_filter(&reply).unwrap()
    };
    let subs = [
        "Find the cheapest flight from Lisbon to Osaka on 3 May.",
        "Book the cheapest of those flights for Ana Souza.",
    ];
    let task = "Find the cheapest flight from Lisbon to Osaka on 3 May and book it for Ana Souza.";
    for city in ["Osaka", "Hanoi", "Perth", "Bergen"] {
        let subs: Vec<String> = subs.iter().map(|s| s.replace("Osaka", city)).collect();
        let subs: Vec<&str> = subs.iter().map(String::as_str).collect();
        assert!(ask(&task.replace("Osaka", city), &subs).0, "{city} flipped the verdict");
        let (passed, analysis) =
            ask(&task.replace("Osaka", city).replace('.', ", and also rent me a car for the weekend."), &subs);
        assert!(!passed && analysis.contains("rent me a car"), "{analysis}");
    }
}

#[test]
fn the_same_seed_gives_the_same_dataset() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let strip = |v: Vec<Sample>| v.into_iter().map(|s| serde_json::to_string(&s).unwrap()).collect::<Vec<_>>();
    let x = strip(samples(a.path(), 5, 40));
    let y = strip(samples(b.path(), 5, 40));
    assert_eq!(x, y);
    let c = tempfile::tempdir().unwrap();
    assert_ne!(x, strip(samples(c.path(), 6, 40)), "another seed, another dataset");
}
