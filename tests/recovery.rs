//! Stop early, resume later: a full disk, an endpoint that goes down, failed samples made
//! again, and processes racing for one workspace. The real binary against sim-serve on
//! 127.0.0.1; the full disk is a small tmpfs in a private mount namespace.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use button::model::{Review, Verdict};
use button::serve::ServeConfig;
use button::store::{StatusFilter, Store};

mod common;
use common::{SimServe, outcome_counts};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_button")
}

/// `button --workspace WS ARGS...`, ready to run or spawn.
fn button(ws: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("--workspace").arg(ws).args(args);
    c
}

fn ended(m: &BTreeMap<String, usize>) -> usize {
    m.iter().filter(|(k, _)| k.starts_with("complete") || k.starts_with("failed")).map(|(_, n)| n).sum()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_full_disk_stops_the_run_at_once_and_says_so() {
    let server = SimServe::start(ServeConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let (ws, out) = (dir.path().join("ws"), dir.path().join("out"));
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    // The workspace lives on a 2 MiB tmpfs seen only by this command (a private mount
    // namespace, no privilege needed); what was written is copied out before it goes.
    let script = r#"mount -t tmpfs -o size=2m tmpfs "$WS" || exit 99
"$BIN" --workspace "$WS" run --headless --samples 3000 --endpoint "$URL" --model sim --concurrency 16
rc=$?
cp "$WS"/button.db* "$OUT"/
exit $rc"#;
    let o = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
        .env("WS", &ws)
        .env("OUT", &out)
        .env("BIN", bin())
        .env("URL", &server.url)
        .stdin(Stdio::null())
        .output()
        .expect("unshare (util-linux) runs the binary in a private mount namespace");
    assert_ne!(o.status.code(), Some(99), "could not mount a tmpfs in a user namespace: {}", text(&o));
    let served = server.stop();
    let said = text(&o);
    assert_eq!(o.status.code(), Some(2), "{said}");
    let last = said.lines().last().unwrap_or("");
    assert!(last.starts_with("error: cannot write to the workspace") && last.contains("full"), "{said}");
    let store = Store::open(&out, false).unwrap();
    let stored = store.call_count().unwrap();
    // A whole run of 3000 samples is about 30,000 calls; it stopped at the first failed
    // write, with only the calls then in flight or in the failed batch unkept.
    assert!(stored > 0, "{said}");
    assert!(served < stored + 500, "{served} calls made, {stored} kept\n{said}");
    assert!(served < 10_000, "{served} calls made");
    // What was committed is there and whole.
    assert!(store.integrity_ok().unwrap());
}

#[test]
fn an_outage_pauses_headless_stops_non_zero_and_the_next_run_resumes_without_failures() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("button.toml"), "[llm]\nmax_attempts = 2\noutage_after = 4\n").unwrap();
    // Down for 60 s after its 300th request: longer than the run will wait.
    let down = SimServe::start(ServeConfig { down_every: 300, down_for: Duration::from_mins(1), ..Default::default() });
    let run = |url: &str| {
        button(&ws, &["run", "--headless", "--samples", "80", "--seed", "2", "--concurrency", "4"])
            .args(["--endpoint", url, "--model", "sim"])
            .output()
            .unwrap()
    };
    let o = run(&down.url);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(3), "{said}");
    assert!(said.contains("the endpoint looks down: 4 calls in a row failed"), "{said}");
    assert!(said.contains("stopped (will resume)"), "{said}");
    let first = outcome_counts(&ws);
    assert!(ended(&first) < 80, "{first:?}");
    assert!(first.keys().all(|k| !k.contains("unreachable")), "an outage failed samples: {first:?}");
    down.stop();

    // The endpoint is back (a new server; same model, so finished calls are reused).
    let up = SimServe::start(ServeConfig::default());
    let o = run(&up.url);
    assert!(o.status.success(), "{}", text(&o));
    let second = outcome_counts(&ws);
    assert_eq!(ended(&second), 80, "{second:?}");
    assert!(second.keys().all(|k| !k.contains("unreachable")), "{second:?}");
    // Every sample that ended in the first run ended the same way.
    for (k, n) in &first {
        if k.starts_with("complete") || k.starts_with("failed") {
            assert!(second.get(k).copied().unwrap_or(0) >= *n, "{k}: {first:?} -> {second:?}");
        }
    }
    up.stop();
}

