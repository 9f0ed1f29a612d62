//! Pure views: the app's state in, a frame out. Every string that came from a model or a
//! file goes through `text::display_lines` / `sanitize` first.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Sparkline, Table};
use unicode_width::UnicodeWidthStr;

use super::app::{App, Detail, Focus, RunStatus, View};
use super::keymap::{Action, Context};
use super::widgets::{block, pretty, role_color, truncate, wrap};
use crate::domain::{self, Part, Stage, Verdict};
use crate::lint::Severity;
use crate::model::{Message, Origin};
use crate::text::sanitize;

pub const MIN_W: u16 = 80;
pub const MIN_H: u16 = 24;

pub fn draw(f: &mut Frame, app: &App) {
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
        return;
    }
    let [top, main, status, hints] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1), Constraint::Length(1)])
            .areas(area);
    draw_top(f, app, top);
    match app.view {
        View::Pipeline => draw_pipeline(f, app, main),
        View::Samples => draw_samples(f, app, main),
        View::Trajectory => draw_trajectory(f, app, main),
    }
    draw_status(f, app, status);
    draw_hints(f, app, hints);
    if let Some(ov) = &app.overlay {
        ov.draw(f, app, main);
    }
}

fn draw_top(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(" button ", Style::default().fg(t.accent).add_modifier(Modifier::BOLD))];
    let mut areas = app.areas.get();
    let mut x = area.x + 8;
    for (i, (view, name)) in
        [(View::Pipeline, "1 Pipeline"), (View::Samples, "2 Samples"), (View::Trajectory, "3 Trajectory")]
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
    app.areas.set(areas);
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
        spans.push(Span::styled(" REVIEW QUEUE ", Style::default().fg(t.bg).bg(t.ok).add_modifier(Modifier::BOLD)));
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
        let rest = format!(" {}  ", a.word());
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

