//! `?`: every key of every view and overlay, read from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{Outcome, Scroll};
use crate::tui::app::App;
use crate::tui::keymap::{Action, Context};
use crate::tui::widgets::{block, centered};

#[derive(Default)]
pub struct Help {
    pub scroll: Scroll,
}

impl Help {
    pub fn key(&mut self, a: Option<Action>) -> Outcome {
        match a {
            Some(Action::HelpClose) => Outcome::close(),
            a => self.scroll.key(a).unwrap_or_default(),
        }
    }

    /// Returns how far it can scroll.
    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) -> u16 {
        let t = &app.theme;
        let area = centered(main, main.width.saturating_sub(4).min(100), main.height);
        let mut lines: Vec<Line> = Vec::new();
        for ctx in Context::ALL {
            lines.push(Line::from(Span::styled(
                ctx.title(),
                Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
            )));
            for a in Action::ALL.iter().filter(|a| a.context() == ctx) {
                lines.push(Line::from(vec![
                    Span::styled(format!("  {:<18}", app.keymap.labels(*a)), Style::default().fg(t.accent)),
                    Span::raw(a.describe()),
                ]));
            }
            lines.push(Line::from(""));
        }
        let dim = Style::default().fg(t.dim);
        lines.push(Line::from(Span::styled("The mouse selects and scrolls.", dim)));
        lines.push(Line::from(Span::styled(
            "Any key above can be changed in button.toml's [keys], by the name in the palette (:).",
            dim,
        )));
        f.render_widget(Clear, area);
        let p = Paragraph::new(lines).style(Style::default().bg(t.bg).fg(t.fg)).wrap(Wrap { trim: false });
        let max = super::reader::scroll_max(p.line_count(area.width.saturating_sub(2)), area.height.saturating_sub(2));
        f.render_widget(p.scroll((self.scroll.0.min(max), 0)).block(block(app, " Keys (esc closes) ", true)), area);
        max
    }
}
