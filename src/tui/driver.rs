//! The event loop without a terminal: the app's effects run to completion on the calling
//! thread, store effects by the worker's own `execute`, regenerations, forks and re-asked
//! steps on the simulator. For the flow tests, the benchmark and the screenshots.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Effect, Init, Msg};
use super::{view, worker};
use crate::backend::Backend;
use crate::pipeline::{self, Job, RunConfig};
use crate::prompts::Prompts;
use crate::sim::Simulator;
use crate::store::Store;

pub struct Driver {
    pub app: App,
    pub store: Store,
    pub sim: Simulator,
    /// Effects nothing here answers (runs, pauses, $EDITOR...), in order: the real loop
    /// hands them to the pipeline or the terminal.
    pub asked: Vec<Effect>,
}

impl Driver {
    /// The app on `store`, its first effects (loading the list) run.
    pub fn new(store: Store, init: Init, sim: Simulator) -> Driver {
        let (app, fx) = App::new(init);
        let mut d = Driver::from_app(app, store, sim);
        d.run(fx);
        d
    }

    /// An app already made; its first effects are the caller's to run.
    pub fn from_app(app: App, store: Store, sim: Simulator) -> Driver {
        Driver { app, store, sim, asked: Vec::new() }
    }

    /// Runs effects the way the event loop does, feeding their answers back until quiet:
    /// store effects by the worker's own `execute`, the jobs of a run effect (regenerations,
    /// forks, steps asked again) on the simulator.
    pub fn run(&mut self, fx: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = fx.into();
        while let Some(e) = queue.pop_front() {
            let msgs = match &e {
                Effect::Store(s) => worker::execute(&mut self.store, s.clone()),
                Effect::Run(r) => r.jobs().map(|jobs| self.jobs(jobs)).unwrap_or_default(),
                Effect::Terminal(_) => Vec::new(),
            };
            if msgs.is_empty() {
                self.asked.push(e);
            }
            for m in msgs {
                queue.extend(self.app.update(m));
            }
        }
    }

    fn backend(&self) -> Backend {
        Backend::Sim(self.sim.clone())
    }

    /// A pipeline of jobs on the simulator, its events fed to the app as the loop does.
    fn jobs(&mut self, jobs: Vec<Job>) -> Vec<Msg> {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        let n = jobs.len();
        let ws = self.store.dir().to_path_buf();
        let backend = self.backend();
        let (events, result) = rt.block_on(async move {
            let prompts = Prompts::load(Some(&ws)).expect("the templates load");
            let mut p =
                pipeline::start_jobs(&ws, backend, prompts, RunConfig::default(), jobs).expect("the jobs start");
            let mut events = Vec::new();
            while let Some(e) = p.events.recv().await {
                events.push(e);
            }
            (events, p.wait().await)
        });
        let mut out = vec![Msg::RunStarted { target: n, already_done: 0, concurrency: None, simulated: true }];
        out.extend(events.into_iter().map(Msg::Pipeline));
        out.push(Msg::RunFinished(result));
        out
    }

    pub fn msg(&mut self, m: Msg) {
        let fx = self.app.update(m);
        self.run(fx);
    }

    /// Types keys (see `parse_keys`).
    pub fn keys(&mut self, s: &str) {
        for k in parse_keys(s) {
            self.msg(Msg::Key(k));
        }
    }

    /// The app drawn on a `TestBackend` of `w` x `h`; where things landed goes back to the
    /// app, as the loop does.
    pub fn draw(&mut self, w: u16, h: u16) -> Terminal<TestBackend> {
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
        let mut areas = self.app.areas;
        term.draw(|f| areas = view::draw(f, &self.app)).expect("drawn");
        self.app.areas = areas;
        term
    }
}

/// Types keys: characters as they are; `<enter>`, `<esc>`, `<tab>`, `<home>`, `<end>`,
/// `<up>`, `<down>`, `<left>`, `<right>`, `<space>`, `<pgdn>`, `<pgup>` by name; `<c-s>` for ctrl-s.
pub fn parse_keys(s: &str) -> Vec<KeyEvent> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let key = if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>').expect("a closing >");
            let name = &r[..end];
            rest = &r[end + 1..];
            if let Some(c) = name.strip_prefix("c-") {
                KeyEvent::new(KeyCode::Char(c.chars().next().expect("a key")), KeyModifiers::CONTROL)
            } else {
                let code = match name {
                    "enter" => KeyCode::Enter,
                    "esc" => KeyCode::Esc,
                    "tab" => KeyCode::Tab,
                    "home" => KeyCode::Home,
                    "end" => KeyCode::End,
                    "up" => KeyCode::Up,
                    "down" => KeyCode::Down,
                    "left" => KeyCode::Left,
                    "right" => KeyCode::Right,
                    "space" => KeyCode::Char(' '),
                    "pgdn" => KeyCode::PageDown,
                    "pgup" => KeyCode::PageUp,
                    other => panic!("unknown key <{other}>"),
                };
                KeyEvent::new(code, KeyModifiers::NONE)
            }
        } else {
            let c = rest.chars().next().expect("not empty");
            rest = &rest[c.len_utf8()..];
            KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
        };
        out.push(key);
    }
    out
}
