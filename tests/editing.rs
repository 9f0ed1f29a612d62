//! Editing on the simulator: an upstream edit makes the later parts stale and `g`'s job
//! makes them again, keeping the previous version; a dialogue fork continues from an edited
//! turn without touching the sample; a step asked again with an edited template.

use std::path::Path;

use button::backend::Backend;
use button::model::Message;
use button::pipeline::{self, Job, RunConfig};
use button::prompts::Prompts;
use button::sim::Simulator;
use button::store::{StatusFilter, Store};
use serde_json::json;

fn sim() -> Backend {
    Backend::Sim(Simulator { seed: 4, malformed_rate: 0.0 })
}

fn cfg() -> RunConfig {
    RunConfig { samples: 4, seed: 4, active_samples: 1, ..RunConfig::default() }
}

fn generate(ws: &Path) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let p = pipeline::start(ws, sim(), Prompts::load(None).unwrap(), cfg(), button::sources::builtin()).unwrap();
        p.wait().await.unwrap();
    });
    let store = Store::open(ws, false).unwrap();
    let mut complete = Vec::new();
    store
        .list(StatusFilter::All, |r| {
            if r.summary.stage.is_complete() {
                complete.push(r.id);
            }
        })
        .unwrap();
    complete.remove(0)
}

fn jobs(ws: &Path, jobs: Vec<Job>) -> pipeline::RunSummary {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let p = pipeline::start_jobs(ws, sim(), Prompts::load(Some(ws)).unwrap(), cfg(), jobs).unwrap();
        p.wait().await.unwrap()
    })
}

#[test]
fn an_upstream_edit_makes_later_parts_stale_and_regenerating_remakes_them() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    let id = generate(ws);
    let mut store = Store::open(ws, false).unwrap();
    let before = store.sample(&id).unwrap().sample;
    assert_eq!(store.row(&id).unwrap().summary.stale.ids(), "");
    let task = "Find a vegan restaurant in Lyon and book a table for two at 8pm.";
    store.edit_field(&id, "/composition/task", json!(task)).unwrap();
    assert_eq!(store.row(&id).unwrap().summary.stale.ids(), "filter functions trajectory");
    // Nothing stale: the job says so and changes nothing.
    let other = {
        let mut v = Vec::new();
        store
            .list(StatusFilter::All, |r| {
                if r.id != id {
                    v.push(r.id);
                }
            })
            .unwrap();
        v.remove(0)
    };
    drop(store);

    let s = jobs(ws, vec![Job::Regenerate(id.clone()), Job::Regenerate(other.clone())]);
    assert_eq!(s.started, 2);
    assert_eq!(s.failures.get("regenerate:not_stale"), Some(&1), "{s:?}");

    let store = Store::open(ws, false).unwrap();
    let row = store.row(&id).unwrap();
    assert_eq!(row.summary.stale.ids(), "", "made again, so no longer stale");
    let after = store.sample(&id).unwrap().sample;
    assert_eq!(after.composition.as_ref().unwrap().task, task);
    assert_eq!(after.edits.len(), 1, "the edit that caused it is kept");
    assert!(after.edits[0].regenerated);
    assert_eq!(after.atomic_task, before.atomic_task, "parts before the edit are untouched");
    // The filter was asked again about the edited task.
    let calls = store.calls_for(&id).unwrap();
    assert!(calls.iter().any(|c| c.step == "composition_filter" && c.prompt.contains("vegan restaurant in Lyon")));
    // The version it replaced is kept, to compare.
    let versions = store.versions(&id).unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].2, "previous");
    assert_eq!(versions[0].3.trajectory, before.trajectory);
    assert!(store.versions(&other).unwrap().is_empty());
}

#[test]
fn a_fork_continues_the_dialogue_from_an_edited_turn_and_leaves_the_sample_alone() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    let id = generate(ws);
    let before = Store::open(ws, false).unwrap().sample(&id).unwrap().sample;
    let opening = "Book the cheapest flight from Lisbon to Perth on 3 May for Lea Martin, please.";
    let s =
        jobs(ws, vec![Job::Fork { sample: id.clone(), turn: 0, message: Message::User { content: opening.into() } }]);
    assert_eq!(s.complete, 1, "{s:?}");
    let store = Store::open(ws, false).unwrap();
    assert_eq!(store.sample(&id).unwrap().sample, before, "the sample is untouched until a branch is kept");
    let versions = store.versions(&id).unwrap();
    assert_eq!(versions[0].2, "fork");
    let t = versions[0].3.trajectory.as_ref().unwrap();
    assert_eq!(t.messages[0], Message::User { content: opening.into() });
    assert!(matches!(t.messages.last(), Some(Message::Assistant { final_answer: Some(_), .. })));
    // The assistant was asked with the edited opening.
    let calls = store.calls_for(&id).unwrap();
    assert!(calls.iter().any(|c| c.step == "assistant_agent" && c.prompt.contains("Lisbon to Perth")));
}

