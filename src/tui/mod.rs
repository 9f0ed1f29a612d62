//! The curation TUI. `app` is the model (update -> effects), `view` draws it, `worker` runs
//! the store effects on its own thread, and this file is the event loop: input, pipeline
//! events, store answers and ticks in; frames out, at most one per frame time.

pub mod app;
pub mod diff;
pub mod driver;
pub mod edit;
pub mod keymap;
pub mod list;
pub mod looped;
pub mod overlay;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod widgets;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::config::Config;
use crate::launch::RunArgs;
use crate::pipeline::Control;
use crate::store::Store;
use app::{App, Effect, Init, Msg, RunFx, StoreFx, TerminalFx};
use keymap::{Action, Keymap};
use terminal::{InputGate, TerminalGuard, external_edit, read_input};
use theme::Theme;

pub struct Options {
    pub workspace: PathBuf,
    pub theme: Option<String>,
    pub run: RunArgs,
    /// Start the run at once (`button run` without --headless).
    pub start_run: bool,
    /// Open on the review queue (`button review FILE`).
    pub review_queue: bool,
    pub notice: Option<String>,
}

/// The app's starting state from the workspace's settings: keys, themes, target.
pub fn init(ws: &Path, cfg: &Config, theme: Option<&str>, args: &RunArgs) -> Result<Init> {
    let overrides = cfg.keys.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect();
    let keymap = Keymap::with_overrides(&overrides).map_err(|e| anyhow::anyhow!("button.toml: {e}"))?;
    let name = theme.map(str::to_string).or(cfg.tui.theme.clone()).unwrap_or_else(|| "dark".into());
    let mut themes = Vec::new();
    for n in Theme::names(ws) {
        themes.push(Theme::load(ws, &n).map_err(anyhow::Error::msg)?);
    }
    let theme = Theme::load(ws, &name).map_err(anyhow::Error::msg)?;
    let (run, endpoints) = crate::launch::settings(cfg, args);
    Ok(Init {
        workspace_label: ws.display().to_string(),
        keymap,
        theme,
        themes,
        simulated: endpoints.is_empty(),
        target: run.samples,
        concurrency: Some(args.concurrency.unwrap_or(cfg.llm.concurrency.start())),
        review_queue: false,
        seed: run.seed,
        notice: None,
    })
}

pub fn run(opts: Options) -> Result<()> {
    let ws = opts.workspace.clone();
    let cfg = Config::load(&ws)?;
    let mut init = init(&ws, &cfg, opts.theme.as_deref(), &opts.run)?;
    init.review_queue = opts.review_queue;
    init.notice.clone_from(&opts.notice);
    let mut store = Store::open(&ws, true)?;
    crate::log::init(&ws);
    // This session's verdicts and edits are its own to undo; another client's are not.
    store.set_client(format!("tui-{}-{}", std::process::id(), crate::store::now_ms()));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let _guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    let (input_tx, input_rx) = unbounded_channel::<Msg>();
    let gate = InputGate::default();
    {
        let gate = gate.clone();
        std::thread::Builder::new().name("input".into()).spawn(move || read_input(input_tx, gate))?;
    }
    let io = Io {
        input: input_rx,
        clock: Clock::real(),
        signals: true,
        editor: Box::new(move |terminal, text, ext| external_edit(terminal, &gate, text, ext)),
        on_frame: None,
    };
    rt.block_on(event_loop(&mut terminal, io, init, store, ws, cfg, opts))
}

/// The time since the TUI started: the wall clock, or one a test moves by hand.
#[derive(Clone)]
pub enum Clock {
    Real(Instant),
    Manual(Arc<std::sync::atomic::AtomicU64>),
}

impl Clock {
    pub fn real() -> Clock {
        Clock::Real(Instant::now())
    }

    pub fn now(&self) -> Duration {
        match self {
            Clock::Real(start) => start.elapsed(),
            Clock::Manual(ms) => Duration::from_millis(ms.load(std::sync::atomic::Ordering::SeqCst)),
        }
    }
}