fn draw_pipeline(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let r = &app.run;
    let [left, right] = if area.width < 100 {
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(38)]).areas(area)
    } else {
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area)
    };
    let [run_a, stages_a, tput_a] =
        Layout::vertical([Constraint::Length(5), Constraint::Length(9), Constraint::Fill(1)]).areas(left);

    let ended = r.complete + r.failed;
    let elapsed = match (r.started_at, r.ended_at) {
        (Some(s), Some(e)) => e.saturating_sub(s),
        (Some(s), None) => app.clock.saturating_sub(s),
        _ => Default::default(),
    };
    let status_style = match r.status {
        RunStatus::Running => Style::default().fg(t.ok),
        RunStatus::Paused | RunStatus::Cancelling | RunStatus::Starting => Style::default().fg(t.warn),
        RunStatus::Failed => Style::default().fg(t.error),
        _ => Style::default().fg(t.fg),
    };
    let conc = match r.concurrency {
        Some(c) if !r.concurrency_note.is_empty() => format!("{c} (auto)"),
        Some(c) => c.to_string(),
        None => "unlimited".into(),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled(r.status.word(), status_style.add_modifier(Modifier::BOLD)),
            Span::raw(format!(
                " · done {}/{} · {} {} · {}",
                r.already_done as u64 + ended,
                r.target,
                if run_a.width < 60 { "conc" } else { "concurrency" },
                conc,
                fmt_secs(elapsed)
            )),
        ]),
        Line::from(Span::styled(
            format!(
                "{} complete, {} failed · {} calls ({} reused) · {} tokens",
                r.complete, r.failed, r.calls_done, r.calls_reused, r.tokens
            ),
            Style::default().fg(t.fg),
        )),
        Line::from(Span::styled(
            if r.message.is_empty() && r.status == RunStatus::Idle {
                format!("press {} to start a run of {} samples", app.keymap.label(Action::StartRun), app.target)
            } else {
                sanitize(&r.message).into_owned()
            },
            Style::default().fg(t.dim),
        )),
    ];
    f.render_widget(Paragraph::new(lines).block(block(app, " Run ", false)), run_a);

    let counts = r.stage_counts();
    let narrow = stages_a.width < 58;
    let header = Row::new(if narrow {
        ["stage", "wait", "now", "done", "fail", "filt"]
    } else {
        ["stage", "waiting", "in flight", "done", "failed", "filtered"]
    })
    .style(Style::default().fg(t.dim).add_modifier(Modifier::BOLD));
    let rows = Part::ALL.iter().map(|p| {
        let c = counts[p.index()];
        Row::new(vec![
            Cell::from(p.title().to_lowercase()),
            Cell::from(c[0].to_string()),
            Cell::from(c[1].to_string()).style(if c[1] > 0 { Style::default().fg(t.accent) } else { Style::default() }),
            Cell::from(c[2].to_string()).style(Style::default().fg(t.ok)),
            Cell::from(c[3].to_string()).style(if c[3] > 0 { Style::default().fg(t.error) } else { Style::default() }),
            Cell::from(c[4].to_string()).style(if c[4] > 0 { Style::default().fg(t.warn) } else { Style::default() }),
        ])
    });
    let widths =
        if narrow { [11, 5, 4, 5, 5, 5].map(Constraint::Length) } else { [12, 8, 10, 6, 7, 8].map(Constraint::Length) };
    let title = if narrow { " Stages (now = in flight) " } else { " Stages " };
    f.render_widget(Table::new(rows, widths).header(header).block(block(app, title, false)), stages_a);

    let last = |v: &std::collections::VecDeque<u64>| v.back().copied().unwrap_or(0);
    let avg = |v: &std::collections::VecDeque<u64>| {
        let n = v.len().min(10);
        if n == 0 { 0.0 } else { v.iter().rev().take(n).sum::<u64>() as f64 / n as f64 }
    };
    let title = format!(
        " Throughput: {} calls/s ({:.0} avg) · {} tokens/s ",
        last(&r.calls_per_s),
        avg(&r.calls_per_s),
        last(&r.tokens_per_s)
    );
    let inner_w = tput_a.width.saturating_sub(2) as usize;
    let data: Vec<u64> = r.calls_per_s.iter().rev().take(inner_w).rev().copied().collect();
    f.render_widget(
        Sparkline::default().block(block(app, title, false)).data(&data).style(Style::default().fg(t.accent)),
        tput_a,
    );

    let err_h = (5 + r.errors.len() + r.failures.len()).min(12) as u16;
    let [flight_a, err_a] = Layout::vertical([Constraint::Fill(1), Constraint::Length(err_h)]).areas(right);
    // Calls out (by how long they have been out), then those waiting for a slot.
    let mut flights: Vec<_> = r.in_flight.iter().collect();
    flights.sort_by_key(|(id, fl)| (fl.sent.is_none(), fl.sent.unwrap_or(fl.started), **id));
    let out = flights.iter().filter(|(_, fl)| fl.sent.is_some()).count();
    let rows = flights.iter().map(|(_, fl)| {
        let (time, style) = match fl.sent {
            Some(at) => {
                let el = format!("{:.1}s", app.clock.saturating_sub(at).as_secs_f64());
                if fl.attempt > 1 {
                    (format!("{el} try {}", fl.attempt), Style::default().fg(t.warn))
                } else {
                    (el, Style::default().fg(t.fg))
                }
            }
            None => ("waiting".to_string(), Style::default().fg(t.dim)),
        };
        Row::new(vec![
            Cell::from(fl.step.id().to_string()),
            Cell::from(sanitize(&fl.sample).into_owned()),
            Cell::from(time).style(style),
        ])
    });
    let widths = [Constraint::Length(16), Constraint::Length(11), Constraint::Fill(1)];
    let waiting = flights.len() - out;
    let title = if waiting > 0 {
        format!(" In flight: {out} · waiting: {waiting} ")
    } else {
        format!(" Calls in flight: {out} ")
    };
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(["step", "sample", "out for"]).style(Style::default().fg(t.dim)))
            .block(block(app, title, false)),
        flight_a,
    );
    let mut lines = vec![
        Line::from(format!("retries {} · failed calls {}", r.retries, r.calls_failed)),
        Line::from(format!("re-asks {} ({} rescued) · unusable {}", r.reasks, r.rescued, r.unusable)),
        Line::from(format!("failed samples {}", r.failed)),
    ];
    for (step, (asked, rescued)) in &r.reasks_by_step {
        lines.push(Line::from(Span::styled(
            format!("{asked:>5}  re-asked {step} ({rescued} rescued)"),
            Style::default().fg(t.dim),
        )));
    }
    if !r.concurrency_note.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("concurrency {}", sanitize(&r.concurrency_note)),
            Style::default().fg(t.dim),
        )));
    }
    for (k, v) in &r.errors {
        lines.push(Line::from(Span::styled(format!("{v:>5}  call {}", sanitize(k)), Style::default().fg(t.error))));
    }
    for (k, v) in &r.failures {
        lines.push(Line::from(Span::styled(format!("{v:>5}  {}", sanitize(k)), Style::default().fg(t.warn))));
    }
    if r.errors.is_empty() && r.failures.is_empty() {
        lines.push(Line::from(Span::styled("no errors", Style::default().fg(t.dim))));
    }
    f.render_widget(Paragraph::new(lines).block(block(app, " Errors by reason ", false)), err_a);
}

