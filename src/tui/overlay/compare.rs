//! A fork beside the sample's own branch, turn by turn: keep one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Cmd, Outcome, hint_text};
use crate::model::Trajectory;
use crate::tui::app::{App, Effect, StoreFx};
use crate::tui::keymap::Action;
use crate::tui::widgets::{block, centered, column_title, role_color, wrap};

pub struct Compare {
    pub sample_id: String,
    /// The fork's version id.
    pub version: i64,
    pub current: Trajectory,
    pub fork: Option<Trajectory>,
    pub fork_failure: Option<String>,
    pub turn: usize,
}

impl Compare {
    pub fn key(&mut self, a: Option<Action>) -> Outcome {
        match a {
            Some(Action::CompareLater) => {
                Outcome::close().toast("the fork is kept aside: b reopens it; D shows the versions")
            }
            Some(Action::CompareNext) => {
                let n = self.current.messages.len().max(self.fork.as_ref().map_or(0, |f| f.messages.len()));
                self.turn = (self.turn + 1).min(n.saturating_sub(1));
                Outcome::keep()
            }
            Some(Action::ComparePrev) => {
                self.turn = self.turn.saturating_sub(1);
                Outcome::keep()
            }
            Some(Action::KeepCurrent) => Outcome::close()
                .then(Cmd::Effect(Effect::Store(StoreFx::DropVersion {
                    id: self.sample_id.clone(),
                    version: self.version,
                })))
                .toast("kept the current branch; the fork is dropped"),
            Some(Action::KeepFork) => match &self.fork {
                Some(t) => Outcome::close()
                    .then(Cmd::Effect(Effect::Store(StoreFx::Edit {
                        id: self.sample_id.clone(),
                        path: "/trajectory".into(),
                        value: serde_json::to_value(t).expect("serializes"),
                    })))
                    .then(Cmd::Effect(Effect::Store(StoreFx::DropVersion {
                        id: self.sample_id.clone(),
                        version: self.version,
                    })))
                    .toast("kept the fork: it is the sample's trajectory now (u undoes)"),
                None => Outcome::keep().toast("the fork failed: there is no branch to keep"),
            },
            _ => Outcome::keep(),
        }
    }

    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) {
        let t = &app.theme;
        let area = centered(main, main.width.saturating_sub(2), main.height);
        f.render_widget(Clear, area);
        let title = format!(
            " Fork: the sample's branch beside the new one · {} ",
            hint_text(app, &[Action::CompareNext, Action::ComparePrev])
        );
        let footer = format!(" {} ", hint_text(app, &[Action::KeepCurrent, Action::KeepFork, Action::CompareLater]));
        let b = block(app, title, true).title_bottom(Line::from(Span::styled(footer, Style::default().fg(t.accent))));
        let inner = b.inner(area);
        f.render_widget(b.style(Style::default().bg(t.bg).fg(t.fg)), area);
        let cols = Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).spacing(1).split(inner);
        draw_branch(f, app, cols[0], "current", Some(&self.current), None, self.turn);
        draw_branch(f, app, cols[1], "fork", self.fork.as_ref(), self.fork_failure.as_deref(), self.turn);
    }
}

/// One branch of a fork, turn by turn, the turn `turn` marked and in sight.
fn draw_branch(
    f: &mut Frame,
    app: &App,
    area: Rect,
    name: &str,
    tr: Option<&Trajectory>,
    failure: Option<&str>,
    turn: usize,
) {
    let t = &app.theme;
    let body = column_title(f, app, area, name);
    let width = body.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let mut start = 0;
    if let Some(fail) = failure {
        for l in wrap(&format!("the fork failed: {fail}"), width) {
            lines.push(Line::from(Span::styled(l, Style::default().fg(t.error))));
        }
    }
    for (i, m) in tr.map_or(&[][..], |t| t.messages.as_slice()).iter().enumerate() {
        if i == turn {
            start = lines.len();
        }
        let mut style = Style::default().fg(role_color(app, m)).add_modifier(Modifier::BOLD);
        if i == turn {
            style = style.bg(t.selected_bg);
        }
        lines.push(Line::from(Span::styled(
            format!("{} {} {}", if i == turn { "▶" } else { " " }, i + 1, m.role().to_uppercase()),
            style,
        )));
        for l in wrap(&crate::formats::button::message_text(m), width.saturating_sub(2)) {
            lines.push(Line::from(format!("  {l}")));
        }
    }
    f.render_widget(Paragraph::new(lines).scroll((start.saturating_sub(1) as u16, 0)), body);
}
