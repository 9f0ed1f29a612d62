//! The overlays: each a component in its own file, with its state, its keys (actions of its
//! own keymap contexts), how it draws, and so its hints. A component never holds the app:
//! `key` reads it and returns an `Outcome`, the commands the app then carries out.

mod ask;
mod call;
mod compare;
mod confirm;
mod editor;
mod filters;
mod help;
mod history;
mod number;
mod palette;
mod reader;
mod reason;
mod search;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

pub use ask::{Ask, Choice};
pub use call::{CallCompare, CallView};
pub use compare::Compare;
pub use confirm::ConfirmQuit;
pub use editor::{Editor, Purpose};
pub use filters::FiltersPanel;
pub use help::Help;
pub use history::History;
pub use number::{Number, Setting};
pub use palette::{Palette, PaletteItem, PaletteTarget, fuzzy, palette_items};
pub use reader::{DiffView, Scroll};
pub use reason::{REASONS, Reason};
pub use search::Search;

use super::app::{App, Areas, Effect};
use super::keymap::{Action, Context};
use super::list::Filters;
use crate::model::{Message, RejectReason};

/// What the app does for an overlay after a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Cmd {
    Effect(Effect),
    Toast(String),
    /// Do an action of the view under the overlay (the palette's choice).
    Dispatch(Action),
    Theme(String),
    Quit,
    /// Reject the selected sample for these reasons (and with this note).
    Reject(Vec<RejectReason>, String),
    SetFilters(Filters),
    /// Search for this text (empty: no search).
    Search(String),
    /// Fork the dialogue of a sample from an edited turn.
    Fork {
        id: String,
        turn: usize,
        message: Message,
    },
    /// Ask the step of a recorded call of a sample again.
    Rerun {
        call: i64,
        sample: String,
    },
    /// Edit the template of a call's step; the call opens again after.
    Template {
        step: crate::domain::Step,
        call: i64,
    },
    /// Keep a step's reply asked again for its sample.
    KeepReply(i64),
    /// The call of this step of the next listed sample.
    NextSampleCall(String),
    /// Set the target or the concurrency to a number.
    Set(Setting, usize),
    /// Ask a question (it replaces the overlay that asks for it).
    Ask(Box<Ask>),
    /// Ask before giving many samples one verdict.
    ConfirmVerdicts {
        ids: Vec<String>,
        verdict: crate::model::Verdict,
        reasons: Vec<crate::model::RejectReason>,
        note: String,
    },
    /// Make samples again: the stale parts of some, the failed ones from where they failed.
    Remake(crate::tui::app::Remake),
    /// Make the parts of a sample from `from` on again, keeping the hand edits before it.
    RegenerateFrom {
        id: String,
        from: crate::domain::Part,
    },
}

/// What a key did to an overlay: whether it stays open, and what the app does next.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub close: bool,
    pub cmds: Vec<Cmd>,
}

impl Outcome {
    pub fn keep() -> Outcome {
        Outcome::default()
    }

    pub fn close() -> Outcome {
        Outcome { close: true, cmds: Vec::new() }
    }

    #[must_use]
    pub fn then(mut self, c: Cmd) -> Outcome {
        self.cmds.push(c);
        self
    }

    #[must_use]
    pub fn toast(self, text: impl Into<String>) -> Outcome {
        self.then(Cmd::Toast(text.into()))
    }
}

pub enum Overlay {
    Help(Help),
    Palette(Palette),
    Search(Search),
    Filters(FiltersPanel),
    Reason(Reason),
    Call(CallView),
    CallCompare(Box<CallCompare>),
    Editor(Box<Editor>),
    Diff(DiffView),
    Compare(Box<Compare>),
    ConfirmQuit(ConfirmQuit),
    Ask(Box<Ask>),
    History(Box<History>),
    Number(Box<Number>),
}