fn verdict_mark(app: &App, v: Option<Verdict>) -> Span<'static> {
    let t = &app.theme;
    match v {
        Some(Verdict::Accepted) => Span::styled("✓", Style::default().fg(t.ok)),
        Some(Verdict::Rejected) => Span::styled("✗", Style::default().fg(t.error)),
        Some(Verdict::Flagged) => Span::styled("⚑", Style::default().fg(t.warn)),
        None => Span::styled("·", Style::default().fg(t.dim)),
    }
}

fn draw_samples(f: &mut Frame, app: &App, area: Rect) {
    let [list_a, lineage_a] = Layout::horizontal([Constraint::Percentage(48), Constraint::Percentage(52)]).areas(area);
    draw_list(f, app, list_a);
    draw_lineage(f, app, lineage_a);
}

fn draw_list(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let focused = app.focus == Focus::List;
    let sort = if app.list.sort == super::app::SortKey::Order && !app.list.sort_reverse {
        String::new()
    } else {
        format!(" · by {}{}", app.list.sort.word(), if app.list.sort_reverse { " ↑" } else { "" })
    };
    let filt = app.list.filter_text();
    let title = format!(
        " Samples {}/{}{}{} ",
        app.list.visible.len(),
        app.list.rows.len(),
        if filt.is_empty() { String::new() } else { format!(" · {}", sanitize(&filt)) },
        sort
    );
    let b = block(app, truncate(&title, area.width.saturating_sub(2) as usize), focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if !app.list.loaded {
        f.render_widget(Paragraph::new(Span::styled("loading the samples…", Style::default().fg(t.dim))), inner);
        return;
    }
    if app.list.visible.is_empty() {
        let msg = if app.list.rows.is_empty() {
            "no samples yet: start a run in the pipeline view (1), or import a file (button review FILE)".to_string()
        } else {
            "no sample passes the filters: 0 clears them".to_string()
        };
        f.render_widget(
            Paragraph::new(wrap(&msg, inner.width as usize).into_iter().map(Line::from).collect::<Vec<_>>())
                .style(Style::default().fg(t.dim)),
            inner,
        );
        return;
    }
    let h = inner.height.saturating_sub(1) as usize;
    let narrow = inner.width < 46;
    let mut areas = app.areas.get();
    let mut offset = areas.list_offset.min(app.list.visible.len().saturating_sub(1));
    if app.list.cursor < offset {
        offset = app.list.cursor;
    } else if app.list.cursor >= offset + h {
        offset = app.list.cursor + 1 - h;
    }
    areas.list = area;
    areas.list_offset = offset;
    app.areas.set(areas);
    let rows = app.list.visible[offset..(offset + h).min(app.list.visible.len())].iter().enumerate().map(|(i, idx)| {
        let r = &app.list.rows[*idx];
        let s = &r.summary;
        let status = match s.stage {
            Stage::Complete => Cell::from("complete").style(Style::default().fg(t.ok)),
            Stage::Failed(_) => Cell::from("failed").style(Style::default().fg(t.error)),
            Stage::At(p) => Cell::from(p.title().to_lowercase()).style(Style::default().fg(t.accent)),
        };
        let lint = if s.lint_errors + s.lint_warnings == 0 {
            Cell::from(if s.stage.is_complete() { "clean" } else { "" }).style(Style::default().fg(t.dim))
        } else {
            Cell::from(s.codes_text()).style(Style::default().fg(if s.lint_errors > 0 { t.error } else { t.warn }))
        };
        let strat = match s.strategy.as_deref() {
            Some("sequential") => "seq",
            Some("parallel_then_sequential") => "par",
            _ => "-",
        };
        let mark = Line::from(vec![
            verdict_mark(app, r.verdict),
            if s.stale.is_empty() { Span::raw(" ") } else { Span::styled("~", Style::default().fg(t.warn)) },
        ]);
        let mut cells = vec![Cell::from(mark), Cell::from(sanitize(&r.id).into_owned()), status];
        if !narrow {
            cells.push(Cell::from(strat));
        }
        cells.extend([Cell::from(format!("{:>2}", s.turns)), Cell::from(format!("{:>2}", s.calls)), lint]);
        let mut row = Row::new(cells);
        if offset + i == app.list.cursor {
            row = row.style(Style::default().bg(t.selected_bg).add_modifier(Modifier::BOLD));
        }
        row
    });
    let (widths, header): (Vec<Constraint>, Vec<&str>) = if narrow {
        (
            vec![
                Constraint::Length(2),
                Constraint::Length(12),
                Constraint::Length(8),
                Constraint::Length(2),
                Constraint::Length(2),
                Constraint::Fill(1),
            ],
            vec!["", "id", "status", "tu", "ca", "lint"],
        )
    } else {
        (
            vec![
                Constraint::Length(2),
                Constraint::Length(17),
                Constraint::Length(9),
                Constraint::Length(3),
                Constraint::Length(2),
                Constraint::Length(2),
                Constraint::Fill(1),
            ],
            vec!["", "id", "status", "str", "tu", "ca", "lint"],
        )
    };
    let header = Row::new(header).style(Style::default().fg(t.dim));
    f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), inner);
}

