//! The TUI's model and views, without a terminal: keys scripted against the app, its store
//! effects run by the worker's own `execute` on a real workspace, screens drawn on
//! ratatui's `TestBackend` and compared with insta snapshots (at 100x30 and 80x24).

use std::path::Path;
use std::time::Duration;

use button::backend::Backend;
use button::domain::Step;
use button::model::{RejectReason, Review, Verdict};
use button::ops::{self, FormatChoice};
use button::pipeline::{self, Event, Outcome, RunConfig, RunSummary};
use button::prompts::Prompts;
use button::sim::Simulator;
use button::store::Store;
use button::tui::app::{Effect, Init, Msg, Overlay, RunFx, View};
use button::tui::driver::Driver;
use button::tui::keymap::{Action, Context, Keymap};
use button::tui::theme::Theme;
use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

/// The app on a real workspace, driven without a terminal (see `button::tui::driver`).
struct H {
    d: Driver,
    dir: tempfile::TempDir,
}

impl std::ops::Deref for H {
    type Target = Driver;
    fn deref(&self) -> &Driver {
        &self.d
    }
}

impl std::ops::DerefMut for H {
    fn deref_mut(&mut self) -> &mut Driver {
        &mut self.d
    }
}

/// A workspace with 12 generated samples (one at a time, so their order and call ids are
/// the same on every run; no re-asks, so some fail and the views show failures) and, when
/// `imported`, the lint fixtures' clean, E05 and W02 files.
fn workspace(imported: bool) -> tempfile::TempDir {
    let dir = generated(RunConfig { samples: 12, seed: 3, active_samples: 1, reasks: 0, ..RunConfig::default() }, 0.05);
    let ws = dir.path();
    if imported {
        let mut store = Store::open(ws, false).unwrap();
        for f in ["clean", "E05-unknown-argument", "W02-repeated-call"] {
            let src = Path::new("tests/fixtures/lint").join(format!("{f}.jsonl"));
            let dst = ws.join(format!("{f}.jsonl"));
            std::fs::copy(&src, &dst).unwrap();
            ops::import(&mut store, &dst, FormatChoice::Auto).unwrap();
        }
    }
    dir
}

/// A workspace of samples generated one at a time by the simulator with this share of
/// malformed replies.
fn generated(cfg: RunConfig, malformed_rate: f64) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("bt").tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let n = cfg.samples;
    rt.block_on(async {
        let backend = Backend::Sim(Simulator { seed: cfg.seed, malformed_rate });
        let p = pipeline::start(dir.path(), backend, Prompts::load(None).unwrap(), cfg, button::sources::builtin())
            .unwrap();
        button::headless::drive(p, n).await.unwrap();
    });
    dir
}

fn init(queue: bool) -> Init {
    Init {
        workspace_label: "~/data/ws".into(),
        keymap: Keymap::default(),
        theme: Theme::builtin("dark").unwrap(),
        themes: ["dark", "light", "high-contrast"].iter().map(|n| Theme::builtin(n).unwrap()).collect(),
        simulated: true,
        target: 20,
        concurrency: Some(16),
        review_queue: queue,
        seed: 3,
        notice: None,
    }
}

impl H {
    fn new(imported: bool) -> H {
        H::on(workspace(imported), false)
    }

    fn on(dir: tempfile::TempDir, queue: bool) -> H {
        // Each harness is one TUI session, as `button` names its own.
        static SESSION: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let mut store = Store::open(dir.path(), false).unwrap();
        store.set_client(format!("tui-test-{}", SESSION.fetch_add(1, std::sync::atomic::Ordering::SeqCst)));
        H { d: Driver::new(store, init(queue), Simulator { seed: 3, malformed_rate: 0.0 }), dir }
    }

