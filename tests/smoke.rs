//! The real binary in a pseudo-terminal: it opens on the simulator, the pipeline makes
//! samples, `a` accepts one from the review queue, `q` quits, and the verdict is in the
//! workspace. The screen is read through a vt100 parser, as a terminal would show it.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use button::model::Verdict;
use button::store::{StatusFilter, Store};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
}

impl Screen {
    fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Polls the screen until `what` is on it, or fails with the screen shown.
    fn wait_for(&self, what: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.text().contains(what) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{what:?} did not appear within {within:?}; the screen:\n{}", self.text());
    }
}

#[test]
fn the_binary_runs_reviews_and_quits_in_a_pty() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    // A quicker simulator than the default, so the run ends in a second or two.
    std::fs::write(ws.join("button.toml"), "[run]\nsamples = 8\n\n[sim]\nlatency_ms = 20\n").unwrap();
    let pty = native_pty_system();
    let pair = pty.openpty(PtySize { rows: 30, cols: 100, pixel_width: 0, pixel_height: 0 }).unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_button"));
    cmd.arg("--workspace");
    cmd.arg(ws);
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("OPENAI_BASE_URL");
    let editor = ws.join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'Edited by EDITOR. ' | cat - \"$1\" > \"$1.new\" && mv \"$1.new\" \"$1\"\n",
    )
    .unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&editor).status().unwrap();
    cmd.env("EDITOR", &editor);
    cmd.env_remove("VISUAL");
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let writer = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZero::new(30).unwrap(),
        std::num::NonZero::new(100).unwrap(),
        0,
    )));
    {
        let parser = parser.clone();
        let writer = writer.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut p = parser.lock().unwrap();
                p.process(&buf[..n]);
                // Answer cursor-position queries the way a terminal does.
                if buf[..n].windows(4).any(|w| w == b"\x1b[6n") {
                    let (row, col) = p.screen().cursor_position();
                    let mut w = writer.lock().unwrap();
                    let _ = write!(w, "\x1b[{};{}R", row + 1, col + 1);
                    let _ = w.flush();
                }
            }
        });
    }
    let screen = Screen { parser };
    let key = |s: &str| {
        let mut w = writer.lock().unwrap();
        w.write_all(s.as_bytes()).unwrap();
        w.flush().unwrap();
    };
    screen.wait_for("SIMULATED", Duration::from_secs(20));
    screen.wait_for("press s to start a run of 8 samples", Duration::from_secs(5));
    key("s");
    screen.wait_for("run finished", Duration::from_mins(1));
    key("R");
    screen.wait_for("REVIEW QUEUE", Duration::from_secs(5));
    screen.wait_for("turn 1/", Duration::from_secs(5));
    key("a");
    screen.wait_for("reviewed 1/", Duration::from_secs(5));
    // Edit the selected sample's scenario in $EDITOR: the TUI gives the terminal to the
    // editor (a script here) and takes it back with the text, checked, to save.
    key("2");
    screen.wait_for("Lineage of", Duration::from_secs(5));
    key("\t");
    key("E");
    screen.wait_for("back from $EDITOR", Duration::from_secs(10));
    screen.wait_for("Edited by EDITOR.", Duration::from_secs(5));
    key("\x13"); // ctrl-s
    screen.wait_for("saved /scenario", Duration::from_secs(5));
    key("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "button did not quit on q; the screen:\n{}", screen.text());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");

    let store = Store::open(ws, false).unwrap();
    let mut accepted = Vec::new();
    store.list(StatusFilter::Accepted, |r| accepted.push(r.id)).unwrap();
    assert_eq!(accepted.len(), 1, "one accepted sample in the workspace");
    assert_eq!(store.review(&accepted[0]).unwrap().unwrap().verdict, Verdict::Accepted);
    assert_eq!(store.sample_count().unwrap(), 8);
    let mut edited = 0;
    store
        .list(StatusFilter::All, |r| {
            let s = store.sample(&r.id).unwrap().sample;
            if s.scenario.is_some_and(|x| x.starts_with("Edited by EDITOR. ")) {
                edited += 1;
                assert_eq!(s.edits.len(), 1, "the original is kept");
            }
        })
        .unwrap();
    assert_eq!(edited, 1);
}
