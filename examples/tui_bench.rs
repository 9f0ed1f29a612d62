//! The TUI's speed on a big workspace, measured with the real app, views and store effects
//! (frames drawn on ratatui's `TestBackend` at 100x30). Run by benches/tui.sh:
//!
//!     cargo run --release --example tui_bench -- WORKSPACE

use std::time::{Duration, Instant};

use button::sim::Simulator;
use button::store::Store;
use button::tui::app::{App, Effect, Init, Msg};
use button::tui::driver::Driver;
use button::tui::keymap::Keymap;
use button::tui::theme::Theme;
use button::tui::view;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn draw(term: &mut Terminal<TestBackend>, app: &mut App) {
    let mut areas = app.areas;
    term.draw(|f| areas = view::draw(f, app)).unwrap();
    app.areas = areas;
}

fn key(app: &mut App, c: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    let p99 = v[(v.len() * 99 / 100).min(v.len() - 1)];
    println!(
        "{name}: {} samples, mean {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        v.len(),
        mean.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        v.last().unwrap().as_secs_f64() * 1e3
    );
}

fn main() {
    let ws = std::env::args().nth(1).expect("usage: tui_bench WORKSPACE");
    let ws = std::path::Path::new(&ws);
    let started = Instant::now();
    let store = Store::open(ws, false).expect("a workspace");
    let init = Init {
        workspace_label: ws.display().to_string(),
        keymap: Keymap::default(),
        theme: Theme::builtin("dark").unwrap(),
        themes: vec![Theme::builtin("dark").unwrap()],
        simulated: true,
        target: 20,
        concurrency: Some(16),
        review_queue: false,
        seed: 0,
        notice: None,
    };
    let (mut app, fx) = App::new(init);
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    draw(&mut term, &mut app);
    let mut d = Driver::from_app(app, store, Simulator { seed: 0, malformed_rate: 0.0 });
    println!("first frame (loading the list): {:.0} ms after start", started.elapsed().as_secs_f64() * 1e3);
    d.run(fx);
    draw(&mut term, &mut d.app);
    println!(
        "list of {} samples loaded and drawn, first sample's lineage shown: {:.0} ms after start",
        d.app.list.rows.len(),
        started.elapsed().as_secs_f64() * 1e3
    );

    let left = d.store.unindexed_count().unwrap();
    if left > 0 {
        let t = Instant::now();
        while d.store.index_pending(500).unwrap() > 0 {}
        println!(
            "search index built in the background: {left} samples in {:.1} s (once per workspace)",
            t.elapsed().as_secs_f64()
        );
    }

    // Cursor moves: the key's update and the frame drawn after it (the sample's lineage
    // comes from the worker a moment later, measured on its own below).
    let mut moves = Vec::new();
    let mut loads = Vec::new();
    for i in 0..2000 {
        let t = Instant::now();
        let fx = key(&mut d.app, if i % 500 < 400 { KeyCode::Char('j') } else { KeyCode::Char('k') });
        draw(&mut term, &mut d.app);
        moves.push(t.elapsed());
        let t = Instant::now();
        d.run(fx);
        draw(&mut term, &mut d.app);
        loads.push(t.elapsed());
    }
    stats("cursor move: key -> frame", moves);
    stats("selected sample read, linted and drawn (worker)", loads);
    let mut pages = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let fx = key(&mut d.app, KeyCode::PageDown);
        draw(&mut term, &mut d.app);
        pages.push(t.elapsed());
        d.run(fx);
    }
    stats("page down: key -> frame", pages);

    // A run in flight: 128 calls out, events arriving as fast as the engine makes them
    // (about 5,900 calls/s measured, 3 events a call). The event loop takes input first
    // and applies at most 20,000 queued messages between two looks at the keyboard, so a
    // key waits at most for one such batch and a frame.
    {
        use button::domain::Step;
        use button::pipeline::Event;
        let mut pipe = Vec::new();
        let _ =
            d.app.update(Msg::RunStarted { target: 100_000, already_done: 0, concurrency: Some(128), simulated: true });
        for call in 0..128u64 {
            pipe.push(Event::CallStarted { call, step: Step::AssistantAgent, sample: format!("s0-{call:06}") });
            pipe.push(Event::CallSent { call });
        }
        let mut next = 128u64;
        let mut batches = Vec::new();
        let mut keys = Vec::new();
        for _ in 0..50 {
            while pipe.len() < 20_000 {
                let done = next - 128;
                pipe.push(Event::CallFinished {
                    call: done,
                    step: Step::AssistantAgent,
                    latency_ms: 200,
                    tokens: 500,
                    cached: false,
                    reask: 0,
                    usable: true,
                });
                pipe.push(Event::CallStarted {
                    call: next,
                    step: Step::ToolAgent,
                    sample: format!("s0-{:06}", next % 5000),
                });
                pipe.push(Event::CallSent { call: next });
                pipe.push(Event::SampleStage {
                    sample: format!("s0-{:06}", next % 5000),
                    stage: button::domain::Part::Trajectory,
                });
                next += 1;
            }
            let t = Instant::now();
            for e in pipe.drain(..) {
                let _ = d.app.update(Msg::Pipeline(e));
            }
            batches.push(t.elapsed());
            let t = Instant::now();
            let _ = key(&mut d.app, KeyCode::Char('j'));
            draw(&mut term, &mut d.app);
            keys.push(t.elapsed());
        }
        stats("a batch of 20,000 pipeline events applied (128 calls in flight)", batches);
        stats("then a key -> frame", keys);
        let _ = d.app.update(Msg::RunFinished(Ok(button::pipeline::RunSummary::default())));
        let fx = key(&mut d.app, KeyCode::Char('k'));
        d.run(fx);
    }

    // Filters: each change refilters all rows and draws.
    let _ = key(&mut d.app, KeyCode::Char('F'));
    let mut filters = Vec::new();
    for (row, steps) in [(0usize, 4usize), (1, 3), (2, 7), (3, 6), (4, 5), (5, 3)] {
        for _ in 0..steps {
            let t = Instant::now();
            let fx = key(&mut d.app, KeyCode::Right);
            draw(&mut term, &mut d.app);
            filters.push(t.elapsed());
            d.run(fx);
        }
        if row < 5 {
            let _ = key(&mut d.app, KeyCode::Down);
        }
    }
    stats("filter change: key -> list refiltered and drawn", filters);
    let _ = key(&mut d.app, KeyCode::Esc);

    // Search: the index query, the refilter and the frame.
    for q in ["weather", "lisbon", "osaka priya", "search_prod", "model 7", "zzqqxx"] {
        let _ = key(&mut d.app, KeyCode::Char('/'));
        for c in q.chars() {
            let _ = key(&mut d.app, KeyCode::Char(c));
        }
        let t = Instant::now();
        d.run(vec![Effect::Store(button::tui::app::StoreFx::Search(q.to_string()))]);
        draw(&mut term, &mut d.app);
        println!(
            "search {q:?}: {} matches in {:.1} ms (query, refilter, frame)",
            d.app.list.search.as_ref().map_or(0, |s| s.1.len()),
            t.elapsed().as_secs_f64() * 1e3
        );
        let _ = key(&mut d.app, KeyCode::Esc);
    }

    // Inspect (4): every sample of the workspace read and grouped by part, on the worker.
    for by in button::inspect::Browse::ALL {
        let t = Instant::now();
        let msgs = button::tui::worker::execute(&mut d.store, button::tui::app::StoreFx::LoadGroups(by));
        let groups = match msgs.first() {
            Some(Msg::Groups { groups: Ok(g), .. }) => g.len(),
            _ => 0,
        };
        println!(
            "inspect {}: {groups} groups in {:.2} s (worker)",
            by.title().to_lowercase(),
            t.elapsed().as_secs_f64()
        );
    }

    let t = Instant::now();
    let _ = button::tui::worker::execute(
        &mut d.store,
        button::tui::app::StoreFx::LoadGroups(button::inspect::Browse::Functions),
    );
    println!(
        "inspect functions again (3 groups of 100,000 samples), nothing written since: {:.1} ms (worker)",
        t.elapsed().as_secs_f64() * 1e3
    );

    // A verdict for every listed sample (A then y), then one u taking it back.
    let _ = key(&mut d.app, KeyCode::Char('0'));
    let _ = key(&mut d.app, KeyCode::Char('A'));
    let t = Instant::now();
    let fx = key(&mut d.app, KeyCode::Char('y'));
    d.run(fx);
    draw(&mut term, &mut d.app);
    println!(
        "accept all {} listed: saved, list read again and drawn in {:.2} s",
        d.app.list.review_progress().2,
        t.elapsed().as_secs_f64()
    );
    let accepted = d.app.list.review_progress().2;
    let t = Instant::now();
    let fx = key(&mut d.app, KeyCode::Char('u'));
    d.run(fx);
    draw(&mut term, &mut d.app);
    println!(
        "one u: {} verdicts taken back, list read again and drawn in {:.2} s",
        accepted - d.app.list.review_progress().2,
        t.elapsed().as_secs_f64()
    );
}
