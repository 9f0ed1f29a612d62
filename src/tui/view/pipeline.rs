//! The pipeline view: the run, the stages, the calls, the errors.

use super::{
    Action, App, Cell, Constraint, Frame, Layout, Line, Modifier, Paragraph, Part, Rect, Row, RunStatus, Span,
    Sparkline, Style, Table, block, fmt_secs, sanitize,
};

pub(super) fn draw_pipeline(f: &mut Frame, app: &App, area: Rect) {
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
    let elapsed = r.elapsed(app.clock);
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
                "{} complete, {} failed{} · {} calls ({} reused) · {} tokens",
                r.complete,
                r.failed,
                if r.stopped > 0 { format!(", {} stopped (will resume)", r.stopped) } else { String::new() },
                r.calls_done,
                r.calls_reused,
                r.tokens
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
        ["stage", "waiting", "at it", "done", "failed", "filtered"]
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
    let title = if narrow { " Samples by stage (now = at it) " } else { " Samples by stage " };
    f.render_widget(Table::new(rows, widths).header(header).block(block(app, title, false)), stages_a);

    let last = |v: &std::collections::VecDeque<u64>| v.back().copied().unwrap_or(0);
    let avg = |v: &std::collections::VecDeque<u64>| {
        let n = v.len().min(10);
        if n == 0 { 0.0 } else { v.iter().rev().take(n).sum::<u64>() as f64 / n as f64 }
    };
    // After the run, the rates are the last run's averages, not a frozen last second.
    let title = if r.status.in_flight() {
        format!(
            " Throughput: {} calls/s ({:.0} avg) · {} tokens/s ",
            last(&r.calls_per_s),
            avg(&r.calls_per_s),
            last(&r.tokens_per_s)
        )
    } else if r.calls_per_s.is_empty() {
        " Throughput: no run yet ".to_string()
    } else {
        let mean = |v: &std::collections::VecDeque<u64>| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
        format!(
            " Throughput: idle · the last run: {:.0} calls/s, {:.0} tokens/s ",
            mean(&r.calls_per_s),
            mean(&r.tokens_per_s)
        )
    };
    let inner_w = tput_a.width.saturating_sub(2) as usize;
    let data: Vec<u64> = r.calls_per_s.iter().rev().take(inner_w).rev().copied().collect();
    f.render_widget(
        Sparkline::default().block(block(app, title, false)).data(&data).style(Style::default().fg(t.accent)),
        tput_a,
    );

    let reasons = app.list.failure_reasons();
    let err_h = (6 + r.errors.len() + reasons.len() + r.reasks_by_step.len()).clamp(7, 14) as u16;
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
        Line::from(format!("failed samples {} this run", r.failed)),
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
    // The most frequent first: failed calls of this run by reason, then the workspace's
    // failed samples by stage:reason (j/k choose one, enter lists its samples).
    for (k, v) in by_count(&r.errors) {
        lines.push(Line::from(Span::styled(format!("{v:>5}  call {}", sanitize(k)), Style::default().fg(t.error))));
    }
    let first_reason = lines.len();
    let cursor = app.errors_cursor.min(reasons.len().saturating_sub(1));
    for (i, (k, v)) in reasons.iter().enumerate() {
        let mut style = Style::default().fg(t.warn);
        if i == cursor {
            style = style.bg(t.selected_bg).add_modifier(Modifier::BOLD);
        }
        lines.push(Line::from(Span::styled(format!("{v:>5}  {}", sanitize(k)), style)));
    }
    if r.errors.is_empty() && reasons.is_empty() {
        lines.push(Line::from(Span::styled("no errors", Style::default().fg(t.dim))));
    }
    // Scrolled so the chosen reason is in sight.
    let inner_h = err_a.height.saturating_sub(2) as usize;
    let at = first_reason + cursor;
    let scroll = if reasons.is_empty() { 0 } else { (at + 1).saturating_sub(inner_h) };
    let title = if reasons.is_empty() {
        " Errors by reason ".to_string()
    } else {
        format!(" Errors · {}/{}, {} lists them ", cursor + 1, reasons.len(), app.keymap.label(Action::ErrorsOpen))
    };
    f.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)).block(block(app, title, false)), err_a);
}

/// Reasons and their counts, the most frequent first.
fn by_count(m: &std::collections::BTreeMap<String, u64>) -> Vec<(&String, &u64)> {
    let mut v: Vec<(&String, &u64)> = m.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v
}