#[test]
fn retry_failed_makes_failed_samples_again_and_keeps_the_failed_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    // A simulator that answers out of shape more often than by default, and no re-asks:
    // many samples fail.
    std::fs::write(ws.join("button.toml"), "[run]\nreasks = 0\n[sim]\nmalformed_rate = 0.08\n").unwrap();
    let run = |extra: &[&str]| {
        let o = button(&ws, &["run", "--headless", "--samples", "30", "--seed", "4"]).args(extra).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    run(&[]);
    let store = Store::open(&ws, false).unwrap();
    let failed_before = store.failed_ids().unwrap();
    assert!(failed_before.len() >= 5, "{failed_before:?}");
    drop(store);
    // Without the flag a failed sample counts as done.
    assert!(run(&[]).contains("nothing to do"));
    let said = run(&["--retry-failed"]);
    assert!(said.contains(&format!("{} samples this run", failed_before.len())), "{said}");
    let store = Store::open(&ws, false).unwrap();
    let failed_after = store.failed_ids().unwrap();
    assert!(failed_after.len() < failed_before.len(), "{} -> {}", failed_before.len(), failed_after.len());
    for id in &failed_before {
        let versions = store.versions(id).unwrap();
        let kept: Vec<_> = versions.iter().filter(|(_, _, kind, _)| kind == "failed").collect();
        assert_eq!(kept.len(), 1, "{id}: the failed attempt is kept");
        assert!(kept[0].3.failure.is_some());
    }
    // The retried samples asked afresh: a round-1 seed, not the replies of round 0.
    let rounds = store.failed_rounds().unwrap();
    assert_eq!(rounds.len(), failed_before.len());
}

#[test]
fn two_commands_creating_one_workspace_at_once_both_succeed() {
    let fixture = std::fs::canonicalize("tests/fixtures/lint/clean.jsonl").unwrap();
    for trial in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("new");
        let children: Vec<_> = (0..2)
            .map(|_| {
                button(&ws, &["import"]).arg(&fixture).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "trial {trial}: {}", text(&o));
        }
        assert_eq!(Store::open(&ws, false).unwrap().schema_version().unwrap(), 8);
    }
}

