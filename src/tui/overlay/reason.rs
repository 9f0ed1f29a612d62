//! `x`: why a sample is rejected; "other" asks for a note.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui_textarea::TextArea;

use super::{Cmd, Outcome, hint_text};
use crate::model::RejectReason;
use crate::tui::app::{App, line_input};
use crate::tui::keymap::Action;
use crate::tui::widgets::{block, centered};

/// The reasons in the order shown, each with the action that picks it.
pub const REASONS: [(RejectReason, &str, Action); 7] = [
    (RejectReason::HallucinatedFunction, "hallucinated function", Action::ReasonHallucinated),
    (RejectReason::BadArguments, "bad arguments", Action::ReasonBadArguments),
    (RejectReason::UserLeaksPlan, "user message leaks the plan", Action::ReasonLeaksPlan),
    (RejectReason::PrematureFinal, "premature final answer", Action::ReasonPrematureFinal),
    (RejectReason::InconsistentToolResult, "inconsistent tool result", Action::ReasonInconsistent),
    (RejectReason::NotCompositional, "not compositional", Action::ReasonNotCompositional),
    (RejectReason::Other, "other (with a note)", Action::ReasonOther),
];

#[derive(Default)]
pub struct Reason {
    pub selected: usize,
    /// Reasons marked with space: a rejection gives them all.
    pub marked: Vec<RejectReason>,
    /// The note of "other", while it is typed.
    pub note: Option<TextArea<'static>>,
    /// Rejecting every one of these samples at once (`X`): the rejection is asked to be
    /// confirmed first.
    pub bulk: Option<Vec<String>>,
}

impl Reason {
    pub fn key(&mut self, k: KeyEvent, a: Option<Action>) -> Outcome {
        let mut out = self.key_one(k, a);
        if let Some(ids) = &self.bulk {
            for c in &mut out.cmds {
                if let Cmd::Reject(reasons, note) = c {
                    *c = Cmd::ConfirmVerdicts {
                        ids: ids.clone(),
                        verdict: crate::model::Verdict::Rejected,
                        reasons: std::mem::take(reasons),
                        note: std::mem::take(note),
                    };
                }
            }
        }
        out
    }

    fn key_one(&mut self, k: KeyEvent, a: Option<Action>) -> Outcome {
        if let Some(text) = &mut self.note {
            return match a {
                Some(Action::NoteBack) => {
                    self.note = None;
                    Outcome::keep()
                }
                Some(Action::NoteSave) => {
                    let body = text.lines().join(" ").trim().to_string();
                    if body.is_empty() {
                        Outcome::keep().toast("\"other\" needs a note saying why")
                    } else {
                        Outcome::close().then(Cmd::Reject(self.with(Some(RejectReason::Other)), body))
                    }
                }
                _ => {
                    text.input(k);
                    Outcome::keep()
                }
            };
        }
        if a == Some(Action::ReasonMark) {
            let r = REASONS[self.selected].0;
            match self.marked.iter().position(|m| *m == r) {
                Some(i) => {
                    self.marked.remove(i);
                }
                None => self.marked.push(r),
            }
            return Outcome::keep();
        }
        if a == Some(Action::ReasonPick) && !self.marked.is_empty() {
            if self.marked.contains(&RejectReason::Other) {
                // "other" needs its note first; the rejection then gives every marked reason.
                self.note = Some(line_input(""));
                return Outcome::keep();
            }
            return Outcome::close().then(Cmd::Reject(self.with(None), String::new()));
        }
        let pick = match a {
            Some(Action::ReasonPick) => Some(self.selected),
            Some(a) => REASONS.iter().position(|r| r.2 == a),
            None => None,
        };
        match (a, pick) {
            (_, Some(i)) if REASONS[i].0 == RejectReason::Other => {
                self.selected = i;
                self.note = Some(line_input(""));
                Outcome::keep()
            }
            (_, Some(i)) => Outcome::close().then(Cmd::Reject(self.with(Some(REASONS[i].0)), String::new())),
            (Some(Action::ReasonCancel), _) => Outcome::close(),
            (Some(Action::ReasonDown), _) => {
                self.selected = (self.selected + 1).min(REASONS.len() - 1);
                Outcome::keep()
            }
            (Some(Action::ReasonUp), _) => {
                self.selected = self.selected.saturating_sub(1);
                Outcome::keep()
            }
            _ => Outcome::keep(),
        }
    }

    /// The marked reasons and `also`, in the order shown.
    fn with(&self, also: Option<RejectReason>) -> Vec<RejectReason> {
        REASONS.iter().map(|x| x.0).filter(|x| Some(*x) == also || self.marked.contains(x)).collect()
    }

    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) {
        let t = &app.theme;
        let area = centered(main, 56, 13);
        f.render_widget(Clear, area);
        let title = match &self.bulk {
            Some(ids) => format!(" Reject {} samples: why? ", ids.len()),
            None => " Reject: why? ".into(),
        };
        let b = block(app, title, true);
        let inner = b.inner(area);
        f.render_widget(b.style(Style::default().bg(t.bg).fg(t.fg)), area);
        let mut lines = Vec::new();
        for (i, (_, label, action)) in REASONS.iter().enumerate() {
            let style = if i == self.selected {
                Style::default().bg(t.selected_bg).add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            let mark = if self.marked.contains(&REASONS[i].0) { "✓ " } else { "  " };
            lines.push(Line::from(vec![
                Span::styled(format!(" {} ", app.keymap.label(*action)), style.fg(t.accent)),
                Span::styled(mark, style.fg(t.ok)),
                Span::styled(label.to_string(), style.fg(t.fg)),
            ]));
        }
        lines.push(Line::from(""));
        let help = if self.note.is_some() {
            format!(" type the note · {}", hint_text(app, &[Action::NoteSave, Action::NoteBack]))
        } else {
            format!(" {}", hint_text(app, &[Action::ReasonMark, Action::ReasonPick, Action::ReasonCancel]))
        };
        lines.push(Line::from(Span::styled(help, Style::default().fg(t.dim))));
        f.render_widget(Paragraph::new(lines), inner);
        if let Some(ta) = &self.note {
            let y = inner.y + inner.height.saturating_sub(1);
            let mut ta = ta.clone();
            ta.set_style(Style::default().bg(t.selected_bg).fg(t.fg));
            ta.set_cursor_line_style(Style::default());
            f.render_widget(Span::styled("note: ", Style::default().fg(t.accent)), Rect::new(inner.x, y, 6, 1));
            f.render_widget(&ta, Rect::new(inner.x + 6, y, inner.width.saturating_sub(6), 1));
        }
    }
}
