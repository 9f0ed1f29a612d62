//! Text that came from a model or a file never reaches the terminal raw: control and escape
//! characters are shown as escapes instead of being sent.

use std::borrow::Cow;
use std::fmt::Write as _;

pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{1b}' => out.push_str("\\e"),
                c => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The lines of a text as the terminal shows them: split at newlines, tabs as four spaces,
/// every other control or escape character shown escaped.
pub fn display_lines(s: &str) -> Vec<String> {
    s.split('\n').map(|l| sanitize(&l.trim_end_matches('\r').replace('\t', "    ")).into_owned()).collect()
}

fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_never_pass_through() {
        assert_eq!(sanitize("plain text"), "plain text");
        assert_eq!(sanitize("a\u{1b}[31mred\u{7}\nb"), "a\\e[31mred\\u{7}\\nb");
        assert_eq!(sanitize("rtl\u{202e}x"), "rtl\\u{202e}x");
        assert!(!sanitize("\u{9b}31m").contains('\u{9b}'));
    }
}
