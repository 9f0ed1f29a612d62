//! `:`: every action of the view under it, and every theme, by name, fuzzy matched.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui_textarea::TextArea;

use super::{Cmd, Outcome};
use crate::tui::app::{App, line_input};
use crate::tui::keymap::{Action, Context};
use crate::tui::widgets::{block, centered, truncate};

pub struct Palette {
    pub input: TextArea<'static>,
    pub selected: usize,
}

impl Default for Palette {
    fn default() -> Palette {
        Palette { input: line_input(""), selected: 0 }
    }
}

impl Palette {
    pub fn query(&self) -> String {
        self.input.lines().join(" ")
    }

    pub fn key(&mut self, k: KeyEvent, a: Option<Action>, app: &App) -> Outcome {
        match a {
            Some(Action::PaletteClose) => Outcome::close(),
            Some(Action::PaletteErase) => {
                self.input = line_input("");
                self.selected = 0;
                Outcome::keep()
            }
            Some(Action::PaletteDown) => {
                self.selected += 1;
                Outcome::keep()
            }
            Some(Action::PaletteUp) => {
                self.selected = self.selected.saturating_sub(1);
                Outcome::keep()
            }
            Some(Action::PaletteRun) => {
                let items = palette_items(app, &self.query());
                match items.get(self.selected.min(items.len().saturating_sub(1))) {
                    Some(item) => Outcome::close().then(match &item.target {
                        PaletteTarget::Action(a) => Cmd::Dispatch(*a),
                        PaletteTarget::Theme(name) => Cmd::Theme(name.clone()),
                    }),
                    None => Outcome::close(),
                }
            }
            _ => {
                self.input.input(k);
                self.selected = 0;
                Outcome::keep()
            }
        }
    }

    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) {
        let t = &app.theme;
        let base = Style::default().bg(t.bg).fg(t.fg);
        let area = centered(main, 72, main.height.min(18));
        f.render_widget(Clear, area);
        let b = block(app, " Command palette ", true);
        let inner = b.inner(area);
        f.render_widget(b.style(base), area);
        let [in_a, list_a] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);
        f.render_widget(Span::styled(": ", Style::default().fg(t.accent)), Rect::new(in_a.x, in_a.y, 2, 1));
        let mut ta = self.input.clone();
        ta.set_cursor_line_style(Style::default());
        ta.set_style(base);
        f.render_widget(&ta, Rect::new(in_a.x + 2, in_a.y, in_a.width.saturating_sub(2), 1));
        let items = palette_items(app, &self.query());
        let sel = self.selected.min(items.len().saturating_sub(1));
        let h = list_a.height as usize;
        let off = sel.saturating_sub(h.saturating_sub(1));
        let lines: Vec<Line> = items
            .iter()
            .enumerate()
            .skip(off)
            .take(h)
            .map(|(i, it)| {
                let style = if i == sel {
                    Style::default().bg(t.selected_bg).add_modifier(Modifier::BOLD)
                } else {
                    Style::default()
                };
                let key = format!("{:>10}", it.key);
                let room = (list_a.width as usize).saturating_sub(12 + 22);
                Line::from(vec![
                    Span::styled(format!("{:<22}", truncate(&it.name, 21)), style.fg(t.fg)),
                    Span::styled(format!("{:<room$}", truncate(&it.describe, room)), style.fg(t.dim)),
                    Span::styled(key, style.fg(t.accent)),
                ])
            })
            .collect();
        if lines.is_empty() {
            f.render_widget(Paragraph::new(Span::styled("no action matches", Style::default().fg(t.dim))), list_a);
        } else {
            f.render_widget(Paragraph::new(lines), list_a);
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum PaletteTarget {
    Action(Action),
    Theme(String),
}

#[derive(Clone, Debug)]
pub struct PaletteItem {
    pub name: String,
    pub describe: String,
    pub key: String,
    pub target: PaletteTarget,
}

/// Fuzzy score: every query character in order in the text; fewer gaps score higher.
pub fn fuzzy(query: &str, text: &str) -> Option<i64> {
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let mut score = 0i64;
    let mut pos = 0usize;
    let mut last: Option<usize> = None;
    for q in query.to_lowercase().chars().filter(|c| !c.is_whitespace()) {
        let found = text[pos..].iter().position(|c| *c == q)? + pos;
        score += match last {
            Some(l) if found == l + 1 => 3,
            _ => 1,
        };
        if found == 0 || text[found - 1] == ' ' {
            score += 2;
        }
        last = Some(found);
        pos = found + 1;
    }
    Some(score * 100 - text.len() as i64)
}

/// The palette's entries matching `query`, best first: the actions that work in the view
/// under it (its own and the global ones), then every theme.
pub fn palette_items(app: &App, query: &str) -> Vec<PaletteItem> {
    let view = app.context();
    let mut items: Vec<PaletteItem> = Action::ALL
        .iter()
        .filter(|a| a.context() == view || a.context() == Context::Global)
        .map(|a| PaletteItem {
            name: a.id().replace('_', " "),
            describe: a.describe().to_string(),
            key: app.keymap.labels(*a),
            target: PaletteTarget::Action(*a),
        })
        .collect();
    for t in &app.themes {
        items.push(PaletteItem {
            name: format!("theme {}", t.name),
            describe: format!("switch to the {} theme", t.name),
            key: String::new(),
            target: PaletteTarget::Theme(t.name.clone()),
        });
    }
    if query.trim().is_empty() {
        return items;
    }
    let mut scored: Vec<(i64, PaletteItem)> = items
        .into_iter()
        .filter_map(|i| {
            let name = fuzzy(query, &i.name).map(|s| s + 1000);
            let desc = fuzzy(query, &i.describe);
            name.or(desc).map(|s| (s, i))
        })
        .collect();
    scored.sort_by_key(|(s, _)| std::cmp::Reverse(*s));
    scored.into_iter().map(|(_, i)| i).collect()
}
