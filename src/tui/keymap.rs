//! Every key of the TUI, as data: the dispatcher, the help overlay, the hint bar and the
//! command palette all read this one table, so none of them can drift from the real keys.
//! `[keys]` in button.toml replaces the keys of an action, e.g. `accept = ["a", "enter"]`.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies. Global keys work everywhere no overlay is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Context {
    Global,
    Pipeline,
    Samples,
    Trajectory,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Pipeline => "Pipeline view",
            Context::Samples => "Samples view (list and lineage)",
            Context::Trajectory => "Trajectory view",
        }
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
            fn default_keys(self) -> &'static [&'static str] {
                match self { $(Action::$variant => &[$($key),*]),* }
            }
        }
    };
}

actions! {
    Quit "quit" Global ["q", "ctrl-c"] "quit (asks first only while a run is in flight)";
    Help "help" Global ["?"] "show every key";
    Palette "palette" Global [":"] "command palette: every action by name";
    FocusNext "focus_next" Global ["tab"] "move focus to the next pane";
    FocusPrev "focus_prev" Global ["backtab"] "move focus to the previous pane";
    ViewPipeline "view_pipeline" Global ["1"] "the pipeline view";
    ViewSamples "view_samples" Global ["2"] "the samples view: list and lineage";
    ViewTrajectory "view_trajectory" Global ["3"] "the trajectory view of the selected sample";
    Undo "undo" Global ["u"] "undo the last verdict or edit (without limit, also after a restart)";
    ReviewQueue "review_queue" Global ["R"] "review queue: walk the complete samples awaiting a verdict";
    NextTheme "next_theme" Global ["T"] "switch to the next theme";
    StartRun "start_run" Pipeline ["s"] "start (or resume) the run toward the target";
    PauseResume "pause_resume" Pipeline ["p"] "pause or resume the run";
    CancelRun "cancel_run" Pipeline ["c"] "cancel the run (finished calls are kept)";
    ConcurrencyUp "concurrency_up" Pipeline ["+", "="] "more LLM calls in flight";
    ConcurrencyDown "concurrency_down" Pipeline ["-"] "fewer LLM calls in flight";
    TargetUp "target_up" Pipeline ["]"] "raise the target number of samples";
    TargetDown "target_down" Pipeline ["["] "lower the target number of samples";
    Down "down" Samples ["j", "down"] "next sample (or lineage part)";
    Up "up" Samples ["k", "up"] "previous sample (or lineage part)";
    PageDown "page_down" Samples ["pagedown", "ctrl-d"] "a page down (scrolls the lineage part when it has focus)";
    PageUp "page_up" Samples ["pageup", "ctrl-u"] "a page up";
    Top "top" Samples ["home"] "first sample";
    Bottom "bottom" Samples ["G", "end"] "last sample";
    Search "search" Samples ["/"] "search all the text of the samples";
    Filters "filters" Samples ["F"] "filters: status, strategy, stage, lint code, verdict, stale";
    ClearFilters "clear_filters" Samples ["0"] "clear every filter and the search";
    Sort "sort" Samples ["o"] "sort by the next key (order, turns, calls, lint findings, verdict)";
    SortReverse "sort_reverse" Samples ["O"] "reverse the sort";
    Open "open" Samples ["enter"] "open the selected sample's trajectory";
    Accept "accept" Samples ["a"] "accept, save, and go to the next sample";
    Reject "reject" Samples ["x"] "reject with a reason, save, and go to the next sample";
    Skip "skip" Samples ["space"] "skip to the next sample without a verdict";
    Flag "flag" Samples ["f"] "flag for a second look, save, and go on";
    CallOfPart "call_of_part" Samples ["l"] "the LLM call that made the selected lineage part";
    Edit "edit" Samples ["e"] "edit the selected lineage part (scenario, atomic task, composition, functions)";
    ExternalEdit "external_edit" Samples ["E"] "edit the selected lineage part in $EDITOR";
    Regenerate "regenerate" Samples ["g"] "make the stale parts of the selected sample again";
    RegenerateAll "regenerate_all" Samples ["ctrl-g"] "make the stale parts of every listed sample again";
    Diff "diff" Samples ["D"] "the sample's edits and regenerations as diffs";
    NextTurn "next_turn" Trajectory ["n"] "next turn";
    PrevTurn "prev_turn" Trajectory ["p"] "previous turn";
    CallOfTurn "call_of_turn" Trajectory ["l"] "the LLM call that made this turn: prompt, raw reply, latency, tokens";
    ScrollDown "scroll_down" Trajectory ["j", "down"] "scroll down";
    ScrollUp "scroll_up" Trajectory ["k", "up"] "scroll up";
    TrajAccept "traj_accept" Trajectory ["a"] "accept and open the next sample";
    TrajReject "traj_reject" Trajectory ["x"] "reject with a reason and open the next sample";
    TrajSkip "traj_skip" Trajectory ["space"] "skip to the next sample";
    TrajFlag "traj_flag" Trajectory ["f"] "flag and open the next sample";
    TrajEdit "traj_edit" Trajectory ["e"] "edit this turn (a user message, an assistant turn, tool results)";
    TrajExternalEdit "traj_external_edit" Trajectory ["E"] "edit this turn in $EDITOR";
    Fork "fork" Trajectory ["b"] "fork: edit this turn, let the dialogue go on from it, compare the branches";
    TrajDiff "traj_diff" Trajectory ["D"] "the sample's edits and regenerations as diffs";
    TrajRegenerate "traj_regenerate" Trajectory ["g"] "make the stale parts of this sample again";
}

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
        self.keys.get(a.id()).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first key of an action, as shown in hints ("" when it has none).
    pub fn label(&self, a: Action) -> String {
        self.keys(a).first().map(Key::label).unwrap_or_default()
    }

    pub fn labels(&self, a: Action) -> String {
        self.keys(a).iter().map(Key::label).collect::<Vec<_>>().join(" ")
    }

    /// The action a key does in `ctx`: the context's own bindings first, then the global ones.
    pub fn lookup(&self, ctx: Context, key: &Key) -> Option<Action> {
        let find = |c: Context| Action::ALL.iter().copied().find(|a| a.context() == c && self.keys(*a).contains(key));
        find(ctx).or_else(|| find(Context::Global))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_does_two_things_in_one_context() {
        let km = Keymap::default();
        for ctx in [Context::Global, Context::Pipeline, Context::Samples, Context::Trajectory] {
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
