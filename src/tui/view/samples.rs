//! The samples view: the list and the selected sample's lineage.

use super::{
    App, Areas, Cell, Constraint, Detail, Focus, Frame, Layout, Line, Message, Modifier, Origin, Paragraph, Part, Rect,
    Row, Severity, Span, Stage, Style, Table, Verdict, block, domain, sanitize, truncate, wrap,
};

pub(super) fn verdict_mark(app: &App, v: Option<Verdict>) -> Span<'static> {
    let t = &app.theme;
    match v {
        Some(Verdict::Accepted) => Span::styled("✓", Style::default().fg(t.ok)),
        Some(Verdict::Rejected) => Span::styled("✗", Style::default().fg(t.error)),
        Some(Verdict::Flagged) => Span::styled("⚑", Style::default().fg(t.warn)),
        None => Span::styled("·", Style::default().fg(t.dim)),
    }
}

pub(super) fn draw_samples(f: &mut Frame, app: &App, area: Rect, areas: &mut Areas) {
    let [list_a, lineage_a] = Layout::horizontal([Constraint::Percentage(48), Constraint::Percentage(52)]).areas(area);
    draw_list(f, app, list_a, areas);
    draw_lineage(f, app, lineage_a, areas);
}

fn draw_list(f: &mut Frame, app: &App, area: Rect, areas: &mut Areas) {
    let t = &app.theme;
    let focused = app.focus == Focus::List;
    let sort = if app.list.sort == crate::tui::list::SortKey::Order && !app.list.sort_reverse {
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
    let mut offset = areas.list_offset.min(app.list.visible.len().saturating_sub(1));
    if app.list.cursor < offset {
        offset = app.list.cursor;
    } else if app.list.cursor >= offset + h {
        offset = app.list.cursor + 1 - h;
    }
    areas.list = area;
    areas.list_offset = offset;
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
                    text(&mut lines, &format!("imported from {file}:{line} ({format} format)"), dim);
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
                        let params: Vec<String> = fd
                            .properties()
                            .map(|p| p.keys().map(crate::json::Key::to_string).collect())
                            .unwrap_or_default();
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

fn draw_lineage(f: &mut Frame, app: &App, area: Rect, areas: &mut Areas) {
    let t = &app.theme;
    let focused = app.focus == Focus::Lineage;
    let title = match app.selected() {
        Some(r) => format!(" Lineage of {} ", sanitize(&r.id)),
        None => " Lineage ".into(),
    };
    let b = block(app, title, focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    areas.lineage = area;
    let Some(d) = app.shown_detail() else {
        let msg = if app.selected().is_some() { "loading…" } else { "" };
        f.render_widget(Paragraph::new(Span::styled(msg, Style::default().fg(t.dim))), inner);
        return;
    };
    let (mut lines, starts) = lineage_lines(app, d, inner.width as usize);
    crate::tui::widgets::highlight(&mut lines, &app.list.search_terms());
    let scroll = if focused {
        starts[app.lineage_part.index()] + app.lineage_scroll as usize
    } else {
        app.lineage_scroll as usize
    };
    let scroll = scroll.min(lines.len().saturating_sub(1));
    f.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)), inner);
}
