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

pub(crate) fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A column's `── name ──` line; the area under it.
pub(crate) fn column_title(f: &mut Frame, app: &App, area: Rect, name: &str) -> Rect {
    let [h, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let style = Style::default().fg(app.theme.accent).add_modifier(Modifier::BOLD);
    f.render_widget(Paragraph::new(Span::styled(format!("── {name} ──"), style)), h);
    body
}

/// A titled, wrapped, scrolled column of text; returns how far it can scroll.
pub(crate) fn column(f: &mut Frame, app: &App, area: Rect, name: &str, text: &str, scroll: u16) -> u16 {
    let body = column_title(f, app, area, name);
    let lines: Vec<Line> = wrap(text, body.width as usize).into_iter().map(Line::from).collect();
    let max = u16::try_from(lines.len().saturating_sub(usize::from(body.height))).unwrap_or(u16::MAX);
    f.render_widget(Paragraph::new(lines).scroll((scroll.min(max), 0)), body);
    max
}

pub(crate) fn diff_line<'a>(app: &App, tag: Tag, text: &str) -> Line<'a> {
    let t = &app.theme;
    match tag {
        Tag::Added => Line::from(Span::styled(format!("+ {text}"), Style::default().fg(t.ok))),
        Tag::Removed => Line::from(Span::styled(format!("- {text}"), Style::default().fg(t.error))),
        Tag::Same => Line::from(Span::styled(format!("  {text}"), Style::default().fg(t.dim))),
    }
}

/// Marks every occurrence of `terms` (lowercase) in `lines`, case-insensitively, with the
/// style reversed: the matches of a search. A match is found within one span.
pub fn highlight(lines: &mut [Line<'static>], terms: &[String]) {
    if terms.is_empty() {
        return;
    }
    for line in lines.iter_mut() {
        let spans = std::mem::take(&mut line.spans);
        for span in spans {
            let text = span.content.to_string();
            let ranges = match_ranges(&text, terms);
            if ranges.is_empty() {
                line.spans.push(span);
                continue;
            }
            let mut at = 0;
            for (a, b) in ranges {
                if a > at {
                    line.spans.push(Span::styled(text[at..a].to_string(), span.style));
                }
                line.spans.push(Span::styled(text[a..b].to_string(), span.style.add_modifier(Modifier::REVERSED)));
                at = b;
            }
            if at < text.len() {
                line.spans.push(Span::styled(text[at..].to_string(), span.style));
            }
        }
    }
}

/// Byte ranges of `text` where one of `terms` (lowercase) occurs, in order, not
/// overlapping. Letters whose lowercase is longer or shorter than they are are matched
/// as they are.
pub fn match_ranges(text: &str, terms: &[String]) -> Vec<(usize, usize)> {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        // Rare: compare the text as it is.
        return ranges_in(text, text, terms);
    }
    ranges_in(text, &lower, terms)
}

fn ranges_in(text: &str, hay: &str, terms: &[String]) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    for term in terms.iter().filter(|t| !t.is_empty()) {
        for (a, _) in hay.match_indices(term.as_str()) {
            let b = a + term.len();
            if text.is_char_boundary(a) && text.is_char_boundary(b) {
                found.push((a, b));
            }
        }
    }
    found.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (a, b) in found {
        match out.last_mut() {
            Some(last) if a < last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
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

    #[test]
    fn search_matches_ignore_case_merge_overlaps_and_keep_char_boundaries() {
        let terms = vec!["flig".to_string(), "light".to_string()];
        assert_eq!(super::match_ranges("Flight to FLIGHTS", &terms), vec![(0, 6), (10, 16)]);
        assert_eq!(super::match_ranges("Tromsø", &["msø".to_string()]), vec![(3, 7)]);
        assert!(super::match_ranges("nothing here", &terms).is_empty());
    }
}
