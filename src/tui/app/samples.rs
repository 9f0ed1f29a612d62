//! The loaded sample: editing it, regenerating, forks, its calls and diffs.

use crate::domain::{self, Part};
use crate::tui::keymap::Action;
use crate::tui::overlay::{Ask, Choice, Cmd};

use super::{
    App, Compare, Detail, Editor, Effect, Field, Overlay, Purpose, Remake, RunFx, RunStatus, StoreFx, Tag, TerminalFx,
    TextArea, diff, edit,
};

impl App {
    /// The editable field of the current turn.
    pub(super) fn turn_field(&self) -> Option<Field> {
        let t = self.detail.as_ref()?.sample.trajectory.as_ref()?;
        Some(match t.messages.get(self.turn)? {
            crate::model::Message::User { .. } => Field::UserMessage(self.turn),
            crate::model::Message::Assistant { .. } => Field::AssistantMessage(self.turn),
            crate::model::Message::Tool { .. } => Field::ToolResults(self.turn),
        })
    }

    pub(super) fn open_editor(&mut self, field: Field, purpose: Purpose, external: bool, fx: &mut Vec<Effect>) {
        let Some(d) = self.shown_detail() else {
            self.toast("no sample loaded");
            return;
        };
        let Some(text) = edit::to_text(&d.sample, &field) else {
            self.toast(format!("this sample has no {} to edit", field.title()));
            return;
        };
        let ext = field.extension();
        let st = Editor::new(d.id.clone(), field, purpose, text.clone(), Some(Box::new(d.sample.clone())), &self.theme);
        self.overlay = Some(Overlay::Editor(Box::new(st)));
        if external {
            fx.push(Effect::Terminal(TerminalFx::ExternalEdit { text, extension: ext }));
        }
    }

    /// Makes samples again: the stale parts of some, the failed ones from where they failed.
    pub(super) fn start_jobs(&mut self, remake: Remake, fx: &mut Vec<Effect>) {
        let ids: Vec<String> = remake.ids().cloned().collect();
        if !self.start_jobs_checked(&ids, fx) {
            return;
        }
        let verb = if remake.stale.is_empty() { "retrying" } else { "regenerating" };
        self.toast(format!("{verb} {}: the pipeline view (1) shows it", remake.describe()));
        fx.push(Effect::Run(RunFx::Remake(remake)));
    }

    /// Before samples are made again: refused while a run is in flight; otherwise their
    /// verdicts are cleared (what was reviewed is about to change; undo brings them back).
    pub(super) fn start_jobs_checked(&mut self, ids: &[String], fx: &mut Vec<Effect>) -> bool {
        if self.run.status.in_flight() {
            self.toast("a run is in flight: regenerate when it ends");
            return false;
        }
        self.run.status = RunStatus::Starting;
        self.run.message = format!("regenerating {} samples", ids.len());
        for id in ids {
            if let Some(r) = self.list.row_mut(id) {
                r.verdict = None;
            }
        }
        fx.push(Effect::Store(StoreFx::ClearReviews(ids.to_vec())));
        true
    }

    /// `g` on one sample. When hand edits sit in parts it would make again, it asks:
    /// replace them (the previous version keeps them), or keep them and make only what comes
    /// after the last edited part.
    pub(super) fn regenerate_one(&mut self, id: String, fx: &mut Vec<Effect>) {
        let Some(d) = self.detail.as_ref().filter(|d| d.id == id) else {
            return self.start_jobs(Remake::stale(vec![id]), fx);
        };
        let stale = domain::stale(&d.sample);
        let Some(first) = stale.first() else {
            return self.toast("nothing in this sample is stale: edit a part first (e)");
        };
        let edited = domain::edited(&d.sample);
        let over: Vec<Part> = edited.iter().filter(|p| stale.contains(*p)).collect();
        if over.is_empty() {
            return self.start_jobs(Remake::stale(vec![id]), fx);
        }
        let names =
            |ps: &mut dyn Iterator<Item = Part>| ps.map(|p| p.title().to_lowercase()).collect::<Vec<_>>().join(", ");
        let last_edited = edited.iter().last().expect("not empty");
        let mut choices = vec![Choice {
            action: Action::AskYes,
            label: format!(
                "make {} again: your hand edit of {} is replaced (the previous version keeps it; D shows it)",
                names(&mut stale.iter()),
                names(&mut over.iter().copied())
            ),
            cmds: vec![Cmd::Remake(Remake::stale(vec![id.clone()]))],
        }];
        if let Some(after) = last_edited.next() {
            choices.push(Choice {
                action: Action::AskAlt,
                label: format!(
                    "keep every hand edit and make only {} again (what follows the last edited part)",
                    names(&mut domain::Parts::from(after).iter())
                ),
                cmds: vec![Cmd::RegenerateFrom { id: id.clone(), from: after }],
            });
        }
        self.overlay = Some(Overlay::Ask(Box::new(Ask {
            title: format!("Regenerate {id}?"),
            text: format!(
                "The {} was edited, so the parts from the {} on are stale. You also edited {} by hand, which \
                 regenerating from the {} would replace.",
                names(&mut edited.iter().filter(|p| *p < first)),
                first.title().to_lowercase(),
                names(&mut over.iter().copied()),
                first.title().to_lowercase()
            ),
            choices,
        })));
    }

