//! Every key of the TUI, as data: the dispatcher, the help overlay, the hint bar and the
//! command palette all read this one table, so none of them can drift from the real keys.
//! `[keys]` in button.toml replaces the keys of an action, e.g. `accept = ["a", "enter"]`.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies. Global keys work in every view while no overlay is open; an
/// overlay's keys are looked up in its own contexts only (`Overlay::contexts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Context {
    Global,
    Pipeline,
    Samples,
    Trajectory,
    Inspect,
    /// Every overlay that shows text to read: the keys, a diff, an LLM call.
    Reader,
    Help,
    Palette,
    Search,
    Filters,
    Reason,
    Note,
    Call,
    Diff,
    Editor,
    Compare,
    Confirm,
    Ask,
    History,
    Number,
    Rerun,
}

impl Context {
    pub const ALL: [Context; 21] = [
        Context::Global,
        Context::Pipeline,
        Context::Samples,
        Context::Trajectory,
        Context::Inspect,
        Context::Reader,
        Context::Help,
        Context::Palette,
        Context::Search,
        Context::Filters,
        Context::Reason,
        Context::Note,
        Context::Call,
        Context::Diff,
        Context::Editor,
        Context::Compare,
        Context::Confirm,
        Context::Ask,
        Context::History,
        Context::Number,
        Context::Rerun,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Pipeline => "Pipeline view",
            Context::Samples => "Samples view (list and lineage)",
            Context::Trajectory => "Trajectory view",
            Context::Inspect => "Inspect view (every scenario, atomic task, composition, function, failure)",
            Context::Reader => "Reading (keys, diffs, LLM calls)",
            Context::Help => "The keys",
            Context::Palette => "Command palette (typing filters it)",
            Context::Search => "Search (typing searches)",
            Context::Filters => "Filters",
            Context::Reason => "Reject: why?",
            Context::Note => "Reject: the note (typing writes it)",
            Context::Call => "An LLM call",
            Context::Diff => "Diffs",
            Context::Editor => "Editor (typing edits)",
            Context::Compare => "Comparing a fork",
            Context::Confirm => "Quit while a run is in flight",
            Context::Ask => "A question before a regeneration",
            Context::History => "A sample's history",
            Context::Number => "Typing a number (target, concurrency)",
            Context::Rerun => "A step asked again, beside the call before (the template loop)",
        }
    }

    /// A view's context (the ones the palette offers actions of).
    pub fn is_view(self) -> bool {
        matches!(self, Context::Global | Context::Pipeline | Context::Samples | Context::Trajectory | Context::Inspect)
    }
}

macro_rules! actions {
    ($($variant:ident $id:literal $ctx:ident [$($key:literal),*] $desc:literal;)*) => {
        /// Everything a key (or the palette) can do.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Action { $($variant),* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];
            /// The name used in button.toml's `[keys]` and shown by the palette.
            pub fn id(self) -> &'static str {
                match self { $(Action::$variant => $id),* }
            }
            pub fn context(self) -> Context {
                match self { $(Action::$variant => Context::$ctx),* }
            }
            pub fn describe(self) -> &'static str {
                match self { $(Action::$variant => $desc),* }
            }
            pub(super) fn default_keys(self) -> &'static [&'static str] {
                match self { $(Action::$variant => &[$($key),*]),* }
            }
        }
    };
}

mod actions;
pub use actions::Action;

/// A key with its modifiers, written like `a`, `G`, `ctrl-d`, `enter`, `pagedown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// `KeyCode` restricted to what bindings use, ordered for stable tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Backspace,
    F(u8),
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Option<Key> {
        let code = match e.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::F(n) => KeyCodeOrd::F(n),
            _ => return None,
        };
        Some(Key {
            code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
            alt: e.modifiers.contains(KeyModifiers::ALT),
        })
    }

    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCodeOrd::Enter,
            "esc" => KeyCodeOrd::Esc,
            "tab" => KeyCodeOrd::Tab,
            "backtab" => KeyCodeOrd::BackTab,
            "up" => KeyCodeOrd::Up,
            "down" => KeyCodeOrd::Down,
            "left" => KeyCodeOrd::Left,
            "right" => KeyCodeOrd::Right,
            "pageup" => KeyCodeOrd::PageUp,
            "pagedown" => KeyCodeOrd::PageDown,
            "home" => KeyCodeOrd::Home,
            "end" => KeyCodeOrd::End,
            "backspace" => KeyCodeOrd::Backspace,
            "space" => KeyCodeOrd::Char(' '),
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCodeOrd::F(f[1..].parse().expect("checked"))
            }
            c if c.chars().count() == 1 => KeyCodeOrd::Char(c.chars().next().expect("one char")),
            _ => return Err(format!("unknown key {s:?}: use a character, or e.g. ctrl-d, enter, space, pagedown, f5")),
        };
        Ok(Key { code, ctrl, alt })
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCodeOrd::Char(' ') => "space".to_string(),
            KeyCodeOrd::Char(c) => c.to_string(),
            KeyCodeOrd::Enter => "enter".into(),
            KeyCodeOrd::Esc => "esc".into(),
            KeyCodeOrd::Tab => "tab".into(),
            KeyCodeOrd::BackTab => "shift-tab".into(),
            KeyCodeOrd::Up => "↑".into(),
            KeyCodeOrd::Down => "↓".into(),
            KeyCodeOrd::Left => "←".into(),
            KeyCodeOrd::Right => "→".into(),
            KeyCodeOrd::PageUp => "pgup".into(),
            KeyCodeOrd::PageDown => "pgdn".into(),
            KeyCodeOrd::Home => "home".into(),
            KeyCodeOrd::End => "end".into(),
            KeyCodeOrd::Backspace => "backspace".into(),
            KeyCodeOrd::F(n) => format!("f{n}"),
        };
        format!("{}{}{base}", if self.ctrl { "ctrl-" } else { "" }, if self.alt { "alt-" } else { "" })
    }
}

