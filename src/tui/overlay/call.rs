//! An LLM call: its rendered prompt, raw reply and parsed result side by side; and a call
//! asked again, beside the call before.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Cmd, Outcome, Scroll, hint_text};
use crate::domain::Step;
use crate::store::CallRow;
use crate::text::sanitize;
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::widgets::{block, centered, column, pretty};

/// One call of the loaded sample.
pub struct CallView {
    /// Index into the loaded sample's calls.
    pub index: usize,
    pub scroll: Scroll,
}

impl CallView {
    pub fn new(index: usize) -> CallView {
        CallView { index, scroll: Scroll::default() }
    }

    pub fn key(&mut self, a: Option<Action>, app: &App) -> Outcome {
        let call = app.detail.as_ref().and_then(|d| d.calls.get(self.index));
        match (a, call) {
            (Some(Action::CallClose), _) => Outcome::close(),
            (Some(Action::CallTemplate), Some(c)) => template(c),
            (Some(Action::CallRerun), Some(c)) => {
                if app.run.status.in_flight() {
                    Outcome::keep().toast("a run is in flight: ask the step again when it ends")
                } else {
                    Outcome::keep().then(Cmd::Rerun { call: c.id, sample: c.sample_id.clone() })
                }
            }
            (a, _) => self.scroll.key(a).unwrap_or_default(),
        }
    }

    /// Returns how far it can scroll (its longest column).
    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) -> u16 {
        let Some(c) = app.detail.as_ref().and_then(|d| d.calls.get(self.index)) else { return 0 };
        let t = &app.theme;
        let area = centered(main, main.width.saturating_sub(2), main.height);
        f.render_widget(Clear, area);
        let title =
            format!(" LLM call #{} · {} · {} ", c.id, c.step, hint_text(app, &[Action::ReadClose, Action::ReadDown]));
        let b = block(app, title, true).title_bottom(Line::from(Span::styled(
            format!(" {} ", hint_text(app, &[Action::CallTemplate, Action::CallRerun])),
            Style::default().fg(t.accent),
        )));
        let inner = b.inner(area);
        f.render_widget(b.style(Style::default().bg(t.bg).fg(t.fg)), area);
        let [head_a, body] = Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(inner);
        f.render_widget(Paragraph::new(call_head(app, c)), head_a);
        let cols = Layout::horizontal([Constraint::Ratio(2, 5), Constraint::Ratio(3, 10), Constraint::Ratio(3, 10)])
            .spacing(1)
            .split(body);
        let parts =
            [("rendered prompt", prompt_text(&c.prompt)), ("raw reply", reply_text(c)), ("parsed", parsed_text(c))];
        let mut max = 0;
        for (i, (name, text)) in parts.iter().enumerate() {
            max = max.max(column(f, app, cols[i], name, text, self.scroll.0));
        }
        max
    }
}

/// `t` on a call: its step's template in the editor; the call opens again after.
fn template(c: &CallRow) -> Outcome {
    match Step::from_id(&c.step) {
        Some(step) => Outcome::close().then(Cmd::Template { step, call: c.id }),
        None => Outcome::keep().toast(format!("{} is no step of this version", c.step)),
    }
}

/// A step asked again: the call before beside the call now, prompt, reply and parse; the
/// template loop goes on from here (edit, ask again, keep, the next sample's call).
pub struct CallCompare {
    pub old: CallRow,
    pub new: CallRow,
    pub scroll: Scroll,
}

impl CallCompare {
    pub fn key(&mut self, a: Option<Action>, app: &App) -> Outcome {
        match a {
            Some(Action::RerunTemplate) => template(&self.old),
            Some(Action::RerunAgain) if app.run.status.in_flight() => {
                Outcome::keep().toast("a run is in flight: ask the step again when it ends")
            }
            Some(Action::RerunAgain) => {
                Outcome::keep().then(Cmd::Rerun { call: self.old.id, sample: self.old.sample_id.clone() })
            }
            Some(Action::RerunKeep) if self.new.parse_ok != Some(true) => {
                Outcome::keep().toast("the new reply did not parse: nothing to keep")
            }
            Some(Action::RerunKeep) => Outcome::close().then(Cmd::KeepReply(self.new.id)),
            Some(Action::RerunNext) => Outcome::close().then(Cmd::NextSampleCall(self.old.step.clone())),
            a => self.scroll.key(a).unwrap_or_default(),
        }
    }

