//! The trajectory view: the dialogue turn by turn, its lint findings and calls.

use super::{
    Action, App, Areas, Constraint, Detail, Frame, Layout, Line, Message, Modifier, Origin, Paragraph, Rect, Severity,
    Span, Style, UnicodeWidthStr, block, pretty, role_color, sanitize, truncate, wrap,
};

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
        let mut head_line = vec![Span::styled(head, style)];
        if edited_by_hand(d, i) {
            let mark = "edited by hand  ";
            head_line.push(Span::styled(mark, Style::default().fg(t.warn)));
            head_line
                .push(Span::styled(rule.chars().skip(mark.width()).collect::<String>(), Style::default().fg(color)));
        } else {
            head_line.push(Span::styled(rule, Style::default().fg(color)));
        }
        if app.compact && !app.expanded.contains(&i) {
            // One line: the role, then the turn in brief.
            let mut brief = vec![Span::styled(
                format!("{} {} {:<9} ", if current { "▶" } else { " " }, i + 1, m.role().to_uppercase()),
                style,
            )];
            let pad = brief[0].content.width();
            let rest = width.saturating_sub(pad + 1);
            let body = if current { plain.bg(t.selected_bg) } else { plain };
            let mut items = turn_brief(m).into_iter();
            brief.push(Span::styled(truncate(&sanitize(&items.next().unwrap_or_default()), rest), body));
            lines.push(Line::from(brief));
            // Each further call or result on a line of its own.
            for more in items {
                lines.push(Line::from(vec![
                    Span::raw(" ".repeat(pad)),
                    Span::styled(truncate(&sanitize(&more), rest), body),
                ]));
            }
            for f in d.findings.iter().filter(|f| f.message_index == Some(i)) {
                push(&mut lines, &format!("⚠ {} {}", f.code.id(), f.message), finding_style(app, f), 4);
            }
            continue;
        }
        lines.push(Line::from(head_line));
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

/// A turn in brief, a line per item: what the user asked, each call made (name and
/// arguments), each result, or the final answer.
fn turn_brief(m: &Message) -> Vec<String> {
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    match m {
        Message::User { content } => vec![one_line(content)],
        Message::Assistant { calls, final_answer, thought } => {
            if !calls.is_empty() {
                calls.iter().map(|c| format!("{}({})", c.name, c.arguments)).collect()
            } else if let Some(a) = final_answer {
                vec![format!("final: {}", one_line(a))]
            } else {
                vec![one_line(thought)]
            }
        }
        Message::Tool { results } => results.iter().map(|r| format!("{} → {}", r.name, r.results)).collect(),
    }
}

fn finding_style(app: &App, f: &crate::lint::Finding) -> Style {
    match f.code.severity() {
        Severity::Error => Style::default().fg(app.theme.error).add_modifier(Modifier::BOLD),
        Severity::Warning => Style::default().fg(app.theme.warn),
    }
}

pub(super) fn draw_trajectory(f: &mut Frame, app: &App, area: Rect, areas: &mut Areas) {
    let t = &app.theme;
    let [main, side] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(28)]).areas(area);
    let title = match app.selected() {
        Some(r) if !r.summary.stale.is_empty() => {
            format!(" Trajectory of {} · STALE: made from text edited since, g makes it again ", sanitize(&r.id))
        }
        Some(r) => format!(" Trajectory of {} ", sanitize(&r.id)),
        None => " Trajectory ".into(),
    };
    let b = block(app, title, true);
    let inner = b.inner(main);
    f.render_widget(b, main);
    areas.trajectory = main;
    let Some(d) = app.shown_detail() else {
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
        let why = match &d.sample.failure {
            Some(fl) => format!("no trajectory: the sample failed at {} ({}): {}", fl.stage, fl.reason, fl.detail),
            None => "no trajectory yet: the sample is still in the pipeline".into(),
        };
        let lines: Vec<Line> = wrap(&why, inner.width as usize).into_iter().map(Line::from).collect();
        f.render_widget(Paragraph::new(lines).style(Style::default().fg(t.dim)), inner);
        draw_turn_panel(f, app, Some(d), side);
        return;
    }
    let (mut lines, starts) = trajectory_lines(app, d, inner.width as usize);
    crate::tui::widgets::highlight(&mut lines, &app.list.search_terms());
    let max = lines.len().saturating_sub(inner.height as usize / 2);
    let scroll = if app.traj_scroll == u16::MAX {
        starts.get(app.turn).copied().unwrap_or(0).saturating_sub(1)
    } else {
        app.traj_scroll as usize
    };
    // A dialogue that fits is shown from its top.
    let scroll = if lines.len() <= inner.height as usize { 0 } else { scroll.min(max) };
    areas.traj_scroll = scroll as u16;
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
            let edited = edited_by_hand(d, app.turn);
            if edited {
                lines.push(Line::from(Span::styled("edited by hand", Style::default().fg(t.warn))));
            }
            match d.turn_calls.get(app.turn).copied().flatten().and_then(|i| d.calls.get(i)) {
                Some(c) => {
                    lines.push(Line::from(format!("{} {}", if edited { "first made by" } else { "by" }, c.step)));
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

/// Whether message `i` of the sample's trajectory was edited by hand (an edit of it, or of
/// a part of it).
fn edited_by_hand(d: &Detail, i: usize) -> bool {
    let at = format!("/trajectory/messages/{i}");
    d.sample.edits.iter().any(|e| e.path.strip_prefix(&at).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}