/// The lineage as lines, and the line where each part starts.
fn lineage_lines(app: &App, d: &Detail, width: usize) -> (Vec<Line<'static>>, [usize; 6]) {
    let t = &app.theme;
    let s = &d.sample;
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut starts = [0usize; 6];
    let (stale, edited) = (domain::stale(s), domain::edited(s));
    let text = |lines: &mut Vec<Line<'static>>, body: &str, style: Style| {
        for l in wrap(body, width.saturating_sub(2)) {
            lines.push(Line::from(Span::styled(format!("  {l}"), style)));
        }
    };
    let dim = Style::default().fg(t.dim);
    let plain = Style::default().fg(t.fg);
    for part in Part::ALL {
        starts[part.index()] = lines.len();
        let selected = part == app.lineage_part;
        let mut head = vec![Span::styled(
            format!("{} {}", if selected { "▶" } else { " " }, part.title()),
            if selected && app.focus == Focus::Lineage {
                Style::default().fg(t.bg).bg(t.accent).add_modifier(Modifier::BOLD)
            } else {
                Style::default().fg(t.accent).add_modifier(Modifier::BOLD)
            },
        )];
        if stale.contains(part) {
            head.push(Span::styled(" STALE", Style::default().fg(t.warn).add_modifier(Modifier::BOLD)));
        }
        if edited.contains(part) {
            head.push(Span::styled(" edited", Style::default().fg(t.warn)));
        }
        let asked = d.calls.iter().filter(|c| c.reask > 0 && part.steps().iter().any(|s| s.id() == c.step));
        let (reasks, rescued) = asked.fold((0, 0), |(n, ok), c| (n + 1, ok + usize::from(c.parse_ok == Some(true))));
        if reasks > 0 {
            head.push(Span::styled(format!(" re-asked {reasks}× ({rescued} usable)"), Style::default().fg(t.dim)));
        }
        lines.push(Line::from(head));
        match part {
            Part::Scenario => match (&s.scenario, &s.origin) {
                (Some(x), _) => text(&mut lines, x, plain),
                (None, Origin::Imported { file, line, format }) => {
                    text(&mut lines, &format!("imported from {file}:{line} ({format} format)"), dim)
                }
                _ => text(&mut lines, "(not made yet)", dim),
            },
            Part::AtomicTask => text(
                &mut lines,
                s.atomic_task.as_deref().unwrap_or("(none)"),
                if s.atomic_task.is_some() { plain } else { dim },
            ),
            Part::Composition => match &s.composition {
                Some(c) => {
                    text(&mut lines, &format!("strategy: {}", c.strategy.as_str()), dim);
                    text(&mut lines, &c.task, plain);
                    for (k, st) in c.sub_tasks.iter().enumerate() {
                        text(&mut lines, &format!("{}. {st}", k + 1), plain);
                    }
                }
                None => text(&mut lines, "(none)", dim),
            },
            Part::Filter => match &s.filter {
                Some(fv) => {
                    let (w, st) = if fv.passed { ("passed", t.ok) } else { ("filtered out", t.error) };
                    lines.push(Line::from(Span::styled(format!("  {w}"), Style::default().fg(st))));
                    text(&mut lines, &fv.analysis, plain);
                }
                None => text(&mut lines, "(none)", dim),
            },
            Part::Functions => {
                let groups: Vec<(String, Vec<&crate::model::FunctionDef>)> = if !s.functions.is_empty() {
                    s.functions.iter().map(|g| (g.sub_task.clone(), g.functions.iter().collect())).collect()
                } else if let Some(tr) = &s.trajectory {
                    vec![(String::new(), tr.tools.iter().collect())]
                } else {
                    Vec::new()
                };
                if groups.is_empty() {
                    text(&mut lines, "(none)", dim);
                }
                for (sub, fs) in groups {
                    if !sub.is_empty() {
                        text(&mut lines, &format!("for: {sub}"), dim);
                    }
                    for fd in fs {
                        let params: Vec<String> =
                            fd.properties().map(|p| p.keys().cloned().collect()).unwrap_or_default();
                        text(&mut lines, &format!("{}({})", fd.name, params.join(", ")), Style::default().fg(t.tool));
                        if !fd.description.is_empty() {
                            text(&mut lines, &format!("  {}", fd.description), dim);
                        }
                    }
                }
            }
            Part::Trajectory => match (&s.trajectory, &s.failure) {
                (Some(tr), fail) => {
                    // A dialogue that stopped part way: where, and why.
                    if let Some(fail) = fail {
                        text(
                            &mut lines,
                            &format!("failed at {}: {} (the dialogue as far as it got)", fail.stage, fail.reason),
                            Style::default().fg(t.error),
                        );
                        text(&mut lines, &fail.detail, dim);
                    }
                    text(
                        &mut lines,
                        &format!(
                            "{} messages, {} assistant turns, {} calls{}",
                            tr.messages.len(),
                            tr.assistant_turns(),
                            tr.call_count(),
                            if tr.has_parallel_calls() { ", parallel calls" } else { "" }
                        ),
                        plain,
                    );
                    let (errs, warns) = d.findings.iter().fold((0, 0), |(e, w), x| match x.code.severity() {
                        Severity::Error => (e + 1, w),
                        Severity::Warning => (e, w + 1),
                    });
                    text(&mut lines, &format!("lint: {errs} errors, {warns} warnings"), dim);
                    if let Some(Message::User { content }) = tr.messages.first() {
                        text(&mut lines, &format!("user: {content}"), Style::default().fg(t.user));
                    }
                    text(&mut lines, "enter opens it", dim);
                }
                (None, Some(fail)) => {
                    text(
                        &mut lines,
                        &format!("failed at {}: {}", fail.stage, fail.reason),
                        Style::default().fg(t.error),
                    );
                    text(&mut lines, &fail.detail, dim);
                }
                _ => text(&mut lines, "(not made yet)", dim),
            },
        }
    }
    if let Some(r) = &d.review {
        lines.push(Line::from(Span::styled(
            format!(
                "verdict: {}{}{}",
                r.verdict.as_str(),
                if r.reasons.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.reasons.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", "))
                },
                if r.note.is_empty() { String::new() } else { format!(": {}", sanitize(&r.note)) }
            ),
            Style::default().fg(t.accent),
        )));
    }
    (lines, starts)
}