    /// Returns how far it can scroll (its longer column).
    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) -> u16 {
        let t = &app.theme;
        let area = centered(main, main.width.saturating_sub(2), main.height);
        f.render_widget(Clear, area);
        let title = format!(
            " {} asked again: #{} (before) beside #{} (now) · {} ",
            self.new.step,
            self.old.id,
            self.new.id,
            hint_text(app, &[Action::ReadClose])
        );
        let b = block(app, title, true).title_bottom(Line::from(Span::styled(
            format!(
                " {} ",
                hint_text(app, &[Action::RerunTemplate, Action::RerunAgain, Action::RerunKeep, Action::RerunNext])
            ),
            Style::default().fg(t.accent),
        )));
        let inner = b.inner(area);
        f.render_widget(b.style(Style::default().bg(t.bg).fg(t.fg)), area);
        let cols = Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).spacing(1).split(inner);
        let mut max = 0;
        for (i, c) in [&self.old, &self.new].into_iter().enumerate() {
            let [h, body] = Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(cols[i]);
            f.render_widget(Paragraph::new(call_head(app, c)), h);
            let text = format!(
                "{}\n\n── parsed ──\n{}\n\n── prompt ──\n{}",
                reply_text(c),
                parsed_text(c),
                prompt_text(&c.prompt)
            );
            let name = if i == 0 { "before: reply, parse, prompt" } else { "now: reply, parse, prompt" };
            max = max.max(column(f, app, body, name, &text, self.scroll.0));
        }
        max
    }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

fn call_head<'a>(app: &App, c: &CallRow) -> Vec<Line<'a>> {
    let t = &app.theme;
    vec![
        Line::from(format!(
            "{}template {} · parse {} · {} + {} tokens · {} ms on the wire{} · {} attempt{}",
            if c.reask > 0 { format!("re-ask {} · ", c.reask) } else { String::new() },
            or_dash(&c.template_version),
            match c.parse_ok {
                Some(true) => "ok",
                Some(false) => "FAILED",
                None => "-",
            },
            c.prompt_tokens,
            c.completion_tokens,
            c.latency_ms,
            if c.wait_ms > 0 { format!(" ({} ms waiting for a slot)", c.wait_ms) } else { String::new() },
            c.attempts,
            if c.attempts == 1 { "" } else { "s" },
        )),
        Line::from(Span::styled(
            format!("model {} · {}", sanitize(or_dash(&c.model)), sanitize(or_dash(&c.endpoint))),
            Style::default().fg(t.dim),
        )),
    ]
}

/// The prompt's chat messages as text: `[role]` then the content.
fn prompt_text(prompt: &str) -> String {
    match serde_json::from_str::<Vec<serde_json::Value>>(prompt) {
        Ok(msgs) => msgs
            .iter()
            .map(|m| {
                format!(
                    "[{}]\n{}",
                    m.get("role").and_then(|r| r.as_str()).unwrap_or("?"),
                    m.get("content").and_then(|r| r.as_str()).unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Err(_) => prompt.to_string(),
    }
}

fn reply_text(c: &CallRow) -> String {
    c.raw_reply.clone().unwrap_or_else(|| c.error.clone().unwrap_or("(none)".into()))
}

fn parsed_text(c: &CallRow) -> String {
    c.parse_result.as_deref().map_or_else(
        || "(none)".into(),
        |p| serde_json::from_str::<serde_json::Value>(p).map(|v| pretty(&v)).unwrap_or(p.to_string()),
    )
}
