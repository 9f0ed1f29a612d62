//! `/`: search all the text of the samples; the list follows as you type.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::Clear;
use ratatui_textarea::TextArea;

use super::{Cmd, Outcome, hint_text};
use crate::tui::app::{App, line_input};
use crate::tui::keymap::Action;
use crate::tui::widgets::block;

pub struct Search {
    pub input: TextArea<'static>,
}

impl Search {
    /// The field holds the search in force, selected: typing replaces it, an arrow key
    /// keeps it to refine.
    pub fn new(query: &str) -> Search {
        let mut input = line_input(query);
        if !query.is_empty() {
            input.select_all();
        }
        Search { input }
    }

    pub fn query(&self) -> String {
        self.input.lines().join(" ")
    }

    pub fn key(&mut self, k: KeyEvent, a: Option<Action>) -> Outcome {
        match a {
            Some(Action::SearchClear) => Outcome::close().then(Cmd::Search(String::new())),
            Some(Action::SearchKeep) => Outcome::close(),
            Some(Action::SearchErase) => {
                self.input = line_input("");
                Outcome::keep().then(Cmd::Search(String::new()))
            }
            _ if self.input.input(k) => Outcome::keep().then(Cmd::Search(self.query().trim().to_string())),
            _ => Outcome::keep(),
        }
    }

    /// Over the bottom of the list (`list`, where this frame drew it).
    pub fn draw(&self, f: &mut Frame, app: &App, list: Rect) {
        let t = &app.theme;
        let base = Style::default().bg(t.bg).fg(t.fg);
        let area = Rect::new(list.x, list.y + list.height.saturating_sub(3), list.width, 3);
        f.render_widget(Clear, area);
        let count = app.list.search.as_ref().map(|(_, ids)| format!(" {} matches ", ids.len())).unwrap_or_default();
        let note =
            if app.list.search_note.is_empty() { String::new() } else { format!("· {} ", app.list.search_note) };
        let title = format!(" Search all text ({}) ", hint_text(app, &[Action::SearchKeep, Action::SearchClear]));
        let b = block(app, title, true).title_bottom(format!("{count}{note}"));
        let inner = b.inner(area);
        f.render_widget(b.style(base), area);
        f.render_widget(Span::styled("/", Style::default().fg(t.accent)), Rect::new(inner.x, inner.y, 1, 1));
        let mut ta = self.input.clone();
        ta.set_cursor_line_style(Style::default());
        ta.set_style(base);
        f.render_widget(&ta, Rect::new(inner.x + 1, inner.y, inner.width.saturating_sub(1), 1));
    }
}
