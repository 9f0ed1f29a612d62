//! The real event loop (`button::tui::event_loop`), not a stand-in: keys injected as the
//! input thread sends them, a clock moved by hand, the store worker on its thread and runs
//! started through the run handle on the simulator, every frame read as a person sees it.

use std::time::Duration;

use button::model::Verdict;
use button::store::Store;
use button::tui::looped::Looped;

const SOON: Duration = Duration::from_mins(1);

#[test]
fn the_real_loop_runs_the_pipeline_saves_a_verdict_undoes_it_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    let l = Looped::start(ws, 100, 30).unwrap();
    l.wait_for(SOON, |s| s.contains("press s to start a run of 20 samples")).unwrap();
    l.keys("1s");
    let s = l.wait_for(SOON, |s| s.contains("run finished")).unwrap_or_else(|s| panic!("no end:\n{s}"));
    assert!(s.contains("done 20/20"), "{s}");
    // The review queue, a verdict, saved at once.
    l.keys("R");
    let s = l.wait_for(SOON, |s| s.contains("REVIEW QUEUE") && s.contains("Trajectory of")).unwrap();
    let id = s.lines().find_map(|l| l.split("Trajectory of ").nth(1)).unwrap().split_whitespace().next().unwrap();
    let id = id.to_string();
    l.keys("a");
    l.wait_for(SOON, |s| s.contains("accepted 1")).unwrap_or_else(|s| panic!("{s}"));
    let verdict = |ws: &std::path::Path| Store::open(ws, false).unwrap().review(&id).unwrap().map(|r| r.verdict);
    assert_eq!(verdict(ws), Some(Verdict::Accepted));
    l.keys("u");
    l.wait_for(SOON, |s| s.contains("undid verdict accepted on")).unwrap_or_else(|s| panic!("{s}"));
    assert_eq!(verdict(ws), None);
    l.keys("<c-r>");
    l.wait_for(SOON, |s| s.contains("redid verdict")).unwrap_or_else(|s| panic!("{s}"));
    assert_eq!(verdict(ws), Some(Verdict::Accepted));
    l.keys("q");
    l.join().unwrap();
}

#[test]
fn the_loops_clock_is_the_one_given_toasts_go_when_it_moves() {
    let dir = tempfile::tempdir().unwrap();
    let l = Looped::start(dir.path(), 100, 30).unwrap();
    l.wait_for(SOON, |s| s.contains("press s to start")).unwrap();
    l.keys("1p");
    l.wait_for(SOON, |s| s.contains("no run in flight to pause")).unwrap();
    // Real time passes, the loop's clock does not: the toast stays.
    std::thread::sleep(Duration::from_millis(600));
    l.settle();
    assert!(l.screen().contains("no run in flight to pause"));
    l.advance(Duration::from_secs(10));
    l.wait_for(SOON, |s| !s.contains("no run in flight to pause")).unwrap_or_else(|s| panic!("{s}"));
    l.keys("<c-c>");
    l.join().unwrap();
}

#[test]
fn in_the_real_loop_pause_holds_every_call_and_an_edit_is_regenerated_as_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    let l = Looped::start(ws, 100, 30).unwrap();
    l.wait_for(SOON, |s| s.contains("press s to start")).unwrap();
    // A longer run, paused once its first samples are complete.
    l.keys("1t200<enter>s");
    l.wait_for(SOON, |s| s.contains("running") && s.contains(" complete, ") && !s.contains("\n│0 complete"))
        .unwrap_or_else(|s| panic!("{s}"));
    l.keys("p");
    l.wait_for(SOON, |s| s.contains("paused")).unwrap_or_else(|s| panic!("{s}"));
    // Calls already sent finish; then nothing more is asked while paused.
    std::thread::sleep(Duration::from_millis(1500));
    let calls = || Store::open(ws, false).unwrap().call_count().unwrap();
    let held = calls();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(calls(), held, "a call went out while paused");
    l.keys("c");
    l.wait_for(SOON, |s| s.contains("run cancelled") || s.contains("stopped")).unwrap_or_else(|s| panic!("{s}"));
    l.wait_for(SOON, |s| !s.contains("cancelling")).unwrap_or_else(|s| panic!("{s}"));
    // An edit of a complete sample's composition, then g: a job through the run handle.
    let store = Store::open(ws, false).unwrap();
    let mut complete = Vec::new();
    store
        .list(button::store::StatusFilter::All, |r| {
            if r.summary.stage.is_complete() {
                complete.push(r.id);
            }
        })
        .unwrap();
    let id = complete.first().expect("a complete sample before the pause").clone();
    drop(store);
    l.keys("2/");
    l.keys(&id);
    l.keys("<enter>");
    l.wait_for(SOON, |s| s.contains(&format!("Lineage of {id}"))).unwrap_or_else(|s| panic!("{s}"));
    l.keys("<tab>jje");
    l.wait_for(SOON, |s| s.contains("Edit: ")).unwrap_or_else(|s| panic!("{s}"));
    l.keys("Urgent: <c-s>");
    l.wait_for(SOON, |s| s.contains("stale now")).unwrap_or_else(|s| panic!("{s}"));
    l.keys("g");
    l.wait_for(SOON, |s| s.contains("run finished: 1 complete")).unwrap_or_else(|s| panic!("{s}"));
    let store = Store::open(ws, false).unwrap();
    assert_eq!(store.row(&id).unwrap().summary.stale.ids(), "", "made again");
    assert_eq!(store.versions(&id).unwrap().len(), 1, "the previous version kept");
    l.keys("q");
    l.join().unwrap();
}
