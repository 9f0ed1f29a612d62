//! Quitting while a run is in flight asks first.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Cmd, Outcome, hint_text};
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::widgets::{block, centered};

pub struct ConfirmQuit;

impl ConfirmQuit {
    /// The quit key quits; any other key stays.
    pub fn key(&mut self, a: Option<Action>) -> Outcome {
        match a {
            Some(Action::ConfirmQuit) => Outcome::close().then(Cmd::Quit),
            _ => Outcome::close(),
        }
    }

    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) {
        let t = &app.theme;
        let area = centered(main, 60, 7);
        f.render_widget(Clear, area);
        let lines = vec![
            Line::from("A run is in flight. Quit and cancel it?"),
            Line::from(Span::styled(
                "Finished calls and samples are kept; the next run resumes.",
                Style::default().fg(t.dim),
            )),
            Line::from(""),
            Line::from(Span::styled(
                format!("{} · any other key stays", hint_text(app, &[Action::ConfirmQuit])),
                Style::default().fg(t.accent),
            )),
        ];
        let base = Style::default().bg(t.bg).fg(t.fg);
        f.render_widget(Paragraph::new(lines).style(base).block(block(app, " Quit? ", true)), area);
    }
}