fn draw_lineage(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let focused = app.focus == Focus::Lineage;
    let title = match app.selected() {
        Some(r) => format!(" Lineage of {} ", sanitize(&r.id)),
        None => " Lineage ".into(),
    };
    let b = block(app, title, focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let mut areas = app.areas.get();
    areas.lineage = area;
    app.areas.set(areas);
    let Some(d) = app.shown_detail() else {
        let msg = if app.selected().is_some() { "loading…" } else { "" };
        f.render_widget(Paragraph::new(Span::styled(msg, Style::default().fg(t.dim))), inner);
        return;
    };
    let (lines, starts) = lineage_lines(app, d, inner.width as usize);
    let scroll = if focused {
        starts[app.lineage_part.index()] + app.lineage_scroll as usize
    } else {
        app.lineage_scroll as usize
    };
    let scroll = scroll.min(lines.len().saturating_sub(1));
    f.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)), inner);
}

fn agent_of(m: &Message) -> &'static str {
    match m {
        Message::User { .. } => "user_agent",
        Message::Assistant { .. } => "assistant_agent",
        Message::Tool { .. } => "tool_agent",
    }
}

/// The trajectory as lines, and the line where each message starts.
fn trajectory_lines(app: &App, d: &Detail, width: usize) -> (Vec<Line<'static>>, Vec<usize>) {
    let t = &app.theme;
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut starts = Vec::new();
    let Some(tr) = &d.sample.trajectory else {
        return (lines, starts);
    };
    let push = |lines: &mut Vec<Line<'static>>, body: &str, style: Style, indent: usize| {
        for l in wrap(body, width.saturating_sub(indent + 1)) {
            lines.push(Line::from(Span::styled(format!("{}{l}", " ".repeat(indent)), style)));
        }
    };
    let plain = Style::default().fg(t.fg);
    let dim = Style::default().fg(t.dim);
    let names: Vec<&str> = tr.tools.iter().map(|f| f.name.as_str()).collect();
    push(
        &mut lines,
        &format!(
            "system: {} with {} functions: {}{}",
            if tr.system.is_some() { "its own prompt" } else { "the BUTTON prompt" },
            names.len(),
            names.join(", "),
            match tr.parallel {
                Some(true) => " · parallel calls on",
                Some(false) => " · parallel calls off",
                None => "",
            }
        ),
        Style::default().fg(t.system),
        0,
    );
    for f in d.findings.iter().filter(|f| f.message_index.is_none()) {
        push(&mut lines, &format!("⚠ {} {}", f.code.id(), f.message), finding_style(app, f), 1);
    }
    for (i, m) in tr.messages.iter().enumerate() {
        starts.push(lines.len());
        let current = i == app.turn;
        let color = role_color(app, m);
        let head = format!("{} {} {}  ", if current { "▶" } else { " " }, i + 1, m.role().to_uppercase());
        let rule = "─".repeat(width.saturating_sub(head.width() + 1));
        let mut style = Style::default().fg(color).add_modifier(Modifier::BOLD);
        if current {
            style = style.bg(t.selected_bg);
        }
        lines.push(Line::from(vec![Span::styled(head, style), Span::styled(rule, Style::default().fg(color))]));
        match m {
            Message::User { content } => push(&mut lines, content, plain, 2),
            Message::Assistant { thought, calls, final_answer } => {
                if !thought.is_empty() {
                    push(&mut lines, thought, Style::default().fg(t.fg).add_modifier(Modifier::ITALIC), 2);
                }
                if calls.len() > 1 {
                    lines.push(Line::from(Span::styled(
                        format!("  ┌ {} parallel calls", calls.len()),
                        Style::default().fg(t.tool),
                    )));
                }
                for (k, c) in calls.iter().enumerate() {
                    let bar = if calls.len() > 1 { "  │ " } else { "  " };
                    lines.push(Line::from(Span::styled(
                        format!("{bar}call {}: {}", k + 1, sanitize(&c.name)),
                        Style::default().fg(t.tool).add_modifier(Modifier::BOLD),
                    )));
                    for l in pretty(&c.arguments).lines() {
                        push(&mut lines, &format!("{bar}  {l}"), plain, 0);
                    }
                }
                if let Some(a) = final_answer {
                    lines.push(Line::from(Span::styled(
                        "  final answer:",
                        Style::default().fg(t.ok).add_modifier(Modifier::BOLD),
                    )));
                    push(&mut lines, a, plain, 4);
                }
            }
            Message::Tool { results } => {
                if results.len() > 1 {
                    lines.push(Line::from(Span::styled(
                        format!("  ┌ {} results", results.len()),
                        Style::default().fg(t.tool),
                    )));
                }
                for r in results {
                    let bar = if results.len() > 1 { "  │ " } else { "  " };
                    lines.push(Line::from(Span::styled(
                        format!("{bar}{} returned", sanitize(&r.name)),
                        Style::default().fg(t.tool).add_modifier(Modifier::BOLD),
                    )));
                    for l in pretty(&r.results).lines() {
                        push(&mut lines, &format!("{bar}  {l}"), plain, 0);
                    }
                }
            }
        }
        for f in d.findings.iter().filter(|f| f.message_index == Some(i)) {
            push(&mut lines, &format!("⚠ {} {}", f.code.id(), f.message), finding_style(app, f), 2);
        }
    }
    let _ = dim;
    (lines, starts)
}

