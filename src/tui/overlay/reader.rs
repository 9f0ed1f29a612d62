//! Reading text: the scroll every text overlay shares (`Context::Reader`), and the diff of a
//! sample's edits and versions.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Outcome, hint_text};
use crate::text::sanitize;
use crate::tui::app::App;
use crate::tui::diff::Tag;
use crate::tui::keymap::Action;
use crate::tui::widgets::{block, centered, wrap};

/// How far a text overlay is scrolled, in lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scroll(pub u16);

/// Lines a page key moves.
const PAGE: i32 = 15;

impl Scroll {
    /// No further than `max` (the last frame's text less its height).
    pub fn clamp(&mut self, max: u16) {
        self.0 = self.0.min(max);
    }

    pub fn by(&mut self, d: i32) {
        self.0 = (i32::from(self.0) + d).clamp(0, i32::from(u16::MAX)) as u16;
    }

    /// The reading keys: scroll and close. None when `a` is not one of them.
    pub fn key(&mut self, a: Option<Action>) -> Option<Outcome> {
        match a? {
            Action::ReadDown => self.by(1),
            Action::ReadUp => self.by(-1),
            Action::ReadPageDown => self.by(PAGE),
            Action::ReadPageUp => self.by(-PAGE),
            Action::ReadHalfDown => self.by(PAGE / 2),
            Action::ReadHalfUp => self.by(-PAGE / 2),
            Action::ReadTop => self.0 = 0,
            // As far as the text goes: the app clamps it to what the last frame could show.
            Action::ReadBottom => self.0 = u16::MAX,
            Action::ReadClose => return Some(Outcome::close()),
            _ => return None,
        }
        Some(Outcome::keep())
    }
}

/// A sample's edits and regenerations as diffs.
pub struct DiffView {
    pub title: String,
    pub lines: Vec<(Tag, String)>,
    pub scroll: Scroll,
}

impl DiffView {
    pub fn key(&mut self, a: Option<Action>) -> Outcome {
        match a {
            Some(Action::DiffClose) => Outcome::close(),
            a => self.scroll.key(a).unwrap_or_default(),
        }
    }

    /// Returns how far it can scroll.
    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) -> u16 {
        let t = &app.theme;
        let area = centered(main, main.width.saturating_sub(2), main.height);
        f.render_widget(Clear, area);
        let width = area.width.saturating_sub(4) as usize;
        let mut out: Vec<Line> = Vec::new();
        for (tag, text) in &self.lines {
            let (mark, style) = match tag {
                Tag::Added => ("+ ", Style::default().fg(t.ok)),
                Tag::Removed => ("- ", Style::default().fg(t.error)),
                Tag::Same if text.starts_with("──") => {
                    ("", Style::default().fg(t.accent).add_modifier(Modifier::BOLD))
                }
                Tag::Same => ("  ", Style::default().fg(t.dim)),
            };
            for (k, l) in wrap(text, width).into_iter().enumerate() {
                out.push(Line::from(Span::styled(format!("{}{l}", if k == 0 { mark } else { "  " }), style)));
            }
        }
        let title = format!(" {} · {} ", sanitize(&self.title), hint_text(app, &[Action::ReadClose, Action::ReadDown]));
        let base = Style::default().bg(t.bg).fg(t.fg);
        let max = scroll_max(out.len(), area.height.saturating_sub(2));
        f.render_widget(
            Paragraph::new(out).style(base).scroll((self.scroll.0.min(max), 0)).block(block(app, title, true)),
            area,
        );
        max
    }
}

/// How far a text of `lines` rows scrolls in `height` rows.
pub fn scroll_max(lines: usize, height: u16) -> u16 {
    u16::try_from(lines.saturating_sub(usize::from(height))).unwrap_or(u16::MAX)
}