/// The keys of every action, defaults with the user's overrides merged over them.
#[derive(Clone, Debug)]
pub struct Keymap {
    keys: BTreeMap<&'static str, Vec<Key>>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::with_overrides(&BTreeMap::new()).expect("the default keys parse")
    }
}

impl Keymap {
    /// `overrides` maps an action id to its keys; an unknown action or key is an error that
    /// names it.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Keymap, String> {
        let mut keys = BTreeMap::new();
        for a in Action::ALL {
            let parsed = a.default_keys().iter().map(|k| Key::parse(k)).collect::<Result<Vec<_>, _>>()?;
            keys.insert(a.id(), parsed);
        }
        for (id, list) in overrides {
            let Some(a) = Action::ALL.iter().find(|a| a.id() == id) else {
                return Err(format!("[keys] names an unknown action {id:?}; the actions are listed by ? in the TUI"));
            };
            let parsed = list.iter().map(|k| Key::parse(k)).collect::<Result<Vec<_>, _>>()?;
            keys.insert(a.id(), parsed);
        }
        Ok(Keymap { keys })
    }

    pub fn keys(&self, a: Action) -> &[Key] {
        self.keys.get(a.id()).map_or(&[], Vec::as_slice)
    }

    /// The first key of an action, as shown in hints ("" when it has none).
    pub fn label(&self, a: Action) -> String {
        self.keys(a).first().map(Key::label).unwrap_or_default()
    }

    pub fn labels(&self, a: Action) -> String {
        self.keys(a).iter().map(Key::label).collect::<Vec<_>>().join(" ")
    }

    /// The action a key does in a view: the view's own bindings first, then the global ones.
    pub fn lookup(&self, ctx: Context, key: &Key) -> Option<Action> {
        self.lookup_in(&[ctx, Context::Global], key)
    }

    /// The action a key does in the first of `contexts` that binds it.
    pub fn lookup_in(&self, contexts: &[Context], key: &Key) -> Option<Action> {
        contexts
            .iter()
            .find_map(|c| Action::ALL.iter().copied().find(|a| a.context() == *c && self.keys(*a).contains(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_does_two_things_in_one_context() {
        let km = Keymap::default();
        for ctx in Context::ALL {
            let mut seen: BTreeMap<Key, Action> = BTreeMap::new();
            for a in Action::ALL.iter().filter(|a| a.context() == ctx) {
                for k in km.keys(*a) {
                    if let Some(other) = seen.insert(*k, *a) {
                        panic!("{} is bound to both {} and {}", k.label(), other.id(), a.id());
                    }
                }
            }
        }
    }

    #[test]
    fn overrides_replace_keys_and_bad_names_are_refused() {
        let mut o = BTreeMap::new();
        o.insert("accept".to_string(), vec!["y".to_string()]);
        let km = Keymap::with_overrides(&o).unwrap();
        let y = Key::parse("y").unwrap();
        assert_eq!(km.lookup(Context::Samples, &y), Some(Action::Accept));
        assert_eq!(km.lookup(Context::Samples, &Key::parse("a").unwrap()), None);
        o.insert("acept".to_string(), vec!["z".to_string()]);
        assert!(Keymap::with_overrides(&o).unwrap_err().contains("acept"));
        assert!(Key::parse("ctrl-").is_err());
        assert_eq!(Key::parse("ctrl-d").unwrap().label(), "ctrl-d");
    }
}