#[test]
fn a_step_asked_again_with_an_edited_template_records_the_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    let id = generate(ws);
    let store = Store::open(ws, false).unwrap();
    let old = store.calls_for(&id).unwrap().into_iter().find(|c| c.step == "atomic_task").unwrap();
    assert!(old.context.is_some(), "every templated call keeps its variables");
    std::fs::create_dir_all(ws.join("prompts")).unwrap();
    let default = std::fs::read_to_string("prompts/atomic_task.jinja").unwrap();
    std::fs::write(ws.join("prompts/atomic_task.jinja"), format!("Be brief. EDITED MARK\n{default}")).unwrap();
    let prompts = Prompts::load(Some(ws)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let new = rt
        .block_on(pipeline::rerun_call(&sim(), &prompts, &old, &tokio_util::sync::CancellationToken::default()))
        .unwrap();
    assert!(new.prompt.contains("EDITED MARK"));
    assert_ne!(new.template_version, old.template_version);
    assert_eq!(new.parse_ok, Some(true), "{:?}", new.parse_result);
    assert_eq!(new.sample_id, id);
    // A call recorded before contexts were kept cannot be asked again, and says why.
    let mut blind = old.clone();
    blind.context = None;
    let e = rt
        .block_on(pipeline::rerun_call(&sim(), &prompts, &blind, &tokio_util::sync::CancellationToken::default()))
        .unwrap_err();
    assert!(e.contains("without its template variables"), "{e}");
}

#[test]
fn a_failed_sample_retried_is_made_again_from_where_it_failed_keeping_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    // A server whose every reply is unusable: samples fail, some part way.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bad = Backend::Sim(Simulator { seed: 4, malformed_rate: 0.6 });
    let cfg = RunConfig { samples: 8, ..cfg() };
    rt.block_on(async {
        let p =
            pipeline::start(ws, bad, Prompts::load(None).unwrap(), cfg.clone(), button::sources::builtin()).unwrap();
        p.wait().await.unwrap();
    });
    let store = Store::open(ws, false).unwrap();
    let failed: Vec<String> = store.failed_ids().unwrap();
    // One that got past its atomic task: what came before its failure must survive.
    let id = failed
        .iter()
        .find(|id| store.sample(id).unwrap().sample.atomic_task.is_some())
        .expect("a sample failed after its atomic task")
        .clone();
    let before = store.sample(&id).unwrap().sample;
    let at = button::domain::Part::of_failure(&before.failure.as_ref().unwrap().stage).unwrap();
    drop(store);

    let s = rt.block_on(async {
        let p =
            pipeline::start_jobs(ws, sim(), Prompts::load(None).unwrap(), cfg, vec![Job::Retry(id.clone())]).unwrap();
        p.wait().await.unwrap()
    });
    assert_eq!((s.started, s.complete, s.failed), (1, 1, 0), "{s:?}");
    let store = Store::open(ws, false).unwrap();
    let after = store.sample(&id).unwrap().sample;
    assert!(after.failure.is_none() && after.trajectory.is_some(), "retried to the end");
    assert_eq!(after.scenario, before.scenario);
    if at > button::domain::Part::AtomicTask {
        assert_eq!(after.atomic_task, before.atomic_task, "the parts before {at} are kept");
    }
    let versions = store.versions(&id).unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].2, "failed");
    assert_eq!(versions[0].3.failure, before.failure, "the failed attempt is kept as it was");
    // The other failed samples were not touched.
    for other in failed.iter().filter(|o| **o != id) {
        assert!(store.sample(other).unwrap().sample.failure.is_some());
    }
    // Retrying a sample that has not failed changes nothing.
    drop(store);
    let s = jobs(ws, vec![Job::Retry(id.clone())]);
    assert_eq!(s.failed, 1);
    assert_eq!(Store::open(ws, false).unwrap().sample(&id).unwrap().sample, after);
}