    fn screen(&mut self, w: u16, h: u16) -> String {
        let term = self.d.draw(w, h);
        let buf = term.backend().buffer();
        let mut out = String::new();
        for y in 0..h {
            let mut line = String::new();
            for x in 0..w {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        // The temp folder's random part, kept at its length so the layout does not move.
        let ws = self.dir.path().display().to_string();
        let fixed: String = ws.chars().enumerate().map(|(i, c)| if i >= ws.len() - 6 { 'X' } else { c }).collect();
        redact_ms(&out.replace(&ws, &fixed))
    }

    fn selected_id(&self) -> String {
        self.app.selected().unwrap().id.clone()
    }

    fn verdict(&self, id: &str) -> Option<Verdict> {
        self.store.review(id).unwrap().map(|r| r.verdict)
    }
}

/// Latencies differ from run to run: "12 ms" becomes "?? ms", keeping the width.
fn redact_ms(s: &str) -> String {
    let mut out: Vec<char> = s.chars().collect();
    let n = out.len();
    let mut i = 0;
    while i + 3 <= n {
        if out[i..i + 3] == [' ', 'm', 's'] {
            let mut j = i;
            while j > 0 && out[j - 1].is_ascii_digit() {
                j -= 1;
                out[j] = '?';
            }
        }
        i += 1;
    }
    out.into_iter().collect()
}

fn both_sizes(h: &mut H, name: &str) {
    insta::assert_snapshot!(format!("{name}_100x30"), h.screen(100, 30));
    insta::assert_snapshot!(format!("{name}_80x24"), h.screen(80, 24));
}

#[test]
fn samples_view_lists_and_shows_the_lineage() {
    let mut h = H::new(true);
    assert_eq!(h.app.view, View::Samples);
    assert_eq!(h.app.list.rows.len(), 16);
    both_sizes(&mut h, "samples");
    h.keys("<tab>jj");
    both_sizes(&mut h, "lineage_focused");
}

#[test]
fn trajectory_view_steps_through_turns_and_opens_the_call() {
    let mut h = H::new(false);
    // The first complete sample.
    while !h.app.selected().unwrap().summary.stage.is_complete() {
        h.keys("j");
    }
    h.keys("<enter>");
    assert_eq!(h.app.view, View::Trajectory);
    both_sizes(&mut h, "trajectory");
    h.keys("nn");
    assert_eq!(h.app.turn, 2);
    both_sizes(&mut h, "trajectory_turn3");
    h.keys("l");
    let s = h.screen(100, 30);
    assert!(s.contains("LLM call #") && s.contains("rendered prompt"), "{s}");
    both_sizes(&mut h, "call");
    h.keys("<esc>p");
    assert_eq!(h.app.turn, 1);
    // G (or end) goes to the final answer, home back to the start; pages scroll.
    h.keys("G");
    let n = h.app.detail.as_ref().unwrap().sample.trajectory.as_ref().unwrap().messages.len();
    assert_eq!(h.app.turn, n - 1);
    let s = h.screen(100, 30);
    assert!(s.contains(&format!("▶ {n} ASSISTANT")) || s.contains("FINAL"), "{s}");
    h.keys("<home>");
    assert_eq!((h.app.turn, h.app.traj_scroll), (0, 0));
    h.screen(100, 30);
    h.keys("<pgdn>");
    let page = h.app.traj_scroll;
    assert!(page > 5, "a page is more than a line: {page}");
    // ctrl-d and ctrl-u move half as far.
    h.keys("<c-u>");
    let half = page - h.app.traj_scroll;
    assert!(half > 0 && half < page && half >= page / 2 - 1, "half of {page} is {half}");
    h.keys("<c-d>");
    assert_eq!(h.app.traj_scroll, page);
}

#[test]
fn imported_sample_pins_lint_findings_to_their_message() {
    let mut h = H::new(true);
    h.keys("G");
    while !h.app.selected().unwrap().summary.lint_codes.iter().any(|c| c.id() == "E05") {
        h.keys("k");
    }
    h.keys("<enter>");
    let d = h.app.detail.as_ref().unwrap();
    let at = d.findings.iter().find(|f| f.code.id() == "E05").unwrap().message_index.unwrap();
    assert!(matches!(d.sample.trajectory.as_ref().unwrap().messages[at], button::model::Message::Assistant { .. }));
    for _ in 0..at {
        h.keys("n");
    }
    let s = h.screen(100, 30);
    // Pinned under its message: the line after the call's arguments, before the next message.
    let lines: Vec<&str> = s.lines().collect();
    let f = lines.iter().position(|l| l.contains("⚠ E05")).unwrap_or_else(|| panic!("{s}"));
    let head = lines[..f].iter().rposition(|l| l.contains(&format!("{} ASSISTANT", at + 1))).unwrap();
    assert!(!lines[head..f].iter().any(|l| l.contains(" TOOL ") || l.contains(" USER ")), "{s}");
    both_sizes(&mut h, "trajectory_imported");
    h.keys("l");
    assert!(h.app.toast.as_ref().unwrap().0.contains("imported"));
}

#[test]
fn review_keys_save_at_once_move_on_and_undo_only_this_sessions_actions() {
    let mut h = H::new(true);
    h.keys("R");
    assert!(h.app.list.queue);
    assert_eq!(h.app.view, View::Trajectory);
    let first = h.selected_id();
    h.keys("a");
    assert_eq!(h.verdict(&first), Some(Verdict::Accepted));
    let second = h.selected_id();
    assert_ne!(first, second);
    h.keys("x2");
    let r = h.store.review(&second).unwrap().unwrap();
    assert_eq!((r.verdict, r.reasons.clone()), (Verdict::Rejected, vec![RejectReason::BadArguments]));
    let third = h.selected_id();
    h.keys("x7");
    // "other" wants a note; enter on an empty note saves nothing.
    h.keys("<enter>");
    assert_eq!(h.verdict(&third), None);
    h.keys("made up city<enter>");
    let r = h.store.review(&third).unwrap().unwrap();
    assert_eq!((r.reasons.clone(), r.note.as_str()), (vec![RejectReason::Other], "made up city"));
    let fourth = h.selected_id();
    h.keys("<space>");
    assert_eq!(h.verdict(&fourth), None);
    let fifth = h.selected_id();
    h.keys("f");
    assert_eq!(h.verdict(&fifth), Some(Verdict::Flagged));
    both_sizes(&mut h, "review_progress");
    let (_, reviewed, acc, rej, flag) = h.app.list.review_progress();
    assert_eq!((reviewed, acc, rej, flag), (4, 1, 2, 1));

    // Undo goes back to the sample it undid.
    h.keys("u");
    assert_eq!(h.verdict(&fifth), None);
    assert_eq!(h.selected_id(), fifth);
    h.keys("u");
    assert_eq!(h.verdict(&third), None);
    // A verdict made meanwhile by another client (the command line) is not this session's
    // to undo: the next u skips it.
    let mut cli = Store::open(h.dir.path(), false).unwrap();
    cli.set_review(&fourth, Some(Review { verdict: Verdict::Accepted, reasons: vec![], note: String::new(), at: 1 }))
        .unwrap();
    h.keys("u");
    assert_eq!(h.verdict(&second), None);
    assert_eq!(h.verdict(&fourth), Some(Verdict::Accepted));
    // After a restart, the earlier session's actions are not this one's either: the
    // command line's `button undo` reaches them, newest first.
    let dir = h.dir;
    let mut h = H::on(dir, false);
    h.keys("u");
    assert!(h.app.toast.as_ref().unwrap().0.starts_with("nothing of this session to undo"));
    assert_eq!(h.verdict(&first), Some(Verdict::Accepted));
    let mut cli = Store::open(h.dir.path(), false).unwrap();
    assert_eq!(cli.undo().unwrap().unwrap().sample_id, fourth);
    assert_eq!(cli.undo().unwrap().unwrap().sample_id, first);
    assert_eq!(h.verdict(&first), None);
}

#[test]
fn a_rejection_can_give_several_reasons() {
    let mut h = H::new(false);
    select_complete(&mut h);
    let id = h.selected_id();
    // space marks the chosen reason; enter rejects for every marked one.
    h.keys("x<space>jj<space>");
    let s = h.screen(100, 30);
    assert!(s.contains("✓ hallucinated function") && s.contains("✓ user message leaks the plan"), "{s}");
    h.keys("<enter>");
    let r = h.store.review(&id).unwrap().unwrap();
    assert_eq!(r.reasons, vec![RejectReason::HallucinatedFunction, RejectReason::UserLeaksPlan]);
    // A digit adds its reason to the marked ones; "other" marked asks for the note first.
    h.keys("k");
    assert_eq!(h.selected_id(), id);
    h.keys("x<space>2");
    assert_eq!(
        h.store.review(&id).unwrap().unwrap().reasons,
        vec![RejectReason::HallucinatedFunction, RejectReason::BadArguments]
    );
    h.keys("kx");
    h.keys("jjjjjj<space><enter>");
    assert!(matches!(&h.app.overlay, Some(Overlay::Reason(r)) if r.note.is_some()));
    h.keys("a made up city<enter>");
    let r = h.store.review(&id).unwrap().unwrap();
    assert_eq!((r.reasons, r.note.as_str()), (vec![RejectReason::Other], "a made up city"));
}

#[test]
fn the_flagged_queue_walks_the_samples_flagged_for_a_second_look() {
    let mut h = H::new(false);
    h.keys("R");
    let a = h.selected_id();
    h.keys("fa");
    let b = h.selected_id();
    h.keys("f");
    assert_eq!((h.verdict(&a), h.verdict(&b)), (Some(Verdict::Flagged), Some(Verdict::Flagged)));
    h.keys("<esc>Q");
    assert!(h.app.list.queue && h.app.list.queue_flagged);
    assert!(h.screen(100, 30).contains("FLAGGED QUEUE"));
    assert_eq!(h.app.list.visible.len(), 2);
    assert_eq!(h.selected_id(), a);
    h.keys("a");
    assert_eq!((h.verdict(&a), h.selected_id()), (Some(Verdict::Accepted), b.clone()));
    h.keys("x1");
    assert_eq!(h.verdict(&b), Some(Verdict::Rejected));
    assert!(!h.app.list.queue);
    assert!(h.app.toast.as_ref().unwrap().0.contains("flagged queue done"));
}

#[test]
fn the_target_starts_at_what_the_workspace_holds() {
    let dir = workspace(false);
    let store = Store::open(dir.path(), false).unwrap();
    let d = Driver::new(store, Init { target: 5, ..init(false) }, Simulator { seed: 3, malformed_rate: 0.0 });
    let mut h = H { d, dir };
    assert_eq!((h.app.target, h.app.run.target), (12, 12), "not a run of 5 over 12 samples");
    h.keys("1");
    let screen = h.screen(100, 30);
    assert!(screen.contains("seed 3: 12 here (10 complete, 2 failed)") && screen.contains("done 12/12"), "{screen}");
}

#[test]
fn a_turn_edited_by_hand_says_so() {
    let mut h = H::new(false);
    select_complete(&mut h);
    h.keys("<enter>");
    assert!(!h.screen(100, 30).contains("edited by hand"));
    h.keys("e<end> Thanks.<c-s>");
    assert!(h.app.overlay.is_none(), "{:?}", h.app.toast);
    let s = h.screen(100, 30);
    assert!(s.contains("1 USER  edited by hand") && s.contains("│edited by hand"), "{s}");
    assert!(s.contains("first made by user_agent"), "{s}");
}

#[test]
fn filters_search_and_sort_narrow_the_list() {
    let mut h = H::new(true);
    let all = h.app.list.visible.len();
    h.keys("F<right>");
    let complete = h.app.list.visible.len();
    assert!(
        complete < all && complete > 0,
        "{complete} of {all}: {:?}",
        h.app.list.rows.iter().map(|r| r.summary.stage.id()).collect::<Vec<_>>()
    );
    assert!(h.app.list.visible.iter().all(|i| h.app.list.rows[*i].summary.stage.is_complete()));
    both_sizes(&mut h, "filters");
    h.keys("<down><down><down><right><right>");
    // lint = errors
    assert!(h.app.list.visible.iter().all(|i| h.app.list.rows[*i].summary.lint_errors > 0));
    h.keys("<esc>0");
    assert_eq!(h.app.list.visible.len(), all);

    // Search looks into every text of the samples, words as prefixes.
    h.keys("/flig");
    let found = h.app.list.visible.len();
    assert!(found > 0 && found < all, "{found} of {all}");
    for i in &h.app.list.visible {
        let id = h.app.list.rows[*i].id.clone();
        let text = serde_json::to_string(&h.store.sample(&id).unwrap().sample).unwrap().to_lowercase();
        assert!(text.contains("flig"), "{id} does not mention it");
    }
    both_sizes(&mut h, "search");
    h.keys("<enter>");
    assert_eq!(h.app.list.visible.len(), found);
    // Reopened, the search in force is selected: typing replaces it; ctrl-u erases it.
    h.keys("/weat");
    assert_eq!(h.app.list.search.as_ref().unwrap().0, "weat", "not flig + weat");
    h.keys("<c-u>");
    assert!(h.app.list.search.is_none() && h.app.list.visible.len() == all);
    h.keys("flig<enter><esc>");
    assert_eq!(h.app.list.visible.len(), all);
    h.keys("/zzqqxx");
    assert_eq!(h.app.list.visible.len(), 0);
    h.keys("<esc>");

    h.keys("o");
    let turns: Vec<usize> = h.app.list.visible.iter().map(|i| h.app.list.rows[*i].summary.turns).collect();
    assert!(turns.windows(2).all(|w| w[0] >= w[1]), "{turns:?}");
    h.keys("O");
    let turns: Vec<usize> = h.app.list.visible.iter().map(|i| h.app.list.rows[*i].summary.turns).collect();
    assert!(turns.windows(2).all(|w| w[0] <= w[1]), "{turns:?}");
}

#[test]
fn palette_finds_actions_fuzzily_and_runs_them() {
    let mut h = H::new(true);
    h.keys(":");
    both_sizes(&mut h, "palette");
    h.keys("ligh");
    let items = button::tui::overlay::palette_items(&h.app, "ligh");
    assert_eq!(items[0].name, "theme light");
    h.keys("<enter>");
    assert_eq!(h.app.theme.name, "light");
    h.keys(":revqu<enter>");
    assert!(h.app.list.queue);
    let id = h.selected_id();
    h.keys(":accept<enter>");
    assert_eq!(h.verdict(&id), Some(Verdict::Accepted));
}

#[test]
fn overlay_keys_are_keymap_actions_and_the_hint_bar_shows_only_those() {
    let mut h = H::new(false);
    let mut o = std::collections::BTreeMap::new();
    o.insert("filter_next".to_string(), vec!["n".to_string()]);
    h.app.keymap = Keymap::with_overrides(&o).unwrap();
    let id = h.selected_id();
    h.keys("F");
    let hints = h.screen(100, 30).lines().last().unwrap().to_string();
    assert!(hints.contains("n change") && !hints.contains("l change"), "{hints}");
    assert!(!hints.contains("accept"), "the view's keys do nothing here: {hints}");
    h.keys("l");
    assert!(h.app.list.filters.is_empty(), "l is no longer bound");
    h.keys("n");
    assert_eq!(h.app.list.filters.text(button::tui::list::Filter::Status), "complete");
    h.keys("a");
    assert_eq!(h.verdict(&id), None, "a view key does nothing in an overlay");
    h.keys("<esc>");
    assert!(h.app.overlay.is_none());
    // Each overlay's contexts bind a key to one action at most.
    let km = Keymap::default();
    for ctxs in
        [&[Context::Help, Context::Reader][..], &[Context::Call, Context::Reader], &[Context::Diff, Context::Reader]]
    {
        let mut seen = std::collections::BTreeMap::new();
        for a in Action::ALL.iter().filter(|a| ctxs.contains(&a.context())) {
            for k in km.keys(*a) {
                if let Some(other) = seen.insert(*k, *a) {
                    panic!("{} does both {} and {}", k.label(), other.id(), a.id());
                }
            }
        }
    }
}

#[test]
fn help_is_generated_from_the_keymap() {
    let mut h = H::new(false);
    h.keys("?");
    both_sizes(&mut h, "help");
    // Every action of every view and overlay, read page by page.
    let mut s = h.screen(120, 60);
    for _ in 0..12 {
        h.keys("<pgdn>");
        s.push_str(&h.screen(120, 60));
    }
    for a in Action::ALL {
        assert!(s.contains(a.describe()), "help lacks {}", a.id());
    }
    h.keys("<esc>");
    assert!(h.app.overlay.is_none());
}

#[test]
fn pipeline_view_counts_stages_calls_and_errors() {
    let mut h = H::new(false);
    h.keys("1");
    h.keys("s");
    assert_eq!(h.asked, vec![Effect::Run(RunFx::StartRun { target: 20, concurrency: Some(16) })]);
    h.msg(Msg::RunStarted { target: 20, already_done: 12, concurrency: Some(16), simulated: true });
    let t = |s: u64| Duration::from_millis(s);
    h.msg(Msg::Tick(t(1000)));
    for i in 0..8u64 {
        let sample = format!("s3-{:06}", 12 + i);
        h.msg(Msg::Pipeline(Event::SampleStage { sample: sample.clone(), stage: button::domain::Part::Scenario }));
        h.msg(Msg::Pipeline(Event::SampleStage { sample: sample.clone(), stage: button::domain::Part::AtomicTask }));
        if i < 3 {
            h.msg(Msg::Pipeline(Event::CallStarted { call: i, step: Step::AtomicTask, sample }));
            if i < 2 {
                h.msg(Msg::Pipeline(Event::CallSent { call: i }));
            }
        } else if i == 3 {
            h.msg(Msg::Pipeline(Event::SampleEnded {
                sample,
                outcome: Outcome::Failed { stage: "atomic_task".into(), reason: "bad_json".into() },
            }));
        }
    }
    h.msg(Msg::Pipeline(Event::CallRetrying { call: 1, attempt: 1, wait_ms: 500, error: "429".into() }));
    h.msg(Msg::Pipeline(Event::CallFinished {
        call: 9,
        step: Step::ScenarioExpand,
        latency_ms: 5,
        tokens: 120,
        cached: false,
        reask: 0,
        usable: true,
    }));
    h.msg(Msg::Pipeline(Event::CallFailed {
        call: 10,
        step: Step::AtomicTask,
        reason: "status_500".into(),
        error: "x".into(),
    }));
    h.msg(Msg::Tick(t(2600)));
    let s = h.screen(100, 30);
    assert!(s.contains("In flight: 2 · waiting: 1"), "{s}");
    let counts = h.app.run.stage_counts();
    assert_eq!(counts[1], [0, 7, 0, 1, 0]); // atomic task: 7 here, 1 failed
    assert_eq!(counts[2][0], 7); // composition: 7 still waiting (8 to make, 1 lost)
    both_sizes(&mut h, "pipeline");
    // While paused the clock of the run stands still.
    let before = h.app.run.elapsed(h.app.clock);
    h.keys("p");
    h.msg(Msg::Tick(t(9600)));
    assert_eq!(h.app.run.elapsed(h.app.clock), before, "7 s paused do not count");
    h.keys("+-]");
    assert_eq!(
        h.asked[1..],
        [Effect::Run(RunFx::Pause), Effect::Run(RunFx::SetConcurrency(32)), Effect::Run(RunFx::SetConcurrency(16))]
    );
    assert_eq!(h.app.target, 30, "for the next run");
    assert_eq!(h.app.run.target, 20, "this run keeps its own");
    // A run in flight: q asks first.
    h.keys("q");
    assert!(!h.app.quit);
    h.keys("n");
    assert!(!h.app.quit);
    h.keys("c");
    assert_eq!(h.asked.last(), Some(&Effect::Run(RunFx::CancelRun)));
    h.msg(Msg::RunFinished(Ok(RunSummary {
        started: 8,
        complete: 0,
        failed: 1,
        stopped: 7,
        cancelled: true,
        ..Default::default()
    })));
    // The cancelled samples did not fail: the summary says they wait for the next run.
    let toast = h.app.toast.as_ref().unwrap().0.clone();
    assert!(toast.contains("0 complete, 1 failed, 7 stopped (unfinished: the next run resumes them)"), "{toast}");
    h.keys("q");
    assert!(h.app.quit);
}

#[test]
fn too_small_a_terminal_is_told_plainly() {
    let mut h = H::new(false);
    let s = h.screen(79, 24);
    assert!(s.contains("at least 80x24") && s.contains("79x24"), "{s}");
    insta::assert_snapshot!("too_small", h.screen(60, 20));
}

#[test]
fn the_mouse_selects_rows_tabs_and_scrolls() {
    let mut h = H::new(false);
    let _ = h.screen(100, 30);
    let click = |col, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: col,
        row,
        modifiers: KeyModifiers::NONE,
    };
    h.msg(Msg::Mouse(click(10, 6)));
    assert_eq!(h.app.list.cursor, 3);
    h.msg(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: 6,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(h.app.list.cursor, 6);
    let tabs = h.app.areas.tabs;
    h.msg(Msg::Mouse(click(tabs[0].x + 1, 0)));
    assert_eq!(h.app.view, View::Pipeline);
}

#[test]
fn model_text_never_reaches_the_terminal_raw() {
    let dir = workspace(false);
    let file = dir.path().join("evil.jsonl");
    let clean = std::fs::read_to_string("tests/fixtures/lint/clean.jsonl").unwrap();
    let line = clean.lines().next().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    let convo = v["messages"].as_array_mut().unwrap();
    let user = convo.iter_mut().find(|m| m["role"] == "user").unwrap();
    user["content"] = serde_json::Value::String("\u{1b}]0;pwned\u{7}\u{1b}[2J tab\there".into());
    std::fs::write(&file, format!("{v}\n")).unwrap();
    let mut store = Store::open(dir.path(), false).unwrap();
    ops::import(&mut store, &file, FormatChoice::Auto).unwrap();
    drop(store);
    let mut h = H::on(dir, false);
    h.keys("G<enter>");
    let s = h.screen(100, 30);
    assert!(s.contains("\\e]0;pwned\\u{7}\\e[2J tab    here"), "{s}");
    assert!(!s.contains('\u{1b}') && !s.contains('\u{7}'));
}

#[test]
fn button_review_opens_on_the_queue() {
    let dir = workspace(true);
    let h = H::on(dir, true);
    assert!(h.app.list.queue);
    assert_eq!(h.app.view, View::Trajectory);
    assert!(h.app.selected().unwrap().verdict.is_none());
}

/// The first complete generated sample, selected.
fn select_complete(h: &mut H) {
    h.keys("<home>");
    while !h.app.selected().unwrap().summary.stage.is_complete() {
        h.keys("j");
    }
}

#[test]
fn edit_marks_stale_and_regenerate_remakes_with_the_previous_version_kept() {
    let mut h = H::new(false);
    select_complete(&mut h);
    let id = h.selected_id();
    h.keys("<tab>jj");
    assert_eq!(h.app.lineage_part, button::domain::Part::Composition);
    h.keys("e");
    assert!(matches!(h.app.overlay, Some(Overlay::Editor(_))));
    h.keys("Urgent: ");
    both_sizes(&mut h, "editor_composition");
    h.keys("<c-d>");
    let s = h.screen(100, 30);
    assert!(s.contains("+ Urgent: "), "{s}");
    both_sizes(&mut h, "editor_diff");
    h.keys("<c-d><c-s>");
    assert!(h.app.overlay.is_none());
    let row = h.store.row(&id).unwrap();
    assert_eq!(row.summary.stale.ids(), "filter functions trajectory");
    assert!(h.app.toast.as_ref().unwrap().0.contains("stale now: filter functions trajectory"));
    let task = h.store.sample(&id).unwrap().sample.composition.unwrap().task;
    assert!(task.starts_with("Urgent: "), "{task}");
    let s = h.screen(100, 30);
    assert!(s.contains("STALE") && s.contains('~'), "{s}");
    both_sizes(&mut h, "lineage_stale");
    // The stale filter finds it.
    h.keys("F<down><down><down><down><down><right><esc>");
    assert_eq!(h.app.list.visible.len(), 1);
    h.keys("0");

    h.keys("g");
    assert_eq!(h.store.row(&id).unwrap().summary.stale.ids(), "", "made again");
    let calls = h.store.calls_for(&id).unwrap();
    assert!(calls.iter().any(|c| c.step == "composition_filter" && c.prompt.contains("Urgent: ")));
    assert_eq!(h.store.versions(&id).unwrap().len(), 1);
    h.keys("D");
    let s = h.screen(100, 30);
    assert!(s.contains("edit of /composition (regenerated since)") && s.contains("previous version"), "{s}");
    both_sizes(&mut h, "diff");
}

/// Focus on the lineage and select `part` in it.
fn lineage_part(h: &mut H, part: button::domain::Part) {
    if h.app.focus != button::tui::app::Focus::Lineage {
        h.keys("<tab>");
    }
    assert_eq!(h.app.focus, button::tui::app::Focus::Lineage);
    for _ in 0..6 {
        if h.app.lineage_part == part {
            return;
        }
        let key = if h.app.lineage_part < part { "j" } else { "k" };
        h.keys(key);
    }
    assert_eq!(h.app.lineage_part, part);
}

#[test]
fn changed_content_is_reviewed_again_and_g_never_replaces_a_hand_edit_silently() {
    let mut h = H::new(false);
    select_complete(&mut h);
    let id = h.selected_id();
    h.keys("ak");
    assert_eq!((h.selected_id(), h.verdict(&id)), (id.clone(), Some(Verdict::Accepted)));
    // An edit of an accepted sample clears its verdict: what was accepted is not there now.
    h.keys("<tab>jje");
    h.keys("Urgent: <c-s>");
    assert_eq!(h.verdict(&id), None);
    assert!(h.app.toast.as_ref().unwrap().0.contains("its accepted verdict is cleared"), "{:?}", h.app.toast);
    assert_eq!(h.app.selected().unwrap().verdict, None, "the list shows it at once");
    // The review queue leaves stale samples for after their regeneration.
    h.keys("R");
    assert!(h.app.list.queue);
    assert!(h.app.list.visible.iter().all(|i| h.app.list.rows[*i].id != id));
    h.keys("<esc>20");
    // Undo brings back the text and the verdict together, on the sample it was (asked
    // first: the queue left another sample on screen).
    h.keys("uy");
    assert_eq!(h.verdict(&id), Some(Verdict::Accepted));
    assert!(!h.store.sample(&id).unwrap().sample.composition.unwrap().task.starts_with("Urgent: "));
    assert_eq!(h.selected_id(), id, "{:?}", h.app.toast);

    // The composition edited, then the functions by hand: g asks before replacing them.
    lineage_part(&mut h, button::domain::Part::Composition);
    h.keys("e");
    h.keys("Urgent: <c-s>");
    h.keys("jje<end>");
    h.keys(r#"{"sub_task": "Tell the local time.", "functions": [{"name": "get_time", "description": "The time in a city.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]},"#);
    h.keys("<c-s>");
    assert!(h.app.overlay.is_none(), "{:?}", h.app.toast);
    let trajectory_before = h.store.sample(&id).unwrap().sample.trajectory;
    h.keys("g");
    assert!(matches!(h.app.overlay, Some(Overlay::Ask(_))), "{:?}", h.app.toast);
    let s = h.screen(100, 30);
    assert!(s.contains("edited functions by hand") && s.contains("keep every hand edit"), "{s}");
    both_sizes(&mut h, "ask_regenerate");
    // k keeps both hand edits and makes only the trajectory again.
    h.keys("k");
    let after = h.store.sample(&id).unwrap().sample;
    assert!(after.functions.iter().any(|f| f.functions.iter().any(|f| f.name == "get_time")), "the hand edit stays");
    assert!(after.composition.unwrap().task.starts_with("Urgent: "));
    assert_ne!(after.trajectory, trajectory_before, "the dialogue was made again");
    assert_eq!(h.store.row(&id).unwrap().summary.stale.ids(), "");
    assert_eq!(h.store.versions(&id).unwrap().len(), 1, "the previous version is kept");
    h.keys("D");
    let s = h.screen(100, 60);
    assert!(s.contains("edit of /composition") && s.contains("edit of /functions"), "{s}");
    h.keys("<esc>");

    // On a real endpoint, ctrl-g says how many samples and calls before it starts.
    h.app.simulated = false;
    lineage_part(&mut h, button::domain::Part::Composition);
    h.keys("e");
    h.keys("Now: <c-s>");
    let asked = h.asked.len();
    h.keys("<c-g>");
    let s = h.screen(100, 30);
    assert!(
        s.contains("1 stale sample and 2 failed samples would be made again") && s.contains("about 30 LLM calls"),
        "{s}"
    );
    h.keys("n");
    assert!(h.app.overlay.is_none());
    assert_eq!(h.asked.len(), asked, "nothing started");
    assert_eq!(h.store.row(&id).unwrap().summary.stale.ids(), "filter functions trajectory");
    // y regenerates over the functions edit; D still shows it, kept by the previous version.
    h.keys("gy");
    let after = h.store.sample(&id).unwrap().sample;
    assert!(!after.functions.iter().any(|f| f.functions.iter().any(|f| f.name == "get_time")), "made again");
    assert_eq!(h.store.row(&id).unwrap().summary.stale.ids(), "");
    h.keys("D");
    let s = h.screen(120, 80);
    assert!(s.contains("edit of /functions (replaced by a regeneration; previous version #"), "{s}");
}

#[test]
fn undo_of_a_change_on_a_sample_not_on_screen_asks_first() {
    let mut h = H::new(false);
    select_complete(&mut h);
    let id = h.selected_id();
    lineage_part(&mut h, button::domain::Part::Composition);
    h.keys("e");
    h.keys("Urgent: <c-s>");
    h.keys("<tab>j");
    assert_ne!(h.selected_id(), id);
    h.keys("u");
    assert!(matches!(h.app.overlay, Some(Overlay::Ask(_))), "{:?}", h.app.toast);
    let s = h.screen(100, 30);
    assert!(s.contains("edit of /composition on") && s.contains(&id), "{s}");
    h.keys("n");
    assert!(h.store.sample(&id).unwrap().sample.composition.unwrap().task.starts_with("Urgent: "), "not undone");
    h.keys("uy");
    assert!(!h.store.sample(&id).unwrap().sample.composition.unwrap().task.starts_with("Urgent: "), "undone");
    assert_eq!(h.selected_id(), id, "the list goes to the sample undone");
    // A verdict is undone at once, back on its sample (review's one-key flow).
    h.keys("a");
    assert_ne!(h.selected_id(), id);
    h.keys("u");
    assert!(h.app.overlay.is_none());
    assert_eq!((h.selected_id(), h.verdict(&id)), (id.clone(), None));
}

#[test]
fn function_schemas_are_checked_as_you_type_and_bad_ones_are_not_saved() {
    let mut h = H::new(false);
    select_complete(&mut h);
    let id = h.selected_id();
    let before = h.store.sample(&id).unwrap().sample.functions;
    h.keys("<tab>jjjje");
    h.keys("}");
    let s = h.screen(100, 30);
    assert!(s.contains("✗ line 1, column 1: JSON syntax"), "{s}");
    both_sizes(&mut h, "editor_functions_error");
    h.keys("<c-s>");
    assert!(matches!(h.app.overlay, Some(Overlay::Editor(_))), "stays open");
    assert!(h.app.toast.as_ref().unwrap().0.starts_with("not saved: line 1, column 1"));
    // Esc with changes asks first; a second one discards them.
    h.keys("<esc>");
    assert!(matches!(h.app.overlay, Some(Overlay::Editor(_))), "one esc does not throw an edit away");
    assert!(h.screen(100, 30).contains("unsaved changes: esc again discards them"));
    h.keys("<esc>");
    assert!(h.app.overlay.is_none());
    assert_eq!(h.store.sample(&id).unwrap().sample.functions, before);

    // A valid change, and its semantic diff: a function added with its sub-task.
    h.keys("e<end>");
    h.keys(r#"{"sub_task": "Tell the local time.", "functions": [{"name": "get_time", "description": "The time in a city.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]},"#);
    h.keys("<c-d>");
    let s = h.screen(100, 30);
    assert!(s.contains("+ function get_time added"), "{s}");
    both_sizes(&mut h, "editor_schema_diff");
    h.keys("<c-d><c-s>");
    let after = h.store.sample(&id).unwrap().sample;
    assert_eq!(after.functions.len(), before.len() + 1);
    assert_eq!(after.edits[0].original, serde_json::to_value(&before).unwrap(), "the original is kept");
    assert_eq!(h.store.row(&id).unwrap().summary.stale.ids(), "trajectory");
}

#[test]
fn a_fork_is_compared_side_by_side_and_the_kept_branch_can_be_undone() {
    let mut h = H::new(false);
    select_complete(&mut h);
    let id = h.selected_id();
    let before = h.store.sample(&id).unwrap().sample.trajectory.unwrap();
    let last_call = h.store.calls_for(&id).unwrap().last().unwrap().id;
    h.keys("<enter>b");
    h.keys("Actually, ");
    h.keys("<c-s>");
    let Some(Overlay::Compare(c)) = &h.app.overlay else { panic!("no comparison: {:?}", h.app.toast) };
    let fork = c.fork.clone().unwrap();
    assert!(matches!(&fork.messages[0], button::model::Message::User { content } if content.starts_with("Actually, ")));
    assert_eq!(h.store.sample(&id).unwrap().sample.trajectory.unwrap(), before, "untouched until kept");
    both_sizes(&mut h, "fork_compare");
    // Left aside with esc, it waits: b reopens it rather than forking anew.
    h.keys("<esc>");
    assert!(h.app.overlay.is_none());
    h.keys("b");
    assert!(matches!(&h.app.overlay, Some(Overlay::Compare(c)) if c.fork.as_ref() == Some(&fork)), "{:?}", h.app.toast);
    h.keys("nn2");
    assert_eq!(h.store.sample(&id).unwrap().sample.trajectory.unwrap(), fork);
    // The kept branch's turns point at the calls that made them, the fork's own.
    let d = h.app.detail.as_ref().unwrap();
    let call = &d.calls[d.turn_calls[1].unwrap()];
    assert_eq!(call.step, "assistant_agent");
    assert!(call.id > last_call, "call #{} is from before the fork", call.id);
    assert!(h.store.versions(&id).unwrap().is_empty(), "the kept fork is no longer aside");
    h.keys("u");
    assert_eq!(h.store.sample(&id).unwrap().sample.trajectory.unwrap(), before);
}

#[test]
fn a_template_edited_in_the_tui_makes_the_step_answer_anew_beside_the_old_reply() {
    let mut h = H::new(false);
    select_complete(&mut h);
    h.keys("<tab>j");
    assert_eq!(h.app.lineage_part, button::domain::Part::AtomicTask);
    h.keys("l");
    let Some(Overlay::Call(button::tui::overlay::CallView { index, .. })) = &h.app.overlay else {
        panic!("no call: {:?}", h.app.toast)
    };
    let old = h.app.detail.as_ref().unwrap().calls[*index].clone();
    assert_eq!(old.step, "atomic_task");
    both_sizes(&mut h, "call_side_by_side");
    h.keys("t");
    assert!(matches!(&h.app.overlay, Some(Overlay::Editor(st)) if st.text().contains("{{ scenario }}")));
    h.keys("Be brief. ");
    h.keys("<c-s>");
    let saved = std::fs::read_to_string(h.dir.path().join("prompts/atomic_task.jinja")).unwrap();
    assert!(saved.starts_with("Be brief. "));
    // Saved, the loop is back at the call it came from.
    assert!(matches!(&h.app.overlay, Some(Overlay::Call(c)) if c.index == index_of(&h, old.id)));
    h.keys("r");
    let Some(Overlay::CallCompare(cc)) = &h.app.overlay else { panic!("no comparison") };
    let (o, new) = (cc.old.clone(), cc.new.clone());
    assert_eq!(o.id, old.id);
    // The step was asked again as a job of the pipeline: shown there as a call.
    assert_eq!(h.app.run.calls_done, 1, "the re-ask is a call of the pipeline view");
    assert_ne!(new.template_version, old.template_version);
    assert!(new.prompt.contains("Be brief. "));
    // Old and new side by side: reply, parse and prompt.
    let s = h.screen(100, 30);
    assert!(s.contains("before: reply, parse, prompt") && s.contains("now: reply, parse, prompt"), "{s}");
    both_sizes(&mut h, "call_rerun");
    let (new_id, new_task) = (new.id, new.parse_result.clone().unwrap());
    // The loop goes on from here: t edits the template again and comes back to the call.
    h.keys("t");
    assert!(matches!(&h.app.overlay, Some(Overlay::Editor(_))));
    h.keys("<esc>");
    assert!(matches!(&h.app.overlay, Some(Overlay::Call(_))), "back at the call");
    h.keys("r");
    // K keeps the new reply for the sample: a hand edit, the parts after it stale.
    let id = h.selected_id();
    h.keys("K");
    let kept = h.store.sample(&id).unwrap().sample.atomic_task.unwrap();
    let newest = match &h.app.detail.as_ref().unwrap().calls.iter().max_by_key(|c| c.id) {
        Some(c) => c.parse_result.clone().unwrap(),
        None => panic!("no calls"),
    };
    assert!(new_id < h.app.detail.as_ref().unwrap().calls.iter().map(|c| c.id).max().unwrap());
    assert_eq!(serde_json::to_string(&kept).unwrap(), newest, "the newest reply kept (the first was {new_task})");
    assert_eq!(h.store.row(&id).unwrap().summary.stale.ids(), "composition filter functions trajectory");
    h.keys("u");
    assert_eq!(h.store.row(&id).unwrap().summary.stale.ids(), "", "u takes it back");
    // n: the same step's call of the next sample, ready to ask again.
    h.keys("lr");
    assert!(matches!(&h.app.overlay, Some(Overlay::CallCompare(_))));
    h.keys("n");
    assert_ne!(h.selected_id(), id);
    let Some(Overlay::Call(c)) = &h.app.overlay else { panic!("no call of the next sample: {:?}", h.app.toast) };
    assert_eq!(h.app.detail.as_ref().unwrap().calls[c.index].step, "atomic_task");
    // A template that does not render is not saved.
    h.keys("<esc>lt{{ nope }}");
    let s = h.screen(100, 30);
    assert!(s.contains("✗ line 1"), "{s}");
    h.keys("<c-s><esc>");
    assert_eq!(std::fs::read_to_string(h.dir.path().join("prompts/atomic_task.jinja")).unwrap(), saved);
}

#[test]
fn an_endpoint_that_goes_down_pauses_the_run_says_so_and_p_resumes() {
    let mut h = H::new(false);
    h.keys("1");
    h.keys("s");
    h.msg(Msg::RunStarted { target: 20, already_done: 0, concurrency: Some(16), simulated: false });
    h.asked.clear();
    h.msg(Msg::Pipeline(Event::EndpointDown { message: "the endpoint looks down: 8 calls in a row failed".into() }));
    assert_eq!(h.app.run.status, button::progress::RunStatus::Paused);
    let toast = &h.app.toast.as_ref().unwrap().0;
    assert!(
        toast.starts_with("the endpoint looks down") && toast.ends_with("the run is paused (p resumes)"),
        "{toast}"
    );
    h.keys("p");
    assert_eq!(h.asked, vec![Effect::Run(RunFx::Resume)]);
    assert_eq!(h.app.run.status, button::progress::RunStatus::Running);
}

/// A workspace where replies often can't be used: re-asks rescue most, and some samples
/// fail in their dialogue after all.
fn reasked_workspace() -> tempfile::TempDir {
    generated(RunConfig { samples: 30, seed: 8, active_samples: 1, reasks: 1, ..RunConfig::default() }, 0.3)
}

#[test]
fn the_lineage_shows_re_asks_and_where_a_failed_dialogue_stopped() {
    let mut h = H::on(reasked_workspace(), false);
    // A sample whose dialogue failed part way keeps it, and says where and why.
    let failed_in_dialogue = (0..h.app.list.rows.len()).find(|i| {
        let r = &h.app.list.rows[*i].summary;
        r.stage.is_failed() && r.turns > 0
    });
    let i = failed_in_dialogue.expect("a sample failed in its dialogue");
    while h.selected_id() != h.app.list.rows[i].id {
        h.keys("j");
    }
    // Each part of the lineage says how often its step was asked again.
    h.keys("<tab>");
    let mut screens = Vec::new();
    for _ in 0..6 {
        screens.push(h.screen(100, 40));
        h.keys("j");
    }
    let last = screens.last().unwrap();
    assert!(last.contains("as far as it"), "{last}");
    assert!(screens.iter().any(|s| s.contains("re-asked")), "{}", screens.join("\n"));
    // Its trajectory opens, up to where it stopped.
    h.keys("<esc><enter>");
    assert_eq!(h.app.view, View::Trajectory);
}

#[test]
fn failed_samples_are_retried_one_or_every_one_in_the_filter() {
    let mut h = H::new(false);
    let failed = h.store.failed_ids().unwrap();
    assert!(failed.len() >= 2, "the workspace has failed samples: {failed:?}");
    h.keys("<home>");
    while !h.app.selected().unwrap().summary.stage.is_failed() {
        h.keys("j");
    }
    let id = h.selected_id();
    h.keys("g");
    assert!(!h.store.row(&id).unwrap().summary.stage.is_failed(), "made again");
    let versions = h.store.versions(&id).unwrap();
    assert_eq!(versions.iter().map(|v| v.2.as_str()).collect::<Vec<_>>(), ["failed"]);
    // Every failed sample in the filter, with ctrl-g.
    h.keys("F<right><right><esc>");
    let listed = h.app.list.visible.len();
    assert!(listed >= 1 && h.app.list.rows.iter().all(|r| r.id != id || !r.summary.stage.is_failed()));
    h.keys("<c-g>");
    let toast = h.app.toast.as_ref().unwrap().0.clone();
    assert!(
        toast.contains(&format!("run finished: {} complete", listed - h.store.failed_ids().unwrap().len())),
        "{toast}"
    );
    let left = h.store.failed_ids().unwrap();
    assert!(left.len() < listed, "{} of {listed} still failed", left.len());
}

#[test]
fn every_listed_sample_gets_one_verdict_after_a_question_that_says_how_many() {
    let mut h = H::new(true);
    let complete: Vec<String> =
        h.app.list.rows.iter().filter(|r| r.summary.stage.is_complete()).map(|r| r.id.clone()).collect();
    let listed = h.app.list.visible.len();
    assert!(complete.len() >= 3 && complete.len() < listed, "complete {} of {listed}", complete.len());
    select_complete(&mut h);
    let first = h.selected_id();
    h.keys("x2");
    assert_eq!(h.verdict(&first), Some(Verdict::Rejected));
    h.keys("A");
    let s = h.screen(100, 30);
    let n = complete.len();
    let text =
        format!("{n} listed samples will be accepted: {} without a verdict, 1 whose other verdict is replaced.", n - 1);
    assert!(s.replace('\n', " ").contains("Accept every listed sample?"), "{s}");
    assert!(h.app.overlay.as_ref().is_some_and(|o| matches!(o, Overlay::Ask(a) if a.text.starts_with(&text))), "{s}");
    both_sizes(&mut h, "accept_all");
    // n: nothing changes.
    h.keys("n");
    assert!(complete.iter().filter(|id| **id != first).all(|id| h.verdict(id).is_none()));
    h.keys("Ay");
    assert!(complete.iter().all(|id| h.verdict(id) == Some(Verdict::Accepted)));
    let (_, reviewed, acc, _, _) = h.app.list.review_progress();
    assert_eq!((reviewed, acc), (n, n), "the list shows it");
    // One u takes it all back, the rejection included; ctrl-r does it again.
    h.keys("u");
    assert_eq!(h.verdict(&first), Some(Verdict::Rejected));
    assert!(complete.iter().filter(|id| **id != first).all(|id| h.verdict(id).is_none()));
    assert_eq!(h.app.list.review_progress().1, 1);
    h.keys("<c-r>");
    assert!(complete.iter().all(|id| h.verdict(id) == Some(Verdict::Accepted)));

    // X asks why, then how many; the filter decides which.
    h.keys("F<right><esc>");
    h.keys("X");
    assert!(h.screen(100, 30).contains(&format!("Reject {n} samples: why?")));
    h.keys("<space>j<space><enter>");
    let ask = match &h.app.overlay {
        Some(Overlay::Ask(a)) => a.text.clone(),
        _ => panic!("no question"),
    };
    assert!(
        ask.starts_with(&format!(
            "{n} listed samples will be rejected for hallucinated function, bad arguments: 0 without a verdict, \
             {n} whose other verdict is replaced."
        )),
        "{ask}"
    );
    h.keys("y");
    let r = h.store.review(&first).unwrap().unwrap();
    assert_eq!(r.reasons, vec![RejectReason::HallucinatedFunction, RejectReason::BadArguments]);
    // Esc at the reasons gives no verdict, and the next x is about one sample again.
    let one = h.selected_id();
    h.keys("X<esc>x1");
    assert_eq!(h.store.review(&one).unwrap().unwrap().reasons, vec![RejectReason::HallucinatedFunction]);
    let other = complete.iter().find(|id| **id != one).unwrap();
    assert_eq!(h.store.review(other).unwrap().unwrap().reasons.len(), 2, "one sample rejected, not all");
}

#[test]
fn ctrl_r_redoes_what_u_undid_and_asks_first_on_another_sample() {
    let mut h = H::new(false);
    select_complete(&mut h);
    let id = h.selected_id();
    lineage_part(&mut h, button::domain::Part::Composition);
    h.keys("eUrgent: <c-s>");
    let task = |h: &H| h.store.sample(&id).unwrap().sample.composition.unwrap().task;
    assert!(task(&h).starts_with("Urgent: "));
    h.keys("u");
    assert!(!task(&h).starts_with("Urgent: "));
    assert!(h.app.toast.as_ref().unwrap().0.contains("(ctrl-r redoes it)"));
    // On another sample, redo asks first.
    h.keys("<tab>j");
    assert_ne!(h.selected_id(), id);
    h.keys("<c-r>");
    let s = h.screen(100, 30);
    assert!(s.contains("Redo on another sample?"), "{s}");
    h.keys("y");
    assert!(task(&h).starts_with("Urgent: "));
    assert_eq!(h.selected_id(), id, "the list went to the sample redone");
    h.keys("<c-r>");
    assert!(h.app.toast.as_ref().unwrap().0.starts_with("nothing to redo"));
}

#[test]
fn the_history_lists_every_step_and_restores_an_earlier_version_as_one_step() {
    let mut h = H::new(false);
    select_complete(&mut h);
    let id = h.selected_id();
    let original = h.store.sample(&id).unwrap().sample;
    lineage_part(&mut h, button::domain::Part::Composition);
    h.keys("eUrgent: <c-s>");
    let edited = h.store.sample(&id).unwrap().sample;
    h.keys("g");
    let regenerated = h.store.sample(&id).unwrap().sample;
    assert_ne!(regenerated.trajectory, edited.trajectory, "made again");
    h.keys("a");
    assert_eq!(h.verdict(&id), Some(Verdict::Accepted));
    h.keys("<home>");
    select_complete(&mut h);
    assert_eq!(h.selected_id(), id);
    h.keys("H");
    let s = h.screen(100, 30);
    assert!(s.contains(&format!("History of {id} (3)")), "{s}");
    assert!(s.contains("verdict accepted") && s.contains("as it was before a regeneration"), "{s}");
    assert!(s.contains("#1 edit of /composition"), "{s}");
    both_sizes(&mut h, "history");
    // The version kept by the regeneration: the sample as it was, in one step.
    h.keys("j<enter>");
    let s = h.screen(100, 30);
    assert!(s.contains("Restore version #"), "{s}");
    h.keys("y");
    let now = h.store.sample(&id).unwrap().sample;
    assert_eq!(
        (now.composition, now.functions, now.trajectory),
        (edited.composition, edited.functions, edited.trajectory)
    );
    assert_eq!(h.verdict(&id), None, "the accepted content is not there any more");
    // u takes it back, verdict included.
    h.keys("u");
    assert_eq!(h.store.sample(&id).unwrap().sample.trajectory, regenerated.trajectory);
    assert_eq!(h.verdict(&id), Some(Verdict::Accepted));
    // Back to before the edit: the sample as it was made first, though a regeneration came since.
    h.keys("H<end><enter>");
    assert!(h.screen(100, 30).contains("back as it was before edit #"));
    h.keys("y");
    let now = h.store.sample(&id).unwrap().sample;
    assert_eq!(
        (now.composition, now.functions, now.trajectory),
        (original.composition, original.functions, original.trajectory)
    );
    assert!(now.edits.is_empty());
    assert_eq!(h.store.row(&id).unwrap().summary.stale.ids(), "", "consistent: nothing stale");
    // A verdict in the history is undone with u, not restored.
    h.keys("H");
    let n = match &h.app.overlay {
        Some(Overlay::History(x)) => x.items.len(),
        _ => panic!("no history"),
    };
    assert!(n >= 7, "{n}");
    h.keys("<esc>");
    assert!(h.app.overlay.is_none());
}

/// The text of the cells drawn reversed (a search match), row by row.
fn reversed(h: &mut H, w: u16, ht: u16) -> Vec<String> {
    let term = h.d.draw(w, ht);
    let buf = term.backend().buffer();
    let mut out = Vec::new();
    for y in 0..ht {
        let mut run = String::new();
        for x in 0..w {
            let c = &buf[(x, y)];
            if c.modifier.contains(ratatui::style::Modifier::REVERSED) {
                run.push_str(c.symbol());
            } else if !run.is_empty() {
                out.push(std::mem::take(&mut run));
            }
        }
        if !run.is_empty() {
            out.push(run);
        }
    }
    out
}

#[test]
fn search_matches_are_highlighted_and_n_goes_from_match_to_match_across_samples() {
    let mut h = H::new(false);
    h.keys("/forecast<enter>");
    let found = h.app.list.visible.len();
    assert!(found >= 2, "{found}");
    // The lineage marks the word wherever it is, whatever its case.
    let marks = reversed(&mut h, 100, 30);
    assert!(!marks.is_empty() && marks.iter().all(|m| m.eq_ignore_ascii_case("forecast")), "{marks:?}");
    // In the trajectory, n goes to the next turn that matches, then on into the next sample.
    h.keys("<enter>");
    let first = h.selected_id();
    let mut seen = vec![(first.clone(), h.app.turn)];
    for _ in 0..12 {
        h.keys("n");
        let at = (h.selected_id(), h.app.turn);
        if seen.contains(&at) {
            break;
        }
        let d = h.app.shown_detail().unwrap();
        let m = &d.sample.trajectory.as_ref().unwrap().messages[h.app.turn];
        assert!(serde_json::to_string(m).unwrap().to_lowercase().contains("forecast"), "{at:?} does not match");
        seen.push(at);
    }
    let samples: std::collections::HashSet<&String> = seen.iter().map(|s| &s.0).collect();
    assert!(samples.len() >= 2, "n stayed in one sample: {seen:?}");
    let marks = reversed(&mut h, 100, 30);
    assert!(marks.iter().any(|m| m.eq_ignore_ascii_case("forecast")), "{marks:?}");
    both_sizes(&mut h, "search_in_trajectory");
    // N goes back the same way.
    let (last_id, last_turn) = seen.last().cloned().unwrap();
    assert_eq!((h.selected_id(), h.app.turn), (last_id, last_turn));
    h.keys("N");
    assert_eq!((h.selected_id(), h.app.turn), seen[seen.len() - 2]);
    // Without a search, n is the next turn again.
    h.keys("<esc>0");
    h.keys("<enter>");
    let t = h.app.turn;
    h.keys("n");
    assert_eq!(h.app.turn, t + 1);
}

#[test]
fn the_errors_panel_sorts_reasons_by_count_scrolls_and_enter_lists_their_samples() {
    let dir = generated(RunConfig { samples: 30, seed: 3, active_samples: 1, reasks: 0, ..RunConfig::default() }, 0.12);
    let mut h = H::on(dir, false);
    h.keys("1");
    let reasons = h.app.list.failure_reasons();
    assert!(reasons.len() >= 3 && reasons[0].1 >= 2, "{reasons:?}");
    assert!(reasons.windows(2).all(|w| w[0].1 >= w[1].1), "most frequent first: {reasons:?}");
    let s = h.screen(100, 30);
    let line = |s: &str, r: &(String, usize)| s.find(&format!("{:>5}  {}", r.1, &r.0[..r.0.len().min(20)]));
    assert!(line(&s, &reasons[0]) < line(&s, &reasons[1]), "{s}");
    // At 80x24 the panel is short: the chosen reason scrolls into sight.
    h.keys(&"j".repeat(reasons.len()));
    let last = reasons.last().unwrap();
    let s = h.screen(80, 24);
    assert!(s.contains(&format!("{}/{}, enter lists them", reasons.len(), reasons.len())), "{s}");
    assert!(line(&s, last).is_some(), "{s}");
    both_sizes(&mut h, "errors_panel");
    // enter: the samples that failed for it, and only those.
    h.keys("kk<enter>");
    let chosen = &reasons[reasons.len() - 3];
    assert_eq!(h.app.view, View::Samples);
    assert_eq!(h.app.list.visible.len(), chosen.1);
    assert!(h.app.list.visible.iter().all(|i| h.app.list.rows[*i].summary.failure_reason.as_ref() == Some(&chosen.0)));
    let s = h.screen(100, 30);
    assert!(s.contains(&format!("failed={}", &chosen.0[..12])), "{s}");
    h.keys("<esc>");
    assert_eq!(h.app.list.visible.len(), h.app.list.rows.len(), "esc lists every sample again");
}

#[test]
fn target_and_concurrency_are_typed_as_numbers_and_bad_ones_are_refused() {
    let mut h = H::new(false);
    h.keys("1t");
    assert!(h.screen(100, 30).contains("Set the target (samples)"));
    both_sizes(&mut h, "type_target");
    // The field holds the target, selected: typing replaces it.
    h.keys("5400<enter>");
    assert_eq!((h.app.target, h.app.run.target), (5400, 5400));
    h.keys("tabc<enter>");
    assert!(h.app.toast.as_ref().unwrap().0.contains("\"abc\" is not a number"));
    assert!(h.app.overlay.is_some(), "stays open to fix it");
    h.keys("<c-u>0<enter>");
    assert!(h.app.toast.as_ref().unwrap().0.contains("takes 1 to 10000000"));
    h.keys("<esc>");
    assert_eq!(h.app.target, 5400, "esc leaves it as it was");
    h.keys("C64<enter>");
    assert_eq!(h.app.run.concurrency, Some(64));
    assert!(h.asked.is_empty(), "no run in flight: nothing to tell the pipeline yet");
    h.keys("s");
    assert_eq!(h.asked, vec![Effect::Run(RunFx::StartRun { target: 5400, concurrency: Some(64) })]);
}

#[test]
fn the_inspect_view_lists_every_atomic_task_with_its_samples_and_failures() {
    let dir = generated(RunConfig { samples: 30, seed: 3, active_samples: 1, reasks: 0, ..RunConfig::default() }, 0.12);
    let mut h = H::on(dir, false);
    h.keys("4");
    assert_eq!(h.app.view, View::Inspect);
    let groups = match &h.app.inspect.groups {
        Some(g) => g.clone(),
        None => panic!("the groups were not read"),
    };
    // Every sample with an atomic task is in exactly one group.
    let with_task =
        h.app.list.rows.iter().filter(|r| h.store.sample(&r.id).unwrap().sample.atomic_task.is_some()).count();
    assert_eq!(groups.iter().map(|g| g.samples.len()).sum::<usize>(), with_task);
    assert!(groups.windows(2).all(|w| w[0].samples.len() >= w[1].samples.len()), "most samples first");
    let s = h.screen(100, 30);
    assert!(s.contains(" Atomic tasks ") && s.contains(&format!("{} atomic tasks", groups.len())), "{s}");
    both_sizes(&mut h, "inspect_atomic_tasks");
    // The failures each produced: move to one that failed.
    let i = groups.iter().position(|g| g.failed > 0).expect("an atomic task whose sample failed");
    h.keys(&"j".repeat(i));
    let s = h.screen(100, 30);
    assert!(s.contains("the failures they met:") && s.contains(&groups[i].failures[0].0[..10]), "{s}");
    // enter: its samples, and only those, in the samples view.
    h.keys("<enter>");
    assert_eq!(h.app.view, View::Samples);
    let listed: Vec<String> = h.app.list.visible.iter().map(|i| h.app.list.rows[*i].id.clone()).collect();
    assert_eq!(listed, groups[i].samples);
    assert!(h.screen(100, 30).contains("atomic task \""));
    h.keys("<esc>");
    assert_eq!(h.app.list.visible.len(), h.app.list.rows.len());
    // l steps through the parts: compositions, functions, failures.
    h.keys("4l");
    assert_eq!(h.app.inspect.browse, button::inspect::Browse::Compositions);
    h.keys("l");
    let functions = h.app.inspect.groups.clone().unwrap();
    assert!(
        functions.iter().any(|g| g.key == "search_flights"),
        "{:?}",
        functions.iter().map(|g| &g.key).collect::<Vec<_>>()
    );
    both_sizes(&mut h, "inspect_functions");
    h.keys("l");
    let failures = h.app.inspect.groups.clone().unwrap();
    assert_eq!(failures.iter().map(|g| g.samples.len()).sum::<usize>(), h.store.failed_ids().unwrap().len());
    h.keys("G<enter>");
    assert_eq!(h.app.list.visible.len(), failures.last().unwrap().samples.len());

    // Read again only after a write: an edit here, then one by another process.
    h.keys("<esc>4hhh");
    assert_eq!(h.app.inspect.browse, button::inspect::Browse::AtomicTasks);
    assert_eq!(h.app.inspect.groups.as_ref().unwrap(), &groups, "nothing written: the same groups");
    let id = groups[0].samples[0].clone();
    h.store.edit_field(&id, "/atomic_task", serde_json::json!("Find a quiet café in Lyon.")).unwrap();
    h.keys("2");
    h.keys("4");
    let now = h.app.inspect.groups.clone().unwrap();
    assert!(now.iter().any(|g| g.key == "Find a quiet café in Lyon." && g.samples == [id.clone()]), "the edit shows");
    let mut other = Store::open(h.dir.path(), false).unwrap();
    let second = groups[1].samples[0].clone();
    other.edit_field(&second, "/atomic_task", serde_json::json!("Book a table in Oslo.")).unwrap();
    h.keys("2");
    h.keys("4");
    let now = h.app.inspect.groups.clone().unwrap();
    assert!(now.iter().any(|g| g.key == "Book a table in Oslo."), "another process's edit shows too");
}

#[test]
fn the_compact_trajectory_shows_a_turn_a_line_and_enter_opens_one_in_full() {
    let mut h = H::new(false);
    select_complete(&mut h);
    h.keys("<enter>");
    let full = h.screen(100, 30);
    h.keys("c");
    assert!(h.app.compact);
    let s = h.screen(100, 30);
    let msgs = h.app.shown_detail().unwrap().sample.trajectory.as_ref().unwrap().messages.clone();
    // Every turn on one line: the user's words, the calls with their arguments, the results.
    for (i, m) in msgs.iter().enumerate() {
        let head = format!("{} {:<9} ", i + 1, m.role().to_uppercase());
        assert_eq!(s.matches(&head).count(), 1, "turn {} not on one line:\n{s}", i + 1);
    }
    assert!(s.contains("search_flights({\"") && s.contains("final: "), "{s}");
    assert!(s.lines().count() <= full.lines().count());
    both_sizes(&mut h, "trajectory_compact");
    // enter opens the current turn in full; the others stay one line each.
    h.keys("G<enter>");
    let s = h.screen(100, 30);
    assert!(s.contains("final answer:"), "{s}");
    assert!(s.contains("1 USER      "), "{s}");
    h.keys("<enter>");
    assert!(!h.screen(100, 30).contains("final answer:"));
    h.keys("c");
    assert!(!h.app.compact && h.screen(100, 30).contains("final answer:"));
}

/// The index of call `id` in the loaded sample's calls.
fn index_of(h: &H, id: i64) -> usize {
    h.app.detail.as_ref().unwrap().calls.iter().position(|c| c.id == id).unwrap()
}

#[test]
fn l_shows_the_workspace_log_newest_first_with_every_message_whole() {
    let mut h = H::new(false);
    let long = format!("toast: {}", "a message longer than any status line can show ".repeat(3));
    std::fs::write(button::log::path(h.dir.path()), format!("first line\nsecond line\n{long}\n")).unwrap();
    h.keys("L");
    let Some(Overlay::Diff(d)) = &h.app.overlay else { panic!("no log: {:?}", h.app.toast) };
    let lines: Vec<&str> = d.lines.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(lines, [long.as_str(), "second line", "first line"]);
    let s = h.screen(100, 30);
    assert!(s.contains("workspace log, newest first") && s.contains("can show a message longer"), "{s}");
    h.keys("<esc>");
    assert!(h.app.overlay.is_none());
}

#[test]
fn page_keys_move_through_a_long_text_in_the_editor() {
    let mut h = H::new(false);
    select_complete(&mut h);
    lineage_part(&mut h, button::domain::Part::Functions);
    h.keys("e");
    let lines = match &h.app.overlay {
        Some(Overlay::Editor(e)) => e.input.lines().len(),
        _ => panic!("no editor"),
    };
    assert!(lines > 40, "a long text: {lines} lines");
    let row = |h: &H| match &h.app.overlay {
        Some(Overlay::Editor(e)) => e.input.cursor().0,
        _ => panic!("no editor"),
    };
    h.screen(100, 30);
    h.keys("<home>");
    let top = row(&h);
    h.keys("<pgdn>");
    h.screen(100, 30);
    let down = row(&h);
    assert!(down >= top + 10, "pgdn moved {top} -> {down}");
    h.keys("<pgdn>");
    h.screen(100, 30);
    let further = row(&h);
    assert!(further > down);
    h.keys("<pgup><pgup>");
    h.screen(100, 30);
    let up = row(&h);
    assert!(up < further && up > 0, "pgup goes back a page at a time, not to line 1: {further} -> {up}");
}

#[test]
fn a_search_answered_after_enter_closed_the_field_still_applies() {
    let mut h = H::new(false);
    let all = h.app.list.visible.len();
    // Keys straight to the app; the store answers only after enter (a slow disk, a paste).
    let mut fx = Vec::new();
    for k in button::tui::driver::parse_keys("/forecast<enter>") {
        fx.extend(h.d.app.update(Msg::Key(k)));
    }
    assert!(h.app.overlay.is_none() && h.app.list.search.is_none());
    h.d.run(fx);
    let found = h.app.list.visible.len();
    assert!(h.app.list.search.is_some() && found < all, "{found} of {all}");
    // A late answer to a search cleared since does not bring it back.
    let mut fx = Vec::new();
    for k in button::tui::driver::parse_keys("/weather<enter><esc>") {
        fx.extend(h.d.app.update(Msg::Key(k)));
    }
    h.d.run(fx);
    assert!(h.app.list.search.is_none() && h.app.list.visible.len() == all);
}

#[test]
fn every_turn_after_a_regeneration_and_a_kept_fork_opens_the_call_that_made_it() {
    use button::model::Message;
    let mut h = H::new(false);
    select_complete(&mut h);
    let id = h.selected_id();
    lineage_part(&mut h, button::domain::Part::Composition);
    // Made again twice: the workspace keeps the calls of every generation.
    h.keys("eUrgent: <c-s>g");
    lineage_part(&mut h, button::domain::Part::Composition);
    h.keys("eVery <c-s>g");
    let regenerated = h.store.versions(&id).unwrap().iter().map(|v| v.1).max().unwrap();
    // A fork from the first turn, kept.
    h.keys("<enter><home>b");
    h.keys("Actually, <c-s>");
    assert!(matches!(&h.app.overlay, Some(Overlay::Compare(_))), "{:?}", h.app.toast);
    h.keys("2");
    let d = h.app.detail.clone().unwrap();
    let t = d.sample.trajectory.clone().unwrap();
    assert!(matches!(&t.messages[0], Message::User { content } if content.starts_with("Actually, ")));
    for (i, m) in t.messages.iter().enumerate() {
        let Some(c) = d.turn_calls[i].map(|k| &d.calls[k]) else {
            assert_eq!(i, 0, "turn {} has no call", i + 1);
            continue;
        };
        let agent = match m {
            Message::User { .. } => "user_agent",
            Message::Assistant { .. } => "assistant_agent",
            Message::Tool { .. } => "tool_agent",
        };
        assert_eq!(c.step, agent, "turn {}", i + 1);
        assert!(c.started_at >= regenerated, "turn {} opens call #{}, from before the last regeneration", i + 1, c.id);
        if let (Message::User { content }, 1..) = (m, i) {
            assert_eq!(c.parse_result.as_deref(), Some(serde_json::to_string(content).unwrap().as_str()));
        }
    }
    // The edited turn says so, and l opens the call that first made it, of this generation.
    h.keys("<home>l");
    if let Some(Overlay::Call(c)) = &h.app.overlay {
        assert!(d.calls[c.index].started_at >= regenerated);
    }
}

#[test]
fn g_and_end_go_to_the_end_of_a_text_overlay_and_k_comes_back_from_there() {
    let mut h = H::new(false);
    h.keys("?");
    h.screen(100, 30);
    h.keys("G");
    let s = h.screen(100, 30);
    assert!(s.contains("Any key above can be changed in button.toml"), "the last line in sight:\n{s}");
    let at = |h: &H| match &h.app.overlay {
        Some(Overlay::Help(x)) => x.scroll.0,
        _ => panic!("no help"),
    };
    let bottom = at(&h);
    assert!(bottom > 100 && bottom < u16::MAX, "{bottom}");
    h.keys("k");
    assert_eq!(at(&h), bottom - 1, "one line up from the end, not from past it");
    h.keys("g");
    assert_eq!(at(&h), 0);
}