fn finding_style(app: &App, f: &crate::lint::Finding) -> Style {
    match f.code.severity() {
        Severity::Error => Style::default().fg(app.theme.error).add_modifier(Modifier::BOLD),
        Severity::Warning => Style::default().fg(app.theme.warn),
    }
}

fn draw_trajectory(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let [main, side] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(28)]).areas(area);
    let title = match app.selected() {
        Some(r) => format!(" Trajectory of {} ", sanitize(&r.id)),
        None => " Trajectory ".into(),
    };
    let b = block(app, title, true);
    let inner = b.inner(main);
    f.render_widget(b, main);
    let mut areas = app.areas.get();
    areas.trajectory = main;
    let Some(d) = app.shown_detail() else {
        app.areas.set(areas);
        let msg = if app.selected().is_some() {
            "loading…"
        } else {
            "no sample selected: choose one in the samples view (2)"
        };
        f.render_widget(Paragraph::new(Span::styled(msg, Style::default().fg(t.dim))), inner);
        draw_turn_panel(f, app, None, side);
        return;
    };
    if d.sample.trajectory.is_none() {
        app.areas.set(areas);
        let why = match &d.sample.failure {
            Some(fl) => format!("no trajectory: the sample failed at {} ({}): {}", fl.stage, fl.reason, fl.detail),
            None => "no trajectory yet: the sample is still in the pipeline".into(),
        };
        let lines: Vec<Line> = wrap(&why, inner.width as usize).into_iter().map(Line::from).collect();
        f.render_widget(Paragraph::new(lines).style(Style::default().fg(t.dim)), inner);
        draw_turn_panel(f, app, Some(d), side);
        return;
    }
    let (lines, starts) = trajectory_lines(app, d, inner.width as usize);
    let max = lines.len().saturating_sub(inner.height as usize / 2);
    let scroll = if app.traj_scroll == u16::MAX {
        starts.get(app.turn).copied().unwrap_or(0).saturating_sub(1)
    } else {
        app.traj_scroll as usize
    };
    let scroll = scroll.min(max);
    areas.traj_scroll = scroll as u16;
    app.areas.set(areas);
    f.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)), inner);
    draw_turn_panel(f, app, Some(d), side);
}

