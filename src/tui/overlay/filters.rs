//! `F`: the list filters, one row each, changed in place; the list follows at once.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Cmd, Outcome, hint_text};
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::list::{Filter, Filters};
use crate::tui::widgets::{block, centered};

#[derive(Default)]
pub struct FiltersPanel {
    pub row: usize,
}

impl FiltersPanel {
    pub fn key(&mut self, a: Option<Action>, app: &App) -> Outcome {
        let mut filters = app.list.filters;
        match a {
            Some(Action::FilterClose) => return Outcome::close(),
            Some(Action::FilterDown) => self.row = (self.row + 1).min(Filter::ALL.len() - 1),
            Some(Action::FilterUp) => self.row = self.row.saturating_sub(1),
            Some(Action::FilterNext) => filters.cycle(Filter::ALL[self.row], 1),
            Some(Action::FilterPrev) => filters.cycle(Filter::ALL[self.row], -1),
            Some(Action::FilterClear) => filters = Filters::default(),
            _ => {}
        }
        if filters == app.list.filters { Outcome::keep() } else { Outcome::keep().then(Cmd::SetFilters(filters)) }
    }

    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) {
        let t = &app.theme;
        let area = centered(main, 56, 12);
        f.render_widget(Clear, area);
        let mut lines = Vec::new();
        for (i, filter) in Filter::ALL.into_iter().enumerate() {
            let (name, v) = (filter.name(), app.list.filters.text(filter));
            let style = if i == self.row {
                Style::default().bg(t.selected_bg).add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {name:<10}"), style.fg(t.fg)),
                Span::styled(
                    format!("◀ {v} ▶"),
                    style.fg(if app.list.filters.is_set(filter) { t.accent } else { t.dim }),
                ),
            ]));
        }
        let dim = Style::default().fg(t.dim);
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            format!(" {} of {} samples pass", app.list.visible.len(), app.list.rows.len()),
            dim,
        )));
        let keys = [Action::FilterDown, Action::FilterNext, Action::FilterClear, Action::FilterClose];
        lines.push(Line::from(Span::styled(format!(" {}", hint_text(app, &keys)), dim)));
        let base = Style::default().bg(t.bg).fg(t.fg);
        f.render_widget(
            Paragraph::new(lines).style(base).wrap(ratatui::widgets::Wrap { trim: false }).block(block(
                app,
                " Filters ",
                true,
            )),
            area,
        );
    }
}
