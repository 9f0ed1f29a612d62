//! The editor of a lineage part, a turn, or a prompt template: checked as you type, saved
//! only when the text checks out.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui_textarea::TextArea;

use super::{Cmd, Outcome, hint_text};
use crate::model::{Message, Sample};
use crate::text::sanitize;
use crate::tui::app::{App, Effect, StoreFx, TerminalFx};
use crate::tui::diff;
use crate::tui::edit::{self, Field, Problem};
use crate::tui::keymap::Action;
use crate::tui::widgets::{block, centered, diff_line};

/// What saving the editor does.
#[derive(Clone, Debug, PartialEq)]
pub enum Purpose {
    /// Saves the field (journaled, the original kept).
    Save,
    /// Forks the dialogue from this turn with the edited message.
    Fork(usize),
}

pub struct Editor {
    pub sample_id: String,
    pub field: Field,
    pub purpose: Purpose,
    pub original: String,
    pub input: TextArea<'static>,
    /// What is wrong with the text now (checked on every change).
    pub problems: Vec<Problem>,
    pub show_diff: bool,
    /// Esc was pressed once with changes: the next one discards them.
    pub discarding: bool,
    /// The sample as it was when the editor opened, for the checks that need it.
    pub sample: Option<Box<Sample>>,
    /// The text's style and its line numbers' (None: no line numbers), from the theme.
    styles: (Style, Option<Style>),
}

impl Editor {
    /// An editor of `text`, checked at once.
    pub fn new(
        sample_id: String,
        field: Field,
        purpose: Purpose,
        text: String,
        sample: Option<Box<Sample>>,
        theme: &crate::tui::theme::Theme,
    ) -> Editor {
        let numbered = field.is_json() || matches!(field, Field::Template(_));
        let styles = (Style::default().bg(theme.bg).fg(theme.fg), numbered.then(|| Style::default().fg(theme.dim)));
        let mut e = Editor {
            sample_id,
            field,
            purpose,
            input: TextArea::default(),
            original: String::new(),
            problems: Vec::new(),
            show_diff: false,
            discarding: false,
            sample,
            styles,
        };
        e.set_text(&text);
        e.original = text;
        e
    }

    pub fn text(&self) -> String {
        self.input.lines().join("\n")
    }

    /// Replaces the text (back from $EDITOR) and checks it.
    pub fn set_text(&mut self, text: &str) {
        // Styled once here, and drawn as it is: its viewport (what page keys scroll by) is
        // the one drawn.
        let mut input = TextArea::new(text.lines().map(str::to_string).collect());
        input.set_style(self.styles.0);
        input.set_cursor_line_style(Style::default());
        if let Some(n) = self.styles.1 {
            input.set_line_number_style(n);
        }
        self.input = input;
        self.check();
    }

    pub fn check(&mut self) {
        let text = self.text();
        self.problems = match &self.sample {
            Some(s) => edit::from_text(s, &self.field, &text).err().unwrap_or_default(),
            None => match &self.field {
                Field::Template(step) => edit::check_template(*step, &text).err().into_iter().collect(),
                _ => Vec::new(),
            },
        };
    }

    pub fn key(&mut self, k: KeyEvent, a: Option<Action>, app: &App) -> Outcome {
        let discarding = std::mem::take(&mut self.discarding);
        match a {
            Some(Action::EditorCancel) if self.show_diff => {
                self.show_diff = false;
                Outcome::keep()
            }
            // A long edit is not lost to one key: with changes, esc asks first.
            Some(Action::EditorCancel) if !discarding && self.text() != self.original => {
                self.discarding = true;
                Outcome::keep().toast(format!(
                    "unsaved changes: {} again discards them, {} saves",
                    app.keymap.label(Action::EditorCancel),
                    app.keymap.label(Action::EditorSave)
                ))
            }
            Some(Action::EditorCancel) if discarding => Outcome::close().toast("edit discarded: nothing saved"),
            Some(Action::EditorCancel) => Outcome::close().toast("edit cancelled: nothing saved"),
            Some(Action::EditorDiff) => {
                self.show_diff = !self.show_diff;
                Outcome::keep()
            }
            Some(Action::EditorExternal) => {
                Outcome::keep().then(Cmd::Effect(Effect::Terminal(TerminalFx::ExternalEdit {
                    text: self.text(),
                    extension: self.field.extension(),
                })))
            }
            Some(Action::EditorSave) => self.save(app),
            _ if self.show_diff => Outcome::keep(),
            _ => {
                if self.input.input(k) {
                    self.check();
                }
                Outcome::keep()
            }
        }
    }

