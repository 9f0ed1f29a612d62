//! The real terminal: raw mode and its restoration on every exit, the input thread, and
//! $EDITOR, which takes the terminal while the input thread waits.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc::UnboundedSender;

use super::app::Msg;

pub(super) fn restore_terminal() {
    let _ = disable_raw_mode();
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(out, DisableMouseCapture, LeaveAlternateScreen, crossterm::cursor::Show);
    let _ = out.flush();
}

/// Puts the terminal back however the TUI ends: return, error or panic.
pub(super) struct TerminalGuard;

impl TerminalGuard {
    pub(super) fn enter() -> Result<TerminalGuard> {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            prev(info);
        }));
        enable_raw_mode().context("cannot switch the terminal to raw mode (is this a terminal?)")?;
        crossterm::execute!(std::io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
        Ok(TerminalGuard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

pub(super) fn read_input(tx: UnboundedSender<Msg>, gate: InputGate) {
    use crossterm::event::{Event as CEvent, poll, read};
    loop {
        gate.wait_open();
        match poll(Duration::from_millis(50)) {
            Ok(true) if !gate.is_paused() => {}
            Ok(_) => continue,
            Err(_) => return,
        }
        let m = match read() {
            Ok(CEvent::Key(k)) => Msg::Key(k),
            Ok(CEvent::Mouse(m)) => Msg::Mouse(m),
            Ok(CEvent::Resize(..)) => Msg::Redraw,
            Ok(_) => continue,
            Err(_) => return,
        };
        if tx.send(m).is_err() {
            return;
        }
    }
}

/// Lets the input thread stop reading while $EDITOR owns the terminal.
#[derive(Clone, Default)]
pub struct InputGate {
    inner: Arc<(Mutex<(bool, bool)>, std::sync::Condvar)>,
}

impl InputGate {
    /// Blocks until the input thread is parked (it checks at least every 50 ms).
    fn pause(&self) {
        let (m, cv) = &*self.inner;
        let mut g = m.lock().expect("not poisoned");
        g.0 = true;
        while !g.1 {
            g = cv.wait(g).expect("not poisoned");
        }
    }

    fn resume(&self) {
        let (m, cv) = &*self.inner;
        let mut g = m.lock().expect("not poisoned");
        g.0 = false;
        cv.notify_all();
    }

    /// Called by the input thread before each read: parks while paused.
    fn wait_open(&self) -> bool {
        let (m, cv) = &*self.inner;
        let mut g = m.lock().expect("not poisoned");
        while g.0 {
            g.1 = true;
            cv.notify_all();
            g = cv.wait(g).expect("not poisoned");
        }
        g.1 = false;
        true
    }

    fn is_paused(&self) -> bool {
        self.inner.0.lock().expect("not poisoned").0
    }
}

/// Runs `$VISUAL` or `$EDITOR` (else `vi`) on `text` in a temporary file; the file's text
/// after the editor exits successfully.
pub fn run_editor(text: &str, extension: &str) -> Result<String, String> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let editor = std::env::var("VISUAL")
        .ok()
        .or_else(|| std::env::var("EDITOR").ok())
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("button-edit-{}-{n}.{extension}", std::process::id()));
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .map_err(|e| format!("cannot run {editor}: {e}"));
    let result = match status {
        Ok(s) if s.success() => std::fs::read_to_string(&path)
            .map(|t| t.strip_suffix('\n').map(str::to_string).unwrap_or(t))
            .map_err(|e| format!("cannot read back {}: {e}", path.display())),
        Ok(s) => Err(format!("{editor} exited with {s}: the editor pane keeps the text it had")),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&path);
    result
}

pub(super) fn external_edit(
    terminal: &mut Terminal<CrosstermBackend<std::io::Stdout>>,
    gate: &InputGate,
    text: &str,
    extension: &str,
) -> Result<String, String> {
    gate.pause();
    restore_terminal();
    let r = run_editor(text, extension);
    let back = enable_raw_mode()
        .and_then(|()| crossterm::execute!(std::io::stdout(), EnterAlternateScreen, EnableMouseCapture))
        .and_then(|()| terminal.clear());
    gate.resume();
    back.map_err(|e| format!("cannot take the terminal back: {e}"))?;
    r
}
