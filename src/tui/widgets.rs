//! Small drawing helpers every view and overlay uses: wrapping, cutting, the bordered block,
//! centring, titled columns, diff lines.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use unicode_width::UnicodeWidthStr;

use super::app::App;
use super::diff::Tag;
use crate::model::Message;
use crate::text::display_lines;

/// Wraps display lines to `width` columns, breaking at spaces where it can. A line's
/// indentation is kept on every line it wraps to (pretty JSON stays readable), up to half
/// the width.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let full = width.max(8);
    let mut out = Vec::new();
    for line in display_lines(text) {
        if line.width() <= full {
            out.push(line);
            continue;
        }
        let body = line.trim_start_matches(' ');
        let indent = " ".repeat((line.len() - body.len()).min(full / 2));
        let width = full - indent.len();
        let first = out.len();
        let mut cur = String::new();
        for word in body.split(' ') {
            let w = word.width();
            if !cur.is_empty() && cur.width() + 1 + w > width {
                out.push(std::mem::take(&mut cur));
            }
            if w > width {
                for ch in word.chars() {
                    if cur.width() + 1 > width {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.push(ch);
                }
                continue;
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(cur);
        for l in &mut out[first..] {
            l.insert_str(0, &indent);
        }
    }
    out
}

pub(crate) fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    for ch in s.chars() {
        if out.width() + 2 > width {
            break;
        }
        out.push(ch);
    }
    out.push('…');
    out
}

pub(crate) fn block<'a>(app: &App, title: impl Into<Line<'a>>, focused: bool) -> Block<'a> {
    let t = &app.theme;
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused { BorderType::Thick } else { BorderType::Rounded })
        .border_style(Style::default().fg(if focused { t.border_focus } else { t.border }))
        .title(title)
        .title_style(Style::default().fg(if focused { t.border_focus } else { t.fg }).add_modifier(Modifier::BOLD))
}

pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

pub(crate) fn role_color(app: &App, m: &Message) -> ratatui::style::Color {
    match m {
        Message::User { .. } => app.theme.user,
        Message::Assistant { .. } => app.theme.assistant,
        Message::Tool { .. } => app.theme.tool,
    }
}

pub(crate) fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A column's `── name ──` line; the area under it.
pub(crate) fn column_title(f: &mut Frame, app: &App, area: Rect, name: &str) -> Rect {
    let [h, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let style = Style::default().fg(app.theme.accent).add_modifier(Modifier::BOLD);
    f.render_widget(Paragraph::new(Span::styled(format!("── {name} ──"), style)), h);
    body
}

/// A titled, wrapped, scrolled column of text.
pub(crate) fn column(f: &mut Frame, app: &App, area: Rect, name: &str, text: &str, scroll: u16) {
    let body = column_title(f, app, area, name);
    let lines: Vec<Line> = wrap(text, body.width as usize).into_iter().map(Line::from).collect();
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), body);
}

pub(crate) fn diff_line<'a>(app: &App, tag: Tag, text: &str) -> Line<'a> {
    let t = &app.theme;
    match tag {
        Tag::Added => Line::from(Span::styled(format!("+ {text}"), Style::default().fg(t.ok))),
        Tag::Removed => Line::from(Span::styled(format!("- {text}"), Style::default().fg(t.error))),
        Tag::Same => Line::from(Span::styled(format!("  {text}"), Style::default().fg(t.dim))),
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapped_lines_keep_their_indentation() {
        let json = "{\n      \"description\": \"Searches flights between two cities on a date and returns them with prices\"\n}";
        let lines = wrap(json, 40);
        assert_eq!(lines[0], "{");
        assert!(lines[1].starts_with("      \"description\":"), "{lines:?}");
        assert!(lines[2..lines.len() - 1].iter().all(|l| l.starts_with("      ") && !l.trim().is_empty()), "{lines:?}");
        assert!(lines.iter().all(|l| unicode_width::UnicodeWidthStr::width(l.as_str()) <= 40), "{lines:?}");
        assert_eq!(wrap("short", 40), ["short"]);
    }
}
