//! The inspect view: every scenario, atomic task, composition, function or failure of the
//! workspace, with how many samples hold it and the failures they met.

use super::{
    Action, App, Areas, Cell, Constraint, Frame, Layout, Line, Modifier, Paragraph, Rect, Row, Span, Style, Table,
    block, sanitize, wrap,
};
use crate::inspect::Browse;

pub(super) fn draw_inspect(f: &mut Frame, app: &App, area: Rect, areas: &mut Areas) {
    let t = &app.theme;
    let ins = &app.inspect;
    let [tabs_a, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let mut spans = vec![Span::styled(" ", Style::default())];
    for b in Browse::ALL {
        let style = if b == ins.browse {
            Style::default().fg(t.bg).bg(t.accent).add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(t.dim)
        };
        spans.push(Span::styled(format!(" {} ", b.title()), style));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(
        format!("{}/{} switch", app.keymap.label(Action::InspectPrevPart), app.keymap.label(Action::InspectNextPart)),
        Style::default().fg(t.dim),
    ));
    f.render_widget(Paragraph::new(Line::from(spans)), tabs_a);

    let [list_a, detail_a] = if body.width < 100 {
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(34)]).areas(body)
    } else {
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(body)
    };
    areas.inspect = list_a;
    let Some(groups) = &ins.groups else {
        let b = block(app, format!(" {} ", ins.browse.title()), true);
        f.render_widget(
            Paragraph::new(Span::styled("reading the workspace…", Style::default().fg(t.dim))).block(b),
            list_a,
        );
        f.render_widget(block(app, " ", false), detail_a);
        return;
    };
    let total: usize = groups.iter().map(|g| g.samples.len()).sum();
    let title = format!(" {} {} · {} samples ", groups.len(), ins.browse.title().to_lowercase(), total);
    let b = block(app, title, true);
    let inner_h = b.inner(list_a).height.saturating_sub(1) as usize;
    let top = ins.cursor.saturating_sub(inner_h.saturating_sub(1));
    let text_w = list_a.width.saturating_sub(2 + 7 + 6 + 2) as usize;
    let rows = groups.iter().enumerate().skip(top).take(inner_h).map(|(i, g)| {
        let mut style = Style::default().fg(t.fg);
        if i == ins.cursor {
            style = style.bg(t.selected_bg).add_modifier(Modifier::BOLD);
        }
        let first = g.key.lines().next().unwrap_or("");
        let text: String = sanitize(first).chars().take(text_w).collect();
        Row::new(vec![
            Cell::from(format!("{:>6}", g.samples.len())),
            Cell::from(format!("{:>5}", g.failed)).style(if g.failed > 0 {
                Style::default().fg(t.error)
            } else {
                Style::default().fg(t.dim)
            }),
            Cell::from(text),
        ])
        .style(style)
    });
    let header = Row::new(["samples", "failed", ins.browse.one()]).style(Style::default().fg(t.dim));
    let widths = [Constraint::Length(7), Constraint::Length(6), Constraint::Fill(1)];
    if groups.is_empty() {
        let msg = match ins.browse {
            Browse::Failures => "no sample has failed".to_string(),
            b => format!("no sample has a {} yet", b.one()),
        };
        f.render_widget(Paragraph::new(Span::styled(msg, Style::default().fg(t.dim))).block(b), list_a);
    } else {
        f.render_widget(Table::new(rows, widths).header(header).block(b), list_a);
    }

    // The chosen one in full.
    let Some(g) = groups.get(ins.cursor) else {
        f.render_widget(block(app, " ", false), detail_a);
        return;
    };
    let w = detail_a.width.saturating_sub(2) as usize;
    let dim = Style::default().fg(t.dim);
    let mut lines: Vec<Line> = Vec::new();
    for l in g.key.lines().flat_map(|l| wrap(&sanitize(l), w)) {
        lines.push(Line::from(Span::styled(l, Style::default().fg(t.fg).add_modifier(Modifier::BOLD))));
    }
    for l in g.detail.lines().flat_map(|l| wrap(&sanitize(l), w)) {
        lines.push(Line::from(Span::styled(l, dim)));
    }
    lines.push(Line::from(""));
    let others = g.samples.len() - g.complete - g.failed;
    lines.push(Line::from(format!(
        "{} sample{}: {} complete, {} failed{}",
        g.samples.len(),
        if g.samples.len() == 1 { "" } else { "s" },
        g.complete,
        g.failed,
        if others > 0 { format!(", {others} in progress") } else { String::new() }
    )));
    if !g.failures.is_empty() && ins.browse != Browse::Failures {
        lines.push(Line::from(Span::styled("the failures they met:", dim)));
        for (reason, n) in &g.failures {
            let line = format!("{n:>5}  {}", sanitize(reason));
            lines.push(Line::from(Span::styled(super::truncate(&line, w), Style::default().fg(t.warn))));
        }
    }
    let shown: Vec<&str> = g.samples.iter().take(6).map(String::as_str).collect();
    lines.push(Line::from(Span::styled(
        format!("{}{}", shown.join(" "), if g.samples.len() > shown.len() { " …" } else { "" }),
        dim,
    )));
    lines.push(Line::from(Span::styled(format!("{} lists them", app.keymap.label(Action::InspectOpen)), dim)));
    let title = format!(" {} {}/{} ", ins.browse.one(), ins.cursor + 1, groups.len());
    f.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }).block(block(app, title, false)),
        detail_a,
    );
}