    /// Keeps a step's reply asked again for its sample: the part it makes is replaced, as a
    /// hand edit (the parts after it go stale, a verdict is cleared, u undoes it).
    pub(super) fn keep_reply(&mut self, call: i64, fx: &mut Vec<Effect>) {
        let Some(d) = &self.detail else { return };
        let Some(c) = d.calls.iter().find(|c| c.id == call) else {
            return self.toast(format!("call #{call} is not a call of {}", d.id));
        };
        let Some(step) = crate::domain::Step::from_id(&c.step) else {
            return self.toast(format!("{} is no step of this version", c.step));
        };
        let parsed: Option<serde_json::Value> = c.parse_result.as_deref().and_then(|p| serde_json::from_str(p).ok());
        let Some(parsed) = parsed else { return self.toast("the new reply has no parsed result to keep") };
        match edit::kept_reply(step, &parsed, &d.sample) {
            Ok((path, value)) => {
                let id = d.id.clone();
                self.toast(format!("kept call #{call}'s reply for {id}: {path} replaced (u undoes it)"));
                fx.push(Effect::Store(StoreFx::Edit { id, path, value }));
            }
            Err(e) => self.toast(e),
        }
    }

    pub(super) fn open_fork_compare(&mut self) {
        let Some(d) = &self.detail else { return };
        if self.show_fork_for.as_deref() != Some(d.id.as_str()) {
            return;
        }
        self.show_fork_for = None;
        let Some((version, _, fork)) = d.versions.iter().find(|v| v.1 == "fork") else {
            self.toast("the fork left no branch to compare");
            return;
        };
        let Some(current) = d.sample.trajectory.clone() else { return };
        self.overlay = Some(Overlay::Compare(Box::new(Compare {
            sample_id: d.id.clone(),
            version: *version,
            current,
            fork: fork.trajectory.clone(),
            fork_failure: fork.failure.as_ref().map(|f| format!("{}: {} ({})", f.stage, f.reason, f.detail)),
            turn: self.turn,
        })));
    }

    pub(super) fn traj_scroll_now(&self) -> u16 {
        if self.traj_scroll == u16::MAX { self.areas.traj_scroll } else { self.traj_scroll }
    }

    pub(super) fn no_call_reason(&self, what: &str) -> String {
        match &self.detail {
            Some(d) if matches!(d.sample.origin, crate::model::Origin::Imported { .. }) => {
                "this sample was imported: no LLM call of this workspace made it".into()
            }
            Some(_) => format!("no LLM call recorded for {what} of this sample"),
            None => "no sample loaded".into(),
        }
    }

    pub fn set_theme_by_name(&mut self, name: &str) {
        match self.themes.iter().find(|t| t.name == name) {
            Some(t) => {
                self.theme = t.clone();
                self.toast(format!("theme: {name}"));
            }
            None => self.toast(format!("no theme named {name}")),
        }
    }
}

/// The text of a JSON value for a line diff: strings as they are, the rest pretty.
fn diff_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// A trajectory as lines of text, for diffs.
pub fn trajectory_text(t: &crate::model::Trajectory) -> String {
    t.messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("[{} {}]\n{}", i + 1, m.role(), crate::formats::button::message_text(m)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every edit of a sample (original -> now; schemas semantically) and, when it was made
/// again, the previous trajectory -> the current one.
pub fn sample_diff(d: &Detail) -> Vec<(Tag, String)> {
    let mut out = Vec::new();
    if d.sample.edits.is_empty() && d.versions.is_empty() {
        out.push((Tag::Same, "no edits and no earlier versions".to_string()));
    }
    let mut edit = |e: &crate::model::FieldEdit, note: String| {
        out.push((Tag::Same, format!("── edit of {}{note} ──", e.path)));
        if e.path.starts_with("/functions") || e.path.starts_with("/trajectory/tools") {
            out.extend(diff::schema_diff(&e.original, &e.edited));
        } else {
            out.extend(diff::hunks(diff::line_diff(&diff_text(&e.original), &diff_text(&e.edited)), 3));
        }
    };
    for e in &d.sample.edits {
        edit(e, if e.regenerated { " (regenerated since)".into() } else { String::new() });
    }
    // Hand edits a regeneration made again over: gone from the sample, kept in the version
    // it replaced; every edit stays visible here.
    for (id, kind, v) in &d.versions {
        for e in v.edits.iter().filter(|e| !d.sample.edits.iter().any(|x| x.path == e.path && x.edited == e.edited)) {
            edit(e, format!(" (replaced by a regeneration; {kind} version #{id} keeps it)"));
        }
    }
    for (id, kind, v) in &d.versions {
        out.push((Tag::Same, format!("── {kind} version #{id} -> the sample now ──")));
        match (&v.trajectory, &d.sample.trajectory) {
            (Some(a), Some(b)) => out.extend(diff::hunks(diff::line_diff(&trajectory_text(a), &trajectory_text(b)), 3)),
            (None, Some(_)) => out.push((Tag::Added, "a trajectory now (none before)".into())),
            (Some(_), None) => out.push((Tag::Removed, "no trajectory now".into())),
            (None, None) => out.push((Tag::Same, "no trajectory in either".into())),
        }
    }
    out
}

pub fn line_input(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![text.to_string()]);
    t.move_cursor(ratatui_textarea::CursorMove::End);
    t
}
