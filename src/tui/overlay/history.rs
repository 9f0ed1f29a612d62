//! `H`: a sample's history, newest first — its verdicts, edits, undos and restores from the
//! journal, and the versions kept beside it. `enter` puts an earlier version back, as one
//! step that `u` takes back: a kept version as it is, or the sample as it was before an
//! edit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Ask, Choice, Cmd, Outcome, hint_text};
use crate::store::{Action as Journal, HistoryItem};
use crate::tui::app::{App, Effect, StoreFx};
use crate::tui::keymap::Action;
use crate::tui::widgets::{block, centered};

pub struct History {
    pub id: String,
    pub items: Vec<HistoryItem>,
    pub selected: usize,
    /// When it was read (ms since the epoch): the times shown are relative to it.
    pub now: i64,
}

impl History {
    pub fn key(&mut self, a: Option<Action>) -> Outcome {
        let last = self.items.len().saturating_sub(1);
        match a {
            Some(Action::HistoryClose) => Outcome::close(),
            Some(Action::HistoryDown) => {
                self.selected = (self.selected + 1).min(last);
                Outcome::keep()
            }
            Some(Action::HistoryUp) => {
                self.selected = self.selected.saturating_sub(1);
                Outcome::keep()
            }
            Some(Action::HistoryTop) => {
                self.selected = 0;
                Outcome::keep()
            }
            Some(Action::HistoryBottom) => {
                self.selected = last;
                Outcome::keep()
            }
            Some(Action::HistoryRestore) => match self.items.get(self.selected) {
                Some(item) => self.restore(item),
                None => Outcome::keep(),
            },
            _ => Outcome::keep(),
        }
    }

    /// What `enter` does on an item: a question before content is put back, or why not.
    fn restore(&self, item: &HistoryItem) -> Outcome {
        let id = self.id.clone();
        let (title, text, label, fx) = match item {
            HistoryItem::Version { kind, .. } if kind == "fork" => {
                return Outcome::keep().toast("a fork is decided in its comparison: close this and press b");
            }
            HistoryItem::Version { id: version, kind, .. } => (
                format!("Restore version #{version} of {id}?"),
                format!(
                    "The sample's content becomes version #{version} ({}). What it holds now is kept as a \
                     version of its own, its verdict is cleared (the content changes), and one u takes it all back.",
                    kind_words(kind)
                ),
                format!("restore version #{version}"),
                StoreFx::Restore { id: id.clone(), version: *version },
            ),
            HistoryItem::Journal(e) if e.undone_by.is_some() => {
                return Outcome::keep().toast(format!("#{} is undone already: ctrl-r redoes the last undo", e.seq));
            }
            HistoryItem::Journal(e) => match &e.action {
                Journal::Edit { path, .. } => (
                    format!("Put {id} back as it was before edit #{}?", e.seq),
                    format!(
                        "The edit of {path} and every edit of {id} made after it are taken back (a regeneration \
                         since is taken back too: the version it kept is the starting point). What the sample \
                         holds now is kept as a version, its verdict is cleared, and one u takes it all back."
                    ),
                    format!("back to before edit #{}", e.seq),
                    StoreFx::RestoreBefore { id: id.clone(), seq: e.seq },
                ),
                Journal::Verdict { .. } | Journal::Verdicts { .. } => {
                    return Outcome::keep().toast("a verdict is undone with u and redone with ctrl-r");
                }
                Journal::Restore { .. } => {
                    return Outcome::keep().toast("a restore is taken back with u, or pick the version to go back to");
                }
                Journal::Undo { .. } => return Outcome::keep().toast("an undo is taken back with ctrl-r"),
            },
        };
        Outcome::close().then(Cmd::Ask(Box::new(Ask {
            title,
            text,
            choices: vec![Choice { action: Action::AskYes, label, cmds: vec![Cmd::Effect(Effect::Store(fx))] }],
        })))
    }

    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) {
        let t = &app.theme;
        let w = main.width.saturating_sub(6).min(90);
        let h = (self.items.len() as u16 + 5).clamp(8, main.height);
        let area = centered(main, w, h);
        f.render_widget(Clear, area);
        let inner_h = h.saturating_sub(4) as usize;
        let top = self.selected.saturating_sub(inner_h.saturating_sub(1));
        let dim = Style::default().fg(t.dim);
        let mut lines = Vec::new();
        if self.items.is_empty() {
            lines.push(Line::from(Span::styled(" Nothing yet: no verdict, edit or regeneration of this sample.", dim)));
        }
        for (i, item) in self.items.iter().enumerate().skip(top).take(inner_h) {
            let style = if i == self.selected {
                Style::default().bg(t.selected_bg).add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            let (what, note) = describe(item);
            lines.push(Line::from(vec![
                Span::styled(format!(" {:>12}  ", ago(self.now - item.at())), style.fg(t.dim)),
                Span::styled(what, style.fg(t.fg)),
                Span::styled(note, style.fg(t.dim)),
            ]));
        }
        lines.push(Line::from(""));
        let keys = [Action::HistoryDown, Action::HistoryUp, Action::HistoryRestore, Action::HistoryClose];
        lines.push(Line::from(Span::styled(format!(" {}", hint_text(app, &keys)), dim)));
        let base = Style::default().bg(t.bg).fg(t.fg);
        let title = format!(" History of {} ({}) ", self.id, self.items.len());
        f.render_widget(Paragraph::new(lines).style(base).block(block(app, title, true)), area);
    }
}

/// An item in words, and a note after it.
fn describe(item: &HistoryItem) -> (String, String) {
    match item {
        HistoryItem::Version { id, kind, .. } => (format!("version #{id}: {}", kind_words(kind)), String::new()),
        HistoryItem::Journal(e) => {
            let what = match &e.action {
                Journal::Verdicts { .. } => format!("#{} {} at once", e.seq, e.action.describe()),
                a => format!("#{} {}", e.seq, a.describe()),
            };
            let note = e.undone_by.map(|u| format!("  undone by #{u}")).unwrap_or_default();
            (what, note)
        }
    }
}

fn kind_words(kind: &str) -> &str {
    match kind {
        "previous" => "as it was before a regeneration",
        "failed" => "an attempt that failed",
        "fork" => "a fork of the dialogue",
        "replaced" => "what a restore replaced",
        "before-edit" => "as it was before an edit",
        other => other,
    }
}

/// How long ago, coarsely: "just now", "5 min ago", "3 h ago", "2 days ago".
fn ago(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}
