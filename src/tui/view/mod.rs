//! Pure views: the app's state in, a frame out. Every string that came from a model or a
//! file goes through `text::display_lines` / `sanitize` first.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Sparkline, Table};
use unicode_width::UnicodeWidthStr;

mod inspect;
mod pipeline;
mod samples;
mod trajectory;

use super::app::{App, Areas, Detail, Focus, RunStatus, View};
use super::keymap::{Action, Context};
use super::widgets::{block, pretty, role_color, truncate, wrap};
use crate::domain::{self, Part, Stage, Verdict};
use crate::lint::Severity;
use crate::model::{Message, Origin};
use crate::text::sanitize;
use inspect::draw_inspect;
use pipeline::draw_pipeline;
use samples::draw_samples;
use trajectory::draw_trajectory;

pub const MIN_W: u16 = 80;
pub const MIN_H: u16 = 24;

/// Draws the app; returns where things landed (for the mouse, the list's scroll, the
/// trajectory's scroll), which the loop hands back to the app.
pub fn draw(f: &mut Frame, app: &App) -> Areas {
    let mut areas = app.areas;
    let area = f.area();
    let t = &app.theme;
    f.render_widget(Block::default().style(Style::default().bg(t.bg).fg(t.fg)), area);
    if area.width < MIN_W || area.height < MIN_H {
        let msg = vec![
            Line::from(format!("button needs a terminal of at least {MIN_W}x{MIN_H};")),
            Line::from(format!("this one is {}x{}.", area.width, area.height)),
            Line::from("Make it larger, or press q to quit."),
        ];
        let y = area.height.saturating_sub(3) / 2;
        f.render_widget(
            Paragraph::new(msg).alignment(Alignment::Center),
            Rect::new(area.x, area.y + y, area.width, 3.min(area.height)),
        );
        return areas;
    }
    let [top, main, status, hints] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1), Constraint::Length(1)])
            .areas(area);
    draw_top(f, app, top, &mut areas);
    match app.view {
        View::Pipeline => draw_pipeline(f, app, main),
        View::Samples => draw_samples(f, app, main, &mut areas),
        View::Trajectory => draw_trajectory(f, app, main, &mut areas),
        View::Inspect => draw_inspect(f, app, main, &mut areas),
    }
    draw_status(f, app, status);
    draw_hints(f, app, hints);
    areas.reader_max = None;
    if let Some(ov) = &app.overlay {
        ov.draw(f, app, main, &mut areas);
    }
    areas
}

fn draw_top(f: &mut Frame, app: &App, area: Rect, areas: &mut Areas) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(" button ", Style::default().fg(t.accent).add_modifier(Modifier::BOLD))];
    let mut x = area.x + 8;
    for (i, (view, name)) in [
        (View::Pipeline, "1 Pipeline"),
        (View::Samples, "2 Samples"),
        (View::Trajectory, "3 Trajectory"),
        (View::Inspect, "4 Inspect"),
    ]
    .iter()
    .enumerate()
    {
        let label = format!(" {name} ");
        let w = label.width() as u16;
        areas.tabs[i] = Rect::new(x, area.y, w, 1);
        x += w + 1;
        let style = if app.view == *view {
            Style::default().fg(t.bg).bg(t.accent).add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(t.dim)
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    let mut right = Vec::new();
    if app.simulated {
        right.push(Span::styled(
            " SIMULATED ",
            Style::default().fg(t.badge_fg).bg(t.badge_bg).add_modifier(Modifier::BOLD),
        ));
        right.push(Span::raw(" "));
    }
    let run = match app.run.status {
        RunStatus::Idle => String::new(),
        s => format!("run {} ", s.word()),
    };
    right.push(Span::styled(run, Style::default().fg(t.dim)));
    right.push(Span::styled(truncate(&sanitize(&app.workspace_label), 24), Style::default().fg(t.dim)));
    right.push(Span::raw(" "));
    let rw: usize = right.iter().map(|s| s.content.width()).sum();
    let lw: usize = spans.iter().map(|s| s.content.width()).sum();
    let pad = (area.width as usize).saturating_sub(lw + rw);
    spans.push(Span::raw(" ".repeat(pad)));
    spans.extend(right);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let (total, reviewed, acc, rej, flag) = app.list.review_progress();
    let rate = if acc + rej > 0 { format!("{:.0}%", 100.0 * acc as f64 / (acc + rej) as f64) } else { "-".into() };
    let mut spans = Vec::new();
    if app.list.queue {
        let badge = if app.list.queue_flagged { " FLAGGED QUEUE " } else { " REVIEW QUEUE " };
        spans.push(Span::styled(badge, Style::default().fg(t.bg).bg(t.ok).add_modifier(Modifier::BOLD)));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(
        format!("reviewed {reviewed}/{total} · accepted {acc} ({rate}) · rejected {rej} · flagged {flag}"),
        Style::default().fg(t.fg),
    ));
    if app.list.unindexed > 0 {
        spans.push(Span::styled(format!(" · indexing {} for search", app.list.unindexed), Style::default().fg(t.dim)));
    }
    if let Some((msg, _)) = &app.toast {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(format!(" {} ", sanitize(msg)), Style::default().fg(t.bg).bg(t.accent)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The hint bar: the main keys of what has focus, read from the keymap.
/// The hint bar: the keys of what has the keyboard, as bound now. With an overlay open,
/// only the overlay's keys (nothing else works then).
fn draw_hints(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let actions: Vec<Action> = match &app.overlay {
        Some(ov) => ov.actions(),
        None => [Action::Help, Action::Palette, Action::Quit]
            .into_iter()
            .chain(view_hints(app.context()).iter().copied())
            .collect(),
    };
    let mut spans = Vec::new();
    let mut used = 0usize;
    let room = area.width as usize;
    for a in actions {
        let key = app.keymap.label(a);
        if key.is_empty() {
            continue;
        }
        // With a search in force, n goes from match to match.
        let word = if a == Action::NextTurn && app.list.search.is_some() { "next match".into() } else { a.word() };
        let rest = format!(" {word}  ");
        used += key.width() + rest.width();
        if used > room {
            break;
        }
        spans.push(Span::styled(key, Style::default().fg(t.accent).add_modifier(Modifier::BOLD)));
        spans.push(Span::styled(rest, Style::default().fg(t.dim)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The actions a view's hint bar shows first (help has them all).
fn view_hints(ctx: Context) -> &'static [Action] {
    match ctx {
        Context::Pipeline => &[
            Action::StartRun,
            Action::PauseResume,
            Action::CancelRun,
            Action::ConcurrencyUp,
            Action::ConcurrencyDown,
            Action::TargetUp,
            Action::TargetDown,
            Action::ViewSamples,
        ],
        Context::Samples => &[
            Action::Accept,
            Action::Reject,
            Action::Skip,
            Action::Flag,
            Action::Undo,
            Action::Search,
            Action::Filters,
            Action::Open,
            Action::ReviewQueue,
        ],
        Context::Inspect => &[
            Action::InspectNextPart,
            Action::InspectPrevPart,
            Action::InspectOpen,
            Action::InspectDown,
            Action::InspectUp,
        ],
        _ => &[
            Action::NextTurn,
            Action::PrevTurn,
            Action::CallOfTurn,
            Action::TrajAccept,
            Action::TrajReject,
            Action::TrajSkip,
            Action::TrajFlag,
            Action::Undo,
        ],
    }
}

fn fmt_secs(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 { format!("{}h{:02}m", s / 3600, (s / 60) % 60) } else { format!("{}m{:02}s", s / 60, s % 60) }
}
