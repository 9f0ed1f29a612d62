//! Whole runs: on the in-process simulator, over HTTP against sim-serve with faults, and
//! killed with SIGKILL then resumed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use button::backend::Backend;
use button::formats::Format;
use button::llm::http::{Client, ClientConfig, Endpoint};
use button::ops::{self, FormatChoice};
use button::pipeline::{self, RunConfig, RunSummary};
use button::prompts::Prompts;
use button::serve::{ServeConfig, serve};
use button::sim::Simulator;
use button::store::{StatusFilter, Store};
use tokio_util::sync::CancellationToken;

fn sim(seed: u64) -> Simulator {
    Simulator { seed, malformed_rate: 0.02 }
}

async fn run(ws: &Path, backend: Backend, samples: usize, seed: u64) -> RunSummary {
    let cfg = RunConfig { samples, seed, ..RunConfig::default() };
    let p = pipeline::start(ws, backend, Prompts::load(None).unwrap(), cfg, button::sources::builtin()).unwrap();
    button::headless::drive(p, samples).await.unwrap().0
}

mod common;
use common::outcome_counts;

async fn start_server(seed: u64, cfg: ServeConfig) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, sim(seed), cfg, stop.clone()));
    (url, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_run_reaches_its_target_and_its_export_lints_clean() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let s = run(&ws, Backend::Sim(sim(3)), 60, 3).await;
    assert_eq!(s.started, 60);
    assert_eq!(s.complete + s.failed, 60);
    assert!(s.complete >= 30, "{s:?}");
    let store = Store::open(&ws, false).unwrap();
    assert_eq!(store.sample_count().unwrap(), 60);
    // Every failure says where and why.
    store
        .list(StatusFilter::All, |r| {
            if r.summary.stage.is_failed() {
                let reason = r.summary.failure_reason.clone().unwrap();
                assert!(reason.contains(':') && !reason.ends_with(':'), "{reason}");
            }
        })
        .unwrap();
    // Every LLM call is recorded with its prompt, reply and template version.
    let calls: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM llm_calls WHERE prompt != '' AND template_version != '' AND raw_reply IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(calls as u64 == store.call_count().unwrap() && calls > 300, "{calls}");
    // ... and with its parse result: the parsed value, or why it could not be parsed.
    let (ok, bad): (i64, i64) = store
        .conn()
        .query_row(
            "SELECT sum(parse_ok = 1 AND parse_result IS NOT NULL), sum(parse_ok = 0 AND parse_result LIKE '%: %') FROM llm_calls",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(ok + bad, calls, "every call has its parse result");
    assert!(bad > 0, "the simulator's malformed replies show as parse failures");
    let composed: String = store
        .conn()
        .query_row(
            "SELECT parse_result FROM llm_calls WHERE step = 'compose_sequential' AND parse_ok = 1 LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(composed.contains("\"composition\""), "{composed}");

    let out = dir.path().join("out.jsonl");
    let written = ops::export(&store, Format::Button, &out, StatusFilter::All).unwrap().written;
    assert_eq!(written, s.complete);
    let (_, lint) = ops::lint_file(&out, FormatChoice::Auto, |_, _| Ok(())).unwrap();
    assert_eq!(lint.errors, 0, "{lint:?}");
    assert_eq!(lint.trajectories as usize, s.complete);
    drop(store);

    // The target is reached: the same run again does nothing.
    let again = run(&ws, Backend::Sim(sim(3)), 60, 3).await;
    assert_eq!((again.started, again.skipped_already_done), (0, 60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_with_faults_every_sample_ends_once_with_a_reason_as_offline() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        error_rates: vec![(429, 0.1), (500, 0.05)],
        truncate_rate: 0.05,
        retry_after_s: 0.02,
        ..ServeConfig::default()
    };
    let (url, stop) = start_server(9, cfg).await;
    let client = Client::new(ClientConfig {
        endpoints: vec![Endpoint { url, weight: 1 }],
        model: "sim".into(),
        concurrency: 32,
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(40),
        max_attempts: 12,
        ..ClientConfig::default()
    })
    .unwrap();
    let http_ws = dir.path().join("http");
    let s = run(&http_ws, Backend::Http(Box::new(client)), 200, 9).await;
    stop.cancel();
    assert_eq!(s.complete + s.failed, 200, "{s:?}");
    assert!(s.failures.keys().all(|k| !k.starts_with("llm_")), "retries absorbed the faults: {:?}", s.failures);
    let store = Store::open(&http_ws, false).unwrap();
    assert_eq!(store.sample_count().unwrap(), 200, "none lost, none twice (ids are unique)");
    let retried: i64 =
        store.conn().query_row("SELECT count(*) FROM llm_calls WHERE attempts > 1", [], |r| r.get(0)).unwrap();
    assert!(retried > 20, "the faults happened and were retried: {retried}");
    drop(store);

    let offline_ws = dir.path().join("offline");
    run(&offline_ws, Backend::Sim(sim(9)), 200, 9).await;
    assert_eq!(outcome_counts(&http_ws), outcome_counts(&offline_ws));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_then_resume_ends_with_the_counts_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stop) = start_server(5, ServeConfig { latency_ms: 3, jitter_ms: 4, ..ServeConfig::default() }).await;
    let ws = dir.path().join("killed");
    let samples = "120";
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_button"))
            .args(["--workspace", ws.to_str().unwrap(), "run", "--headless", "--samples", samples, "--seed", "5"])
            .args(["--endpoint", &url, "--model", "sim", "--concurrency", "8"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let calls_now = || Store::open(&ws, true).ok().and_then(|s| s.call_count().ok()).unwrap_or(0);
    let mut kills = 0;
    // Kill each run after it has added some calls; the amounts vary so the kills land at
    // different moments (between stages, mid-dialogue, mid-transaction).
    for wait_for in [40u64, 97, 151] {
        let before = calls_now();
        let mut child = spawn();
        let deadline = Instant::now() + Duration::from_mins(1);
        let mut ended = false;
        while calls_now() < before + wait_for {
            if child.try_wait().unwrap().is_some() {
                ended = true;
                break;
            }
            assert!(Instant::now() < deadline, "no progress");
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        if !ended {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        assert!(Store::open(&ws, false).unwrap().integrity_ok().unwrap());
    }
    assert!(kills >= 2, "the runs were killed part way ({kills})");
    let status = spawn().wait().unwrap();
    assert!(status.success());
    stop.cancel();

    let reference = dir.path().join("uninterrupted");
    run(&reference, Backend::Sim(sim(5)), 120, 5).await;
    assert_eq!(outcome_counts(&ws), outcome_counts(&reference));
    assert_eq!(Store::open(&ws, false).unwrap().sample_count().unwrap(), 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_new_calls_resume_finishes_cancel_stops_and_a_rerun_completes() {
    use button::pipeline::Event;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let (url, stop) = start_server(4, ServeConfig { latency_ms: 20, ..ServeConfig::default() }).await;
    let client = || {
        Backend::Http(Box::new(
            Client::new(ClientConfig {
                endpoints: vec![Endpoint { url: url.clone(), weight: 1 }],
                model: "sim".into(),
                concurrency: 8,
                ..ClientConfig::default()
            })
            .unwrap(),
        ))
    };
    let cfg = RunConfig { samples: 80, seed: 4, ..RunConfig::default() };
    let mut p =
        pipeline::start(&ws, client(), Prompts::load(None).unwrap(), cfg.clone(), button::sources::builtin()).unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    // Calls asked for (some waiting for one of the 8 slots) and calls sent.
    let (mut asked, mut sent) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    let mut finished = 0;
    // Run until some calls are done, then pause.
    while finished < 20 {
        match p.events.recv().await.unwrap() {
            Event::CallStarted { call, .. } => {
                asked.insert(call);
            }
            Event::CallSent { call } => {
                sent.insert(call);
            }
            Event::CallFinished { call, .. } | Event::CallFailed { call, .. } => {
                finished += 1;
                asked.remove(&call);
                sent.remove(&call);
            }
            _ => {}
        }
        assert!(Instant::now() < deadline);
    }
    p.control.pause();
    assert!(p.control.is_paused());
    // Events sent before the pause may still be queued: a few ms of them are read first.
    let mut late = 0;
    let _ = tokio::time::timeout(Duration::from_millis(20), async {
        loop {
            match p.events.recv().await.unwrap() {
                Event::CallStarted { call, .. } => {
                    asked.insert(call);
                }
                Event::CallSent { call } => {
                    sent.insert(call);
                    late += 1;
                }
                Event::CallFinished { call, .. } | Event::CallFailed { call, .. } => {
                    asked.remove(&call);
                    sent.remove(&call);
                }
                _ => {}
            }
        }
    })
    .await;
    let waiting = asked.difference(&sent).count();
    assert!(waiting > 0, "calls wait for a slot when the run is paused, so the test tests the hold");
    // The calls already sent finish; the ones waiting for a slot do not go out.
    while !sent.is_empty() {
        let e = tokio::time::timeout(Duration::from_secs(10), p.events.recv()).await;
        match e.expect("the calls sent before the pause end").unwrap() {
            Event::CallSent { call } => panic!("call {call} went out while paused ({late} queued before)"),
            Event::CallFinished { call, .. } | Event::CallFailed { call, .. } => {
                sent.remove(&call);
            }
            _ => {}
        }
        assert!(Instant::now() < deadline);
    }
    let quiet = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            if let Event::CallSent { .. } | Event::CallStarted { .. } = p.events.recv().await.unwrap() {
                return;
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "a call went out while paused");
    p.control.resume();
    // Let it go on a little, then cancel the whole run.
    let mut more = 0;
    while more < 30 {
        if let Event::CallFinished { .. } = p.events.recv().await.unwrap() {
            more += 1;
        }
    }
    p.control.cancel();
    let summary = p.wait().await.unwrap();
    assert!(summary.cancelled);
    let ended_after_cancel = Store::open(&ws, false).unwrap().ended_ids().unwrap().len();
    assert!(ended_after_cancel < 80, "{ended_after_cancel}");
    // Samples stopped by the cancel did not fail: none is recorded as cancelled.
    let mut cancelled = 0;
    Store::open(&ws, false)
        .unwrap()
        .list(StatusFilter::All, |r| {
            cancelled += usize::from(r.summary.failure_reason.is_some_and(|f| f.contains("cancel")));
        })
        .unwrap();
    assert_eq!(cancelled, 0);

    // The same run again finishes what is left and reuses the calls already made.
    let p = pipeline::start(&ws, client(), Prompts::load(None).unwrap(), cfg, button::sources::builtin()).unwrap();
    let (summary, progress) = button::headless::drive(p, 80).await.unwrap();
    stop.cancel();
    assert_eq!(summary.skipped_already_done, ended_after_cancel);
    assert_eq!(summary.complete + summary.failed + ended_after_cancel, 80);
    assert!(progress.calls_reused > 0, "finished calls were reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sample_can_be_cancelled_alone() {
    use button::pipeline::{Event, Outcome};
    let dir = tempfile::tempdir().unwrap();
    let (url, stop) = start_server(6, ServeConfig { latency_ms: 30, ..ServeConfig::default() }).await;
    let backend = Backend::Http(Box::new(
        Client::new(ClientConfig {
            endpoints: vec![Endpoint { url, weight: 1 }],
            model: "sim".into(),
            ..ClientConfig::default()
        })
        .unwrap(),
    ));
    let cfg = RunConfig { samples: 6, seed: 6, ..RunConfig::default() };
    let mut p =
        pipeline::start(&dir.path().join("ws"), backend, Prompts::load(None).unwrap(), cfg, button::sources::builtin())
            .unwrap();
    let target = pipeline::sample_id(6, 3);
    let mut cancelled = false;
    let mut outcome = None;
    while let Some(e) = p.events.recv().await {
        match e {
            Event::CallStarted { sample, .. } if sample == target && !cancelled => {
                cancelled = p.control.cancel_sample(&target);
            }
            Event::SampleEnded { sample, outcome: o } if sample == target => outcome = Some(o),
            Event::RunEnded { .. } => break,
            _ => {}
        }
    }
    let summary = p.wait().await.unwrap();
    stop.cancel();
    assert!(cancelled);
    assert_eq!(outcome, Some(Outcome::Failed { stage: "atomic_task".into(), reason: "llm_cancelled".into() }));
    assert_eq!(summary.complete + summary.failed, 6);
    assert!(!summary.cancelled);
}
