//! Pictures of the real views: a workspace is made (a simulated run, three imported lint
//! fixtures), the app is driven by keys, and each frame is written as an SVG. Run by
//! scripts/screenshots.sh, which turns them into PNGs with rsvg-convert.
//!
//!     cargo run --example screenshots -- OUT_DIR

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use button::backend::{Backend, Paced};
use button::ops::{self, FormatChoice};
use button::pipeline::{self, RunConfig};
use button::prompts::Prompts;
use button::sim::Simulator;
use button::store::Store;
use button::tui::app::{App, Init, Msg};
use button::tui::driver::Driver;
use button::tui::keymap::Keymap;
use button::tui::theme::Theme;
use button::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

const W: u16 = 100;
const H: u16 = 30;
const CW: f64 = 8.43;
const LH: f64 = 18.0;

fn rgb(c: Color, default: &str) -> String {
    match c {
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Reset => default.to_string(),
        Color::Black => "#000000".into(),
        Color::Red => "#cd3131".into(),
        Color::Green => "#0dbc79".into(),
        Color::Yellow => "#e5e510".into(),
        Color::Blue => "#2472c8".into(),
        Color::Magenta => "#bc3fbc".into(),
        Color::Cyan => "#11a8cd".into(),
        Color::Gray => "#e5e5e5".into(),
        Color::DarkGray => "#666666".into(),
        Color::White => "#ffffff".into(),
        _ => default.to_string(),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn svg(term: &Terminal<TestBackend>, theme: &Theme) -> String {
    let buf = term.backend().buffer();
    let page_bg = rgb(theme.bg, "#1c1c1c");
    let page_fg = rgb(theme.fg, "#d0d0d0");
    let (w, h) = (f64::from(W) * CW + 16.0, f64::from(H) * LH + 16.0);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\">\n<rect width=\"100%\" height=\"100%\" fill=\"{page_bg}\"/>\n<g font-family=\"DejaVu Sans Mono, monospace\" font-size=\"14\" xml:space=\"preserve\">\n"
    );
    for y in 0..H {
        let mut x = 0;
        while x < W {
            let cell = &buf[(x, y)];
            let (fg, bg, m) = (cell.fg, cell.bg, cell.modifier);
            let mut text = String::new();
            let start = x;
            while x < W {
                let c = &buf[(x, y)];
                if c.fg != fg || c.bg != bg || c.modifier != m {
                    break;
                }
                text.push_str(c.symbol());
                x += 1;
            }
            let (px, py) = (8.0 + f64::from(start) * CW, 8.0 + f64::from(y) * LH);
            let bgc = rgb(bg, &page_bg);
            if bgc != page_bg {
                let _ = writeln!(
                    out,
                    "<rect x=\"{px:.1}\" y=\"{py:.1}\" width=\"{:.1}\" height=\"{LH}\" fill=\"{bgc}\"/>",
                    f64::from(x - start) * CW
                );
            }
            if text.trim().is_empty() {
                continue;
            }
            let weight = if m.contains(Modifier::BOLD) { " font-weight=\"bold\"" } else { "" };
            let style = if m.contains(Modifier::ITALIC) { " font-style=\"italic\"" } else { "" };
            let _ = writeln!(
                out,
                "<text x=\"{px:.1}\" y=\"{:.1}\" fill=\"{}\" textLength=\"{:.1}\"{weight}{style}>{}</text>",
                py + 13.5,
                rgb(fg, &page_fg),
                f64::from(x - start) * CW,
                esc(&text)
            );
        }
    }
    out.push_str("</g>\n</svg>\n");
    out
}

/// The app driven by keys; `save` writes the frame as an SVG.
struct Shot {
    d: Driver,
    out: std::path::PathBuf,
}

impl Shot {
    fn keys(&mut self, keys: &str) {
        self.d.keys(keys);
    }
    fn save(&mut self, name: &str) {
        let term = self.d.draw(W, H);
        std::fs::write(self.out.join(format!("{name}.svg")), svg(&term, &self.d.app.theme)).unwrap();
        println!("{name}.svg");
    }
}

fn init() -> Init {
    Init {
        workspace_label: "~/data/travel".into(),
        keymap: Keymap::default(),
        theme: Theme::builtin("dark").unwrap(),
        themes: ["dark", "light", "high-contrast"].iter().map(|n| Theme::builtin(n).unwrap()).collect(),
        simulated: true,
        target: 60,
        concurrency: Some(16),
        review_queue: false,
        seed: 5,
        notice: None,
    }
}

fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: screenshots OUT_DIR"));
    std::fs::create_dir_all(&out).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    // The pipeline view: a real run on the paced simulator, caught half way.
    let (mut app, _) = App::new(init());
    rt.block_on(async {
        let cfg = RunConfig { samples: 60, seed: 5, ..RunConfig::default() };
        let backend = Backend::Paced(Box::new(Paced::new(Simulator { seed: 5, malformed_rate: 0.02 }, 150, 16)));
        let mut p =
            pipeline::start(ws, backend, Prompts::load(None).unwrap(), cfg, button::sources::builtin()).unwrap();
        app.update(Msg::RunStarted { target: 60, already_done: 0, concurrency: Some(16), simulated: true });
        app.view = button::tui::app::View::Pipeline;
        let start = Instant::now();
        let mut next_tick = Duration::from_millis(250);
        while start.elapsed() < Duration::from_millis(4200) {
            if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(20), p.events.recv()).await {
                app.clock = start.elapsed();
                app.update(Msg::Pipeline(e));
            }
            if start.elapsed() >= next_tick {
                app.update(Msg::Tick(start.elapsed()));
                next_tick += Duration::from_millis(250);
            }
        }
        app.clock = start.elapsed();
        let mut term = Terminal::new(TestBackend::new(W, H)).unwrap();
        term.draw(|f| {
            view::draw(f, &app);
        })
        .unwrap();
        std::fs::write(out.join("pipeline.svg"), svg(&term, &app.theme)).unwrap();
        println!("pipeline.svg");
        p.control.cancel();
        let _ = p.wait().await;
    });
    // Finish the run without pauses, then add imported samples.
    rt.block_on(async {
        let cfg = RunConfig { samples: 60, seed: 5, ..RunConfig::default() };
        let backend = Backend::Sim(Simulator { seed: 5, malformed_rate: 0.02 });
        let p = pipeline::start(ws, backend, Prompts::load(None).unwrap(), cfg, button::sources::builtin()).unwrap();
        let mut events = p.events;
        while events.recv().await.is_some() {}
    });
    let mut store = Store::open(ws, false).unwrap();
    for f in ["E05-unknown-argument", "W02-repeated-call"] {
        ops::import(&mut store, Path::new(&format!("tests/fixtures/lint/{f}.jsonl")), FormatChoice::Auto).unwrap();
    }
    let mut s = Shot { d: Driver::new(store, init(), Simulator { seed: 5, malformed_rate: 0.0 }), out };
    s.keys("jj");
    while s.d.app.selected().is_some_and(|r| !r.summary.stage.is_complete() || r.summary.calls < 3) {
        s.keys("j");
    }
    s.save("samples");
    s.keys("<tab>");
    s.keys("jj");
    s.save("lineage");
    s.keys("<tab><enter>");
    s.keys("nnn");
    s.save("trajectory");
    s.keys("l");
    s.save("llm-call");
    s.keys("<esc>");
    s.keys("x");
    s.save("reject-reason");
    s.keys("<esc><esc>");
    s.keys("F");
    s.keys("<right><down><down><down><right>");
    s.save("filters");
    s.keys("<esc>");
    s.keys("0/weather");
    s.save("search");
    s.keys("<esc>");
    s.keys("R");
    s.keys("aaxa");
    s.keys("2");
    s.keys("?");
    s.save("help");
    s.keys("<esc>");
    s.keys(":the");
    s.save("palette");
    s.keys("<esc>");
    s.d.app.set_theme_by_name("light");
    s.save("samples-light");
    s.d.app.set_theme_by_name("high-contrast");
    s.keys("3");
    s.save("trajectory-high-contrast");
    // The imported sample with a lint finding pinned to its message.
    s.d.app.set_theme_by_name("dark");
    s.keys("2G");
    s.keys("<enter>");
    s.keys("nnn");
    s.save("trajectory-imported-lint");

    // Editing: the composition, its diff, the sample made stale, then made again (on the
    // whole list: the queue would drop a reviewed sample when the list is read again).
    s.keys("20");
    s.keys("<home>");
    while s.d.app.selected().is_some_and(|r| !r.summary.stage.is_complete() || r.id.starts_with('t')) {
        s.keys("j");
    }
    s.keys("<tab>");
    s.keys("kkkkkjje");
    s.keys("Urgent: ");
    s.save("edit-composition");
    s.keys("<c-d>");
    s.save("edit-diff");
    s.keys("<c-d>");
    s.keys("<c-s>");
    s.save("lineage-stale");
    s.keys("g");
    s.keys("D");
    s.save("diff-after-regenerate");
    s.keys("<esc>");
    // A function schema with a mistake, checked as it is typed.
    s.keys("kkkkkjjjje");
    s.keys("<end>");
    s.keys(r#"{"sub_task": "Tell the time.", "functions": [{"name": "get_time", "description": "Time in a city.", "parameters": {"type": "object", "properties": {"city": {"type": "strng"}}, "required": ["town"]}}]},"#);
    s.keys("<enter>");
    s.save("edit-functions-check");
    // Unsaved changes: the first esc asks, the second discards them.
    s.keys("<esc><esc>");
    // A fork from the first turn, side by side.
    s.keys("<enter>");
    s.keys("b");
    s.keys("Actually, ");
    s.keys("<c-s>");
    s.keys("nn");
    s.save("fork-compare");
    s.keys("<esc>");
    // Prompt debugging: the call side by side, the template edited, the step asked again.
    s.keys("2");
    s.keys("kkkkkjl");
    s.save("call-side-by-side");
    s.keys("t");
    s.keys("Be brief. ");
    s.save("edit-template");
    // Saved, the call is back: r asks the step again, beside the call before.
    s.keys("<c-s>");
    s.keys("r");
    s.save("call-asked-again");
    s.keys("<esc>");
    // The history of the sample edited and made again above.
    s.keys("<tab><home>");
    while !s.d.app.selected().is_some_and(|r| s.d.store.versions(&r.id).is_ok_and(|v| !v.is_empty())) {
        s.keys("j");
    }
    s.keys("H");
    s.save("history");
    s.keys("<esc>");
    // Every listed sample at once: the question first.
    s.keys("A");
    s.save("accept-all");
    s.keys("n");
    // The compact trajectory.
    s.keys("<enter>c");
    s.save("trajectory-compact");
    s.keys("c");
    // Inspect: the atomic tasks, then the functions, across the workspace.
    s.keys("4");
    s.save("inspect");
    s.keys("ll");
    s.save("inspect-functions");
}