/// What the event loop reads and writes besides the app and the workspace: input, the
/// clock, $EDITOR, and (for tests) a look at each frame drawn.
pub struct Io<B: Backend> {
    pub input: UnboundedReceiver<Msg>,
    pub clock: Clock,
    /// SIGTERM and SIGHUP quit (the real terminal's loop).
    pub signals: bool,
    /// Runs $EDITOR on a text while it owns the terminal.
    #[allow(clippy::type_complexity)]
    pub editor: Box<dyn FnMut(&mut Terminal<B>, &str, &'static str) -> Result<String, String> + Send>,
    #[allow(clippy::type_complexity)]
    pub on_frame: Option<Box<dyn FnMut(&Terminal<B>) + Send>>,
}

/// The one owner of the pipeline on the TUI's side: whether a run (or jobs) is in flight,
/// and its controls once it has started. Claimed before a run starts, released when it ends.
#[derive(Clone, Default)]
pub struct RunHandle(Arc<Mutex<RunSlot>>);

#[derive(Default)]
struct RunSlot {
    busy: bool,
    control: Option<Control>,
}

impl RunHandle {
    /// Takes the handle for a new run; false while one is in flight.
    fn claim(&self) -> bool {
        let mut g = self.0.lock().expect("not poisoned");
        !std::mem::replace(&mut g.busy, true)
    }

    fn started(&self, c: Control) {
        self.0.lock().expect("not poisoned").control = Some(c);
    }

    fn ended(&self) {
        *self.0.lock().expect("not poisoned") = RunSlot::default();
    }

    pub fn busy(&self) -> bool {
        self.0.lock().expect("not poisoned").busy
    }

    fn control(&self) -> Option<Control> {
        self.0.lock().expect("not poisoned").control.clone()
    }
}

/// The loop: input, pipeline events, store answers and ticks in; frames out. The real
/// terminal's and the tests' (`looped::Looped`), which differ only in `io` and the backend.
pub async fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    io: Io<B>,
    init: Init,
    store: Store,
    ws: PathBuf,
    cfg: Config,
    opts: Options,
) -> Result<()> {
    let Io { input: mut input_rx, clock, signals, mut editor, mut on_frame } = io;
    let (msg_tx, mut msg_rx) = unbounded_channel::<Msg>();
    let (work_tx, work_rx) = std::sync::mpsc::channel::<StoreFx>();
    {
        let tx = msg_tx.clone();
        std::thread::Builder::new().name("store".into()).spawn(move || worker::run(store, work_rx, tx))?;
    }
    let run = RunHandle::default();
    let ctx = EffectCtx { ws, cfg, args: opts.run.clone(), msg_tx: msg_tx.clone(), work_tx, run: run.clone() };

    let (mut app, fx) = App::new(init);
    let _ = run_effects(&ctx, fx);
    if opts.start_run {
        let mut fx = Vec::new();
        app.dispatch(Action::StartRun, &mut fx);
        let _ = run_effects(&ctx, fx);
    }
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut term, mut hup) = if signals {
        (
            Some(tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?),
            Some(tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?),
        )
    } else {
        (None, None)
    };
    let mut last_draw = Instant::now().checked_sub(Duration::from_secs(1)).unwrap();
    // When the next frame is due: soon after a key, at a calmer pace for background news.
    let mut draw_at: Option<Instant> = Some(Instant::now());
    loop {
        if draw_at.is_some_and(|t| Instant::now() >= t) {
            app.clock = clock.now();
            let mut areas = app.areas;
            terminal.draw(|f| areas = view::draw(f, &app)).map_err(|e| anyhow::anyhow!("cannot draw: {e}"))?;
            app.areas = areas;
            if let Some(f) = on_frame.as_mut() {
                f(terminal);
            }
            last_draw = Instant::now();
            draw_at = None;
        }
        let wait = draw_at.map_or(Duration::from_hours(1), |t| t.saturating_duration_since(Instant::now()));
        let mut fx = Vec::new();
        let mut input = false;
        tokio::select! {
            biased;
            Some(m) = input_rx.recv() => {
                app.clock = clock.now();
                fx.extend(app.update(m));
                // Take every key already typed before drawing.
                while let Ok(m) = input_rx.try_recv() {
                    fx.extend(app.update(m));
                }
                input = true;
            }
            Some(()) = recv_signal(term.as_mut()) => { app.quit = true; }
            Some(()) = recv_signal(hup.as_mut()) => { app.quit = true; }
            Some(m) = msg_rx.recv() => {
                app.clock = clock.now();
                fx.extend(app.update(m));
                for _ in 0..20_000 {
                    let Ok(m) = msg_rx.try_recv() else { break };
                    fx.extend(app.update(m));
                }
            }
            _ = tick.tick() => { fx.extend(app.update(Msg::Tick(clock.now()))); }
            () = tokio::time::sleep(wait) => {}
        }
        let mut external = run_effects(&ctx, fx);
        while let Some((text, ext)) = external.pop() {
            let r = editor(terminal, &text, ext);
            app.clock = clock.now();
            let fx = app.update(Msg::ExternalEdited(r));
            external.extend(run_effects(&ctx, fx));
            draw_at = Some(Instant::now());
        }
        if app.quit {
            break;
        }
        let pace = if input { Duration::from_millis(16) } else { Duration::from_millis(50) };
        let due = last_draw + pace;
        draw_at = Some(draw_at.map_or(due, |t| t.min(due)));
    }
    // Quitting cancels a run in flight; wait (briefly) for its writer to keep every call
    // that finished.
    if let Some(c) = run.control() {
        c.cancel();
    }
    if run.busy() {
        let _ = tokio::time::timeout(Duration::from_secs(5), wait_finished(&mut msg_rx)).await;
    }
    Ok(())
}

