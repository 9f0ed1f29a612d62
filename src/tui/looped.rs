//! The real event loop (`tui::event_loop`) on a `TestBackend`, for tests: keys injected
//! as the input thread would send them, a clock moved by hand, every frame readable. The
//! effects run as they do in a terminal: the store worker on its thread, runs and jobs
//! through the run handle on the configured backend (the simulator when none is set).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::app::Msg;
use super::driver::parse_keys;
use super::{Clock, Io, Options};
use crate::config::Config;
use crate::launch::RunArgs;
use crate::store::Store;

pub struct Looped {
    input: UnboundedSender<Msg>,
    clock: Arc<AtomicU64>,
    screen: Arc<Mutex<String>>,
    frames: Arc<AtomicU64>,
    done: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl Looped {
    /// The loop on workspace `ws` (created if new), drawn at `w` x `h`.
    pub fn start(ws: &Path, w: u16, h: u16) -> anyhow::Result<Looped> {
        let cfg = Config::load(ws)?;
        let args = RunArgs::default();
        let init = super::init(ws, &cfg, None, &args)?;
        let mut store = Store::open(ws, true)?;
        store.set_client(format!("looped-{}", crate::store::now_ms()));
        let (input, input_rx) = unbounded_channel();
        let clock = Arc::new(AtomicU64::new(0));
        let screen = Arc::new(Mutex::new(String::new()));
        let frames = Arc::new(AtomicU64::new(0));
        let io = Io {
            input: input_rx,
            clock: Clock::Manual(clock.clone()),
            signals: false,
            editor: Box::new(|_, _, _| Err("no $EDITOR in this test".into())),
            on_frame: Some({
                let (screen, frames) = (screen.clone(), frames.clone());
                Box::new(move |t: &Terminal<TestBackend>| {
                    *screen.lock().expect("not poisoned") = text_of(t);
                    frames.fetch_add(1, Ordering::SeqCst);
                })
            }),
        };
        let opts = Options {
            workspace: ws.to_path_buf(),
            theme: None,
            run: args,
            start_run: false,
            review_queue: false,
            notice: None,
        };
        let ws = ws.to_path_buf();
        let done = std::thread::Builder::new().name("looped".into()).spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            let mut terminal = Terminal::new(TestBackend::new(w, h))?;
            rt.block_on(super::event_loop(&mut terminal, io, init, store, ws, cfg, opts))
        })?;
        Ok(Looped { input, clock, screen, frames, done: Some(done) })
    }

    /// Types keys, as `Driver::keys` reads them.
    pub fn keys(&self, s: &str) {
        for k in parse_keys(s) {
            let _ = self.input.send(Msg::Key(k));
        }
    }

    /// Moves the loop's clock on (the next tick reads it).
    pub fn advance(&self, d: Duration) {
        self.clock.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// The last frame drawn, as text.
    pub fn screen(&self) -> String {
        self.screen.lock().expect("not poisoned").clone()
    }

    /// Waits (up to `within`) for a frame that `ok` accepts; that frame, or an error with
    /// the last one.
    pub fn wait_for(&self, within: Duration, ok: impl Fn(&str) -> bool) -> Result<String, String> {
        let until = Instant::now() + within;
        loop {
            let s = self.screen();
            if ok(&s) {
                return Ok(s);
            }
            if Instant::now() >= until {
                return Err(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until a frame newer than now is drawn (the keys sent so far are taken).
    pub fn settle(&self) {
        let seen = self.frames.load(Ordering::SeqCst);
        let until = Instant::now() + Duration::from_secs(10);
        while self.frames.load(Ordering::SeqCst) <= seen && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for the loop to end (after a quit key); its result.
    pub fn join(mut self) -> anyhow::Result<()> {
        self.done.take().expect("joined once").join().map_err(|_| anyhow::anyhow!("the loop panicked"))?
    }

    /// Whether the loop has ended.
    pub fn ended(&self) -> bool {
        self.done.as_ref().is_none_or(std::thread::JoinHandle::is_finished)
    }
}

impl Drop for Looped {
    fn drop(&mut self) {
        if self.done.is_some() {
            // Quit from anywhere; the loop cancels a run and keeps what finished.
            self.keys("<c-c>");
            if let Some(d) = self.done.take() {
                let _ = d.join();
            }
        }
    }
}

fn text_of(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