fn draw_turn_panel(f: &mut Frame, app: &App, d: Option<&Detail>, area: Rect) {
    let t = &app.theme;
    let dim = Style::default().fg(t.dim);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(d) = d {
        if let Some(tr) = &d.sample.trajectory {
            let n = tr.messages.len();
            let m = &tr.messages[app.turn.min(n.saturating_sub(1))];
            lines.push(Line::from(vec![
                Span::styled(format!("turn {}/{} ", app.turn + 1, n), Style::default().add_modifier(Modifier::BOLD)),
                Span::styled(m.role(), Style::default().fg(role_color(app, m)).add_modifier(Modifier::BOLD)),
            ]));
            match d.turn_calls.get(app.turn).copied().flatten().and_then(|i| d.calls.get(i)) {
                Some(c) => {
                    lines.push(Line::from(format!("by {}", c.step)));
                    lines.push(Line::from(Span::styled(format!("call #{} · {} ms", c.id, c.latency_ms), dim)));
                    lines.push(Line::from(Span::styled(
                        format!("{} + {} tokens", c.prompt_tokens, c.completion_tokens),
                        dim,
                    )));
                    lines.push(Line::from(Span::styled(
                        format!("{} opens the call", app.keymap.label(Action::CallOfTurn)),
                        Style::default().fg(t.accent),
                    )));
                }
                None if matches!(d.sample.origin, Origin::Imported { .. }) => {
                    lines.push(Line::from(Span::styled("imported: no LLM call", dim)));
                }
                None => lines.push(Line::from(Span::styled(format!("{}: no call recorded", agent_of(m)), dim))),
            }
            let here: Vec<_> = d.findings.iter().filter(|x| x.message_index == Some(app.turn)).collect();
            if !here.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!("{} lint findings here", here.len()),
                    Style::default().fg(t.warn),
                )));
            }
            lines.push(Line::from(""));
        }
        let s = &d.sample;
        if let Some(c) = &s.composition {
            lines.push(Line::from(Span::styled(format!("strategy {}", c.strategy.as_str()), dim)));
        }
        lines.push(Line::from(Span::styled(
            format!("{} findings in all", d.findings.len()),
            if d.findings.is_empty() { dim } else { Style::default().fg(t.warn) },
        )));
        let verdict = match &d.review {
            Some(r) => r.verdict.as_str().to_string(),
            None => "none yet".into(),
        };
        lines.push(Line::from(vec![Span::raw("verdict: "), Span::styled(verdict, Style::default().fg(t.accent))]));
    }
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            if text.width() > area.width.saturating_sub(2) as usize {
                Line::from(truncate(&text, area.width as usize - 2))
            } else {
                l
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block(app, " Turn ", false)), area);
}
