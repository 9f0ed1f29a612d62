//! A question before something that can't be taken back lightly (a regeneration over hand
//! edits, calls on a real endpoint): each choice a key, and what it does.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Cmd, Outcome};
use crate::text::sanitize;
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::widgets::{block, centered, wrap};

#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// `AskYes` or `AskAlt`: the key that picks it.
    pub action: Action,
    pub label: String,
    pub cmds: Vec<Cmd>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ask {
    pub title: String,
    pub text: String,
    pub choices: Vec<Choice>,
}

impl Ask {
    pub fn key(&mut self, a: Option<Action>) -> Outcome {
        match a {
            Some(Action::AskNo) => Outcome::close().toast("nothing done"),
            Some(a) => match self.choices.iter_mut().find(|c| c.action == a) {
                Some(c) => Outcome { close: true, cmds: std::mem::take(&mut c.cmds) },
                None => Outcome::keep(),
            },
            None => Outcome::keep(),
        }
    }

    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) {
        let t = &app.theme;
        let w = main.width.saturating_sub(8).min(84);
        let inner = w.saturating_sub(2) as usize;
        let mut lines: Vec<Line> = wrap(&self.text, inner).into_iter().map(Line::from).collect();
        lines.push(Line::from(""));
        let key_style = Style::default().fg(t.accent).add_modifier(Modifier::BOLD);
        let choices = self.choices.iter().map(|c| (c.action, c.label.as_str())).chain([(Action::AskNo, "nothing")]);
        for (action, label) in choices {
            for (k, l) in wrap(label, inner.saturating_sub(7)).into_iter().enumerate() {
                let key = if k == 0 { format!(" {:<6}", app.keymap.label(action)) } else { " ".repeat(7) };
                lines.push(Line::from(vec![Span::styled(key, key_style), Span::raw(l)]));
            }
        }
        let area = centered(main, w, (lines.len() as u16 + 2).min(main.height));
        f.render_widget(Clear, area);
        let base = Style::default().bg(t.bg).fg(t.fg);
        f.render_widget(
            Paragraph::new(lines).style(base).block(block(app, format!(" {} ", sanitize(&self.title)), true)),
            area,
        );
    }
}