/// A signal, or never when there is no handler.
async fn recv_signal(s: Option<&mut tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

async fn wait_finished(rx: &mut UnboundedReceiver<Msg>) {
    while let Some(m) = rx.recv().await {
        if matches!(m, Msg::RunFinished(_)) {
            return;
        }
    }
}

struct EffectCtx {
    ws: PathBuf,
    cfg: Config,
    args: RunArgs,
    msg_tx: UnboundedSender<Msg>,
    work_tx: std::sync::mpsc::Sender<StoreFx>,
    run: RunHandle,
}

/// Hands each effect to what runs it: the store worker, the run handle, the terminal.
/// Returns the $EDITOR sessions to run (they need the terminal).
fn run_effects(ctx: &EffectCtx, fx: Vec<Effect>) -> Vec<(String, &'static str)> {
    let mut external = Vec::new();
    for e in fx {
        match e {
            Effect::Store(s) => {
                let _ = ctx.work_tx.send(s);
            }
            Effect::Run(r) => run_effect(ctx, r),
            Effect::Terminal(TerminalFx::ExternalEdit { text, extension }) => external.push((text, extension)),
            Effect::Terminal(TerminalFx::Quit) => {}
        }
    }
    external
}

/// A run, jobs (regenerations, forks, steps asked again), or a control of the run in flight.
fn run_effect(ctx: &EffectCtx, r: RunFx) {
    let work = match (&r, r.jobs()) {
        (RunFx::StartRun { target, concurrency }, _) => {
            let mut args = ctx.args.clone();
            args.samples = Some(*target);
            args.concurrency = *concurrency;
            Some((Work::Run, args))
        }
        (_, Some(jobs)) => Some((Work::Jobs(jobs), ctx.args.clone())),
        (_, None) => None,
    };
    if let Some((work, args)) = work {
        if !ctx.run.claim() {
            // A run toward the target asked for twice (a key held down) is the same run.
            if !matches!(r, RunFx::StartRun { .. }) {
                let _ = ctx.msg_tx.send(Msg::Toast("a run is in flight: try again when it ends".into()));
            }
            return;
        }
        let (ws, cfg, tx, run) = (ctx.ws.clone(), ctx.cfg.clone(), ctx.msg_tx.clone(), ctx.run.clone());
        tokio::spawn(start_run(ws, cfg, args, work, tx, run));
    } else {
        let Some(c) = ctx.run.control() else { return };
        match r {
            RunFx::Pause => c.pause(),
            RunFx::Resume => c.resume(),
            RunFx::CancelRun => c.cancel(),
            RunFx::SetConcurrency(n) => c.set_concurrency(n),
            _ => {}
        }
    }
}

/// What a started pipeline does: a run toward the target, or jobs on stored samples.
enum Work {
    Run,
    Jobs(Vec<crate::pipeline::Job>),
}

async fn start_run(ws: PathBuf, cfg: Config, args: RunArgs, work: Work, tx: UnboundedSender<Msg>, run: RunHandle) {
    let prepared = match crate::launch::prepare(&ws, &cfg, &args, true).await {
        Ok(p) => p,
        Err(e) => {
            run.ended();
            let _ = tx.send(Msg::RunNotStarted(crate::text::sanitize(&format!("{e:#}")).into_owned()));
            return;
        }
    };
    let simulated = prepared.backend.is_simulated();
    let concurrency = prepared.backend.concurrency();
    let (target, started) = match work {
        Work::Run => (
            prepared.run.samples,
            crate::pipeline::start(&ws, prepared.backend, prepared.prompts, prepared.run, prepared.sources),
        ),
        Work::Jobs(jobs) => {
            (jobs.len(), crate::pipeline::start_jobs(&ws, prepared.backend, prepared.prompts, prepared.run, jobs))
        }
    };
    let mut p = match started {
        Ok(p) => p,
        Err(e) => {
            run.ended();
            let _ = tx.send(Msg::RunNotStarted(e.to_string()));
            return;
        }
    };
    run.started(p.control.clone());
    let _ = tx.send(Msg::RunStarted { target, already_done: p.already_done, concurrency, simulated });
    while let Some(e) = p.events.recv().await {
        if tx.send(Msg::Pipeline(e)).is_err() {
            break;
        }
    }
    let result = p.wait().await;
    run.ended();
    let _ = tx.send(Msg::RunFinished(result));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_toml_chooses_the_theme_and_overrides_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::parse(
            "[tui]\ntheme = \"light\"\n\n[keys]\naccept = [\"y\", \"enter\"]\nquit = \"ctrl-q\"\n",
            "button.toml",
        )
        .unwrap();
        let init = init(dir.path(), &cfg, None, &RunArgs::default()).unwrap();
        assert_eq!(init.theme.name, "light");
        let km = &init.keymap;
        assert_eq!(km.lookup(keymap::Context::Samples, &keymap::Key::parse("y").unwrap()), Some(Action::Accept));
        assert_eq!(km.lookup(keymap::Context::Samples, &keymap::Key::parse("ctrl-q").unwrap()), Some(Action::Quit));
        assert_eq!(km.lookup(keymap::Context::Samples, &keymap::Key::parse("q").unwrap()), None);
        // --theme wins over the file; an unknown theme or action is refused with its name.
        let init2 = super::init(dir.path(), &cfg, Some("high-contrast"), &RunArgs::default()).unwrap();
        assert_eq!(init2.theme.name, "high-contrast");
        let e = super::init(dir.path(), &cfg, Some("neon"), &RunArgs::default()).err().unwrap().to_string();
        assert!(e.contains("no theme \"neon\""), "{e}");
        let bad = Config::parse("[keys]\naccpet = \"y\"\n", "button.toml").unwrap();
        let e = super::init(dir.path(), &bad, None, &RunArgs::default()).err().unwrap().to_string();
        assert!(e.starts_with("button.toml: ") && e.contains("accpet"), "{e}");
    }
}