impl Overlay {
    /// The keymap contexts its keys are looked up in, first match wins.
    pub fn contexts(&self) -> &'static [Context] {
        match self {
            Overlay::Help(_) => &[Context::Help, Context::Reader],
            Overlay::Palette(_) => &[Context::Palette],
            Overlay::Search(_) => &[Context::Search],
            Overlay::Filters(_) => &[Context::Filters],
            Overlay::Reason(r) if r.note.is_some() => &[Context::Note],
            Overlay::Reason(_) => &[Context::Reason],
            Overlay::Call(_) => &[Context::Call, Context::Reader],
            Overlay::CallCompare(_) => &[Context::Rerun, Context::Reader],
            Overlay::Editor(_) => &[Context::Editor],
            Overlay::Diff(_) => &[Context::Diff, Context::Reader],
            Overlay::Compare(_) => &[Context::Compare],
            Overlay::ConfirmQuit(_) => &[Context::Confirm],
            Overlay::Ask(_) => &[Context::Ask],
            Overlay::History(_) => &[Context::History],
            Overlay::Number(_) => &[Context::Number],
        }
    }

    /// A key, with the action it is bound to in `contexts()` (None: a key of no action,
    /// which text fields take as typing).
    pub fn key(&mut self, k: KeyEvent, action: Option<Action>, app: &App) -> Outcome {
        match self {
            Overlay::Help(o) => o.key(action),
            Overlay::Palette(o) => o.key(k, action, app),
            Overlay::Search(o) => o.key(k, action),
            Overlay::Filters(o) => o.key(action, app),
            Overlay::Reason(o) => o.key(k, action),
            Overlay::Call(o) => o.key(action, app),
            Overlay::CallCompare(o) => o.key(action, app),
            Overlay::Editor(o) => o.key(k, action, app),
            Overlay::Diff(o) => o.key(action),
            Overlay::Compare(o) => o.key(action),
            Overlay::ConfirmQuit(o) => o.key(action),
            Overlay::Ask(o) => o.key(action),
            Overlay::History(o) => o.key(action),
            Overlay::Number(o) => o.key(k, action),
        }
    }

    /// `main` is the area between the top line and the status line; `areas` where this
    /// frame put the rest.
    /// `areas.reader_max` gets how far a text overlay can scroll, for the app to clamp its
    /// scroll to (`clamp_scroll`).
    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect, areas: &mut Areas) {
        areas.reader_max = None;
        match self {
            Overlay::Help(o) => areas.reader_max = Some(o.draw(f, app, main)),
            Overlay::Palette(o) => o.draw(f, app, main),
            Overlay::Search(o) => o.draw(f, app, areas.list),
            Overlay::Filters(o) => o.draw(f, app, main),
            Overlay::Reason(o) => o.draw(f, app, main),
            Overlay::Call(o) => areas.reader_max = Some(o.draw(f, app, main)),
            Overlay::CallCompare(o) => areas.reader_max = Some(o.draw(f, app, main)),
            Overlay::Editor(o) => o.draw(f, app, main),
            Overlay::Diff(o) => areas.reader_max = Some(o.draw(f, app, main)),
            Overlay::Compare(o) => o.draw(f, app, main),
            Overlay::ConfirmQuit(o) => o.draw(f, app, main),
            Overlay::Ask(o) => o.draw(f, app, main),
            Overlay::History(o) => o.draw(f, app, main),
            Overlay::Number(o) => o.draw(f, app, main),
        }
    }

    /// Keeps a text overlay's scroll within what the last frame could show.
    pub fn clamp_scroll(&mut self, max: u16) {
        match self {
            Overlay::Help(o) => o.scroll.clamp(max),
            Overlay::Call(o) => o.scroll.clamp(max),
            Overlay::CallCompare(o) => o.scroll.clamp(max),
            Overlay::Diff(o) => o.scroll.clamp(max),
            _ => {}
        }
    }

    /// The mouse wheel, on the overlays that scroll.
    pub fn wheel(&mut self, down: bool) {
        let by = if down { 3 } else { -3 };
        match self {
            Overlay::Help(o) => o.scroll.by(by),
            Overlay::Call(o) => o.scroll.by(by),
            Overlay::CallCompare(o) => o.scroll.by(by),
            Overlay::Diff(o) => o.scroll.by(by),
            _ => {}
        }
    }

    /// The actions the hint bar shows while it is open: every action of its contexts, its
    /// own first.
    pub fn actions(&self) -> Vec<Action> {
        let all = self.contexts().iter().flat_map(|c| Action::ALL.iter().copied().filter(move |a| a.context() == *c));
        match self {
            // A question offers some of its choices only: the keys of the others do nothing.
            Overlay::Ask(q) => {
                all.filter(|a| *a == Action::AskNo || q.choices.iter().any(|c| c.action == *a)).collect()
            }
            _ => all.collect(),
        }
    }
}

/// `key word · key word` for these actions, with the keys as bound now.
pub fn hint_text(app: &App, actions: &[Action]) -> String {
    actions
        .iter()
        .filter(|a| !app.keymap.keys(**a).is_empty())
        .map(|a| format!("{} {}", app.keymap.label(*a), a.word()))
        .collect::<Vec<_>>()
        .join(" · ")
}