    fn save(&mut self, app: &App) -> Outcome {
        self.check();
        if let Some(p) = self.problems.first() {
            return Outcome::keep().toast(format!("not saved: {p}"));
        }
        let text = self.text();
        if let Field::Template(step) = self.field {
            return Outcome::close().then(Cmd::Effect(Effect::Store(StoreFx::SaveTemplate { step, text })));
        }
        let Some(sample) = &self.sample else { return Outcome::keep() };
        let value = match edit::from_text(sample, &self.field, &text) {
            Ok(v) => v,
            Err(p) => {
                self.problems = p;
                return Outcome::keep();
            }
        };
        match self.purpose {
            Purpose::Save if text == self.original => Outcome::close().toast("no change: nothing saved"),
            Purpose::Save => Outcome::close().then(Cmd::Effect(Effect::Store(StoreFx::Edit {
                id: self.sample_id.clone(),
                path: self.field.path(),
                value,
            }))),
            Purpose::Fork(_) if app.run.status.in_flight() => {
                Outcome::keep().toast("a run is in flight: fork when it ends")
            }
            Purpose::Fork(turn) => {
                let message = match &self.field {
                    Field::UserMessage(_) => Message::User { content: value.as_str().unwrap_or("").to_string() },
                    Field::ToolResults(_) => Message::Tool { results: serde_json::from_value(value).expect("checked") },
                    _ => serde_json::from_value(value).expect("checked"),
                };
                Outcome::close().then(Cmd::Fork { id: self.sample_id.clone(), turn, message })
            }
        }
    }

    pub fn draw(&self, f: &mut Frame, app: &App, main: Rect) {
        let t = &app.theme;
        let base = Style::default().bg(t.bg).fg(t.fg);
        let area = centered(main, main.width.saturating_sub(2), main.height);
        f.render_widget(Clear, area);
        let what = match self.purpose {
            Purpose::Save => "Edit",
            Purpose::Fork(_) => "Fork from",
        };
        let title = format!(" {what}: {} ", self.field.title());
        let footer = if self.discarding {
            format!(
                " unsaved changes: {} again discards them · {} saves ",
                app.keymap.label(Action::EditorCancel),
                app.keymap.label(Action::EditorSave)
            )
        } else if self.show_diff {
            format!(
                " the diff against the original · {} or {} back to editing ",
                app.keymap.label(Action::EditorDiff),
                app.keymap.label(Action::EditorCancel)
            )
        } else {
            format!(
                " {} ",
                hint_text(app, &[Action::EditorSave, Action::EditorCancel, Action::EditorDiff, Action::EditorExternal])
            )
        };
        let b = block(app, title, true).title_bottom(Line::from(Span::styled(footer, Style::default().fg(t.accent))));
        let inner = b.inner(area);
        f.render_widget(b.style(base), area);
        let n = self.problems.len().min(4) as u16;
        let [edit_a, check_a] = Layout::vertical([Constraint::Fill(1), Constraint::Length(n.max(1))]).areas(inner);
        if self.show_diff {
            let now = self.text();
            let mut lines: Vec<Line> = Vec::new();
            let parsed = (
                serde_json::from_str::<serde_json::Value>(&self.original),
                serde_json::from_str::<serde_json::Value>(&now),
            );
            if let (true, (Ok(a), Ok(b))) = (matches!(self.field, Field::Functions | Field::Tools), parsed) {
                for (tag, text) in diff::schema_diff(&a, &b) {
                    lines.push(diff_line(app, tag, &text));
                }
                lines.push(Line::from(""));
            }
            for (tag, text) in diff::line_diff(&self.original, &now) {
                lines.push(diff_line(app, tag, &sanitize(&text)));
            }
            f.render_widget(Paragraph::new(lines), edit_a);
        } else {
            f.render_widget(&self.input, edit_a);
        }
        let checks: Vec<Line> = if self.problems.is_empty() {
            vec![Line::from(Span::styled("✓ checks out", Style::default().fg(t.ok)))]
        } else {
            self.problems
                .iter()
                .take(4)
                .map(|p| {
                    Line::from(Span::styled(format!("✗ {}", sanitize(&p.to_string())), Style::default().fg(t.error)))
                })
                .collect()
        };
        f.render_widget(Paragraph::new(checks), check_a);
    }
}