#[test]
fn writers_wait_for_each_other_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let o = button(&ws, &["run", "--headless", "--samples", "40", "--seed", "1"]).output().unwrap();
    assert!(o.status.success());
    let ids: Vec<String> = {
        let store = Store::open(&ws, false).unwrap();
        let mut v = Vec::new();
        store.list(StatusFilter::All, |r| v.push(r.id)).unwrap();
        v
    };
    // Four threads, each its own connection, set and undo verdicts as fast as they can
    // while a fifth reads: not one "database is locked".
    let deadline = Instant::now() + Duration::from_mins(2);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (ws, ids) = (ws.clone(), ids.clone());
            std::thread::spawn(move || {
                let mut store = Store::open(&ws, false).unwrap();
                store.set_client(format!("writer-{t}"));
                for (i, id) in ids.iter().enumerate().take(40) {
                    let v = if (i + t) % 2 == 0 { Verdict::Accepted } else { Verdict::Rejected };
                    let review = Review { verdict: v, reasons: vec![], note: String::new(), at: i as i64 };
                    store.set_review(id, Some(review)).unwrap_or_else(|e| panic!("writer {t} verdict {i}: {e}"));
                    if i % 3 == 0 {
                        store.undo().unwrap_or_else(|e| panic!("writer {t} undo {i}: {e}"));
                    }
                    assert!(Instant::now() < deadline);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let store = Store::open(&ws, false).unwrap();
    let journal = store.journal().unwrap();
    assert_eq!(journal.iter().filter(|e| matches!(e.action, button::store::Action::Verdict { .. })).count(), 4 * 40);
}

#[test]
fn a_second_run_on_a_busy_workspace_is_refused_in_one_sentence() {
    let server = SimServe::start(ServeConfig { latency_ms: 200, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let spawn = || {
        button(&ws, &["run", "--headless", "--samples", "200", "--endpoint", &server.url, "--model", "sim"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = spawn();
    // Wait until the first run holds the workspace (its lock file names it).
    let lock = ws.join(button::pipeline::RUN_LOCK_FILE);
    let deadline = Instant::now() + Duration::from_mins(1);
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != first.id().to_string() {
        assert!(Instant::now() < deadline, "the first run never took the workspace");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = spawn().wait_with_output().unwrap();
    let said = text(&second);
    assert_eq!(second.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!(
            "another run is in progress on the workspace {} (process {})",
            ws.display(),
            first.id()
        )),
        "{said}"
    );
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    first.kill().unwrap();
    first.wait().unwrap();
    // The lock goes with the process, however it ends: the next run may start.
    let o = button(&ws, &["run", "--headless", "--samples", "1"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    server.stop();
}

/// The command as another user than the owner of the files, so their modes apply: as root,
/// the `nobody` user (setpriv, util-linux); as anyone else, that user already.
fn as_reader(args: &[&str], ws: &Path) -> Output {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()]);
        c
    } else {
        Command::new(bin())
    };
    cmd.arg("--workspace").arg(ws).args(args).output().unwrap()
}

#[test]
fn reading_commands_work_on_a_read_only_workspace() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let o = button(&ws, &["run", "--headless", "--samples", "6"]).output();
    assert!(o.unwrap().status.success());
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let set = |p: &Path, mode: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    set(dir.path(), 0o755);
    set(&out_dir, 0o777);
    for e in std::fs::read_dir(&ws).unwrap() {
        set(&e.unwrap().path(), 0o444);
    }
    set(&ws, 0o555);
    let out = out_dir.join("all.jsonl");
    for args in [
        vec!["stats"],
        vec!["list"],
        vec!["export", "--format", "openai", "--status", "all", "--out", out.to_str().unwrap()],
    ] {
        let o = as_reader(&args, &ws);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    assert!(std::fs::read_to_string(&out).unwrap().lines().count() > 0);
    // A write is refused in one sentence, not a crash.
    let o = as_reader(&["verdict", "s0-000000", "accept"], &ws);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).starts_with("error: "), "{}", text(&o));
    set(&ws, 0o755);
}

#[test]
fn a_killed_export_leaves_each_output_with_its_own_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let o = button(&ws, &["run", "--headless", "--samples", "400"]).output();
    assert!(o.unwrap().status.success());
    let out = dir.path().join("all.jsonl");
    let export = |status: &str| {
        button(&ws, &["export", "--format", "button", "--status", status, "--out", out.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    assert!(export("all").wait().unwrap().success());
    // Exports of two different contents, killed at moments spread over their run.
    for i in 0..24u64 {
        let mut c = export(if i % 2 == 0 { "pending" } else { "all" });
        std::thread::sleep(Duration::from_micros(i * 1500));
        let _ = c.kill();
        c.wait().unwrap();
        let bytes = std::fs::read(&out).unwrap();
        let prov = button::ops::provenance_path(&out, &button::ops::output_hash(&bytes));
        let prov_lines =
            std::fs::read_to_string(&prov).unwrap_or_else(|_| panic!("kill {i}: {} is missing", prov.display()));
        assert_eq!(
            prov_lines.lines().count(),
            bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
            "kill {i}"
        );
    }
    assert!(export("all").wait().unwrap().success());
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    assert_eq!(names.iter().filter(|n| n.ends_with(".provenance.jsonl")).count(), 1, "{names:?}");
}

#[test]
fn the_tui_worker_notices_another_process_committing() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let o = button(&ws, &["run", "--headless", "--samples", "3"]).output();
    assert!(o.unwrap().status.success());
    let (effects, effects_rx) = std::sync::mpsc::channel();
    let (msgs, mut msgs_rx) = tokio::sync::mpsc::unbounded_channel();
    let store = Store::open(&ws, false).unwrap();
    let worker = std::thread::spawn(move || button::tui::worker::run(store, effects_rx, msgs));
    let wait_for = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<button::tui::app::Msg>| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match rx.try_recv() {
                Ok(button::tui::app::Msg::StoreChanged) => return true,
                Ok(_) => {}
                Err(_) if Instant::now() > deadline => return false,
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    };
    // Nothing changes: nothing is said.
    std::thread::sleep(Duration::from_millis(1500));
    let mut quiet = true;
    while let Ok(m) = msgs_rx.try_recv() {
        quiet &= !matches!(m, button::tui::app::Msg::StoreChanged);
    }
    assert!(quiet, "a change was reported with none made");
    // A verdict from the command line: the TUI hears of it.
    let o = button(&ws, &["verdict", "s0-000000", "accept"]).output();
    assert!(o.unwrap().status.success());
    assert!(wait_for(&mut msgs_rx), "the verdict from another process was not noticed");
    drop(effects);
    worker.join().unwrap();
}
