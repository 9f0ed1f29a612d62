//! `t` and `C` in the pipeline view: type the target or the concurrency as a number,
//! instead of stepping to it.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui_textarea::TextArea;

use super::{Cmd, Outcome, hint_text};
use crate::tui::app::{App, line_input};
use crate::tui::keymap::Action;
use crate::tui::widgets::{block, centered};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    Target,
    Concurrency,
}

impl Setting {
    fn word(self) -> &'static str {
        match self {
            Setting::Target => "target (samples)",
            Setting::Concurrency => "concurrency (LLM calls in flight)",
        }
    }

    /// The largest number it takes.
    fn max(self) -> usize {
        match self {
            Setting::Target => 10_000_000,
            Setting::Concurrency => 1024,
        }
    }
}

pub struct Number {
    pub setting: Setting,
    pub input: TextArea<'static>,
}

impl Number {
    pub fn new(setting: Setting, now: usize) -> Number {
        let mut input = line_input(&now.to_string());
        input.select_all();
        Number { setting, input }
    }

    pub fn key(&mut self, k: KeyEvent, a: Option<Action>) -> Outcome {
        match a {
            Some(Action::NumberCancel) => Outcome::close(),
            Some(Action::NumberErase) => {
                self.input = line_input("");
                Outcome::keep()
            }
            Some(Action::NumberSave) => {
                let text = self.input.lines().join("").replace(['_', ',', ' '], "");
                match text.parse::<usize>() {
                    Ok(n) if n >= 1 && n <= self.setting.max() => Outcome::close().then(Cmd::Set(self.setting, n)),
                    Ok(_) => {
                        Outcome::keep().toast(format!("the {} takes 1 to {}", self.setting.word(), self.setting.max()))
                    }
                    Err(_) => Outcome::keep().toast(format!("\"{text}\" is not a number: type digits only")),
                }
            }
            _ => {
                self.input.input(k);
                Outcome::keep()
            }
        }
    }

    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) {
        let t = &app.theme;
        let area = centered(main, 46, 5);
        f.render_widget(Clear, area);
        let b = block(app, format!(" Set the {} ", self.setting.word()), true);
        let inner = b.inner(area);
        f.render_widget(b.style(Style::default().bg(t.bg).fg(t.fg)), area);
        let [field, hint] = ratatui::layout::Layout::vertical([
            ratatui::layout::Constraint::Length(2),
            ratatui::layout::Constraint::Length(1),
        ])
        .areas(inner);
        f.render_widget(&self.input, field);
        f.render_widget(
            Paragraph::new(Line::from(Span::styled(
                hint_text(app, &[Action::NumberSave, Action::NumberCancel]),
                Style::default().fg(t.dim),
            ))),
            hint,
        );
    }
}
