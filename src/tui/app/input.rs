//! Keys and the mouse: what each action does, and what an overlay asked for.

use crate::domain::Stage;
use crate::tui::keymap::Context;
use crate::tui::overlay::{Ask, Choice, Setting};

use super::{
    Action, App, CallView, Cmd, ConfirmQuit, DiffView, Effect, Field, Filters, FiltersPanel, Focus, Help, Key,
    KeyEvent, MouseButton, MouseEvent, MouseEventKind, Overlay, Palette, Part, Purpose, Reason, Rect, Remake, RunFx,
    RunStatus, Scroll, Search, Step, StoreFx, TerminalFx, Verdict, View, sample_diff,
};

impl App {
    pub(super) fn key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let key = Key::from_event(&k);
        if key.is_some_and(|key| self.keymap.keys(Action::ForceQuit).contains(&key)) {
            // Quits from anywhere, overlays included: the run is cancelled, nothing committed
            // is lost.
            self.dispatch(Action::ForceQuit, fx);
            return;
        }
        if self.overlay.is_some() {
            self.overlay_key(k, fx);
            return;
        }
        if let Some(a) = key.and_then(|key| self.keymap.lookup(self.context(), &key)) {
            self.dispatch(a, fx);
        }
    }

    /// Esc: close, leave, or step back one level.
    pub(super) fn back(&mut self, fx: &mut Vec<Effect>) {
        if self.list.queue {
            self.list.queue = false;
            self.toast("left the review queue");
        } else if self.view == View::Trajectory {
            self.view = View::Samples;
        } else if self.focus == Focus::Lineage {
            self.focus = Focus::List;
        } else if self.list.search.is_some() {
            self.list.clear_search();
            self.refilter(fx);
        } else if self.list.only.is_some() {
            self.list.only = None;
            self.refilter(fx);
        }
    }

    pub fn dispatch(&mut self, a: Action, fx: &mut Vec<Effect>) {
        // The pipeline view's run controls and the inspect view: see `controls.rs`.
        if matches!(a.context(), Context::Pipeline | Context::Inspect) {
            return self.control(a, fx);
        }
        match a {
            Action::ForceQuit => {
                self.quit = true;
                fx.push(Effect::Terminal(TerminalFx::Quit));
            }
            Action::Back => self.back(fx),
            Action::Quit => {
                if self.run.status.in_flight() {
                    self.overlay = Some(Overlay::ConfirmQuit(ConfirmQuit));
                } else {
                    self.quit = true;
                    fx.push(Effect::Terminal(TerminalFx::Quit));
                }
            }
            Action::Help => self.overlay = Some(Overlay::Help(Help::default())),
            Action::Palette => self.overlay = Some(Overlay::Palette(Palette::default())),
            Action::FocusNext | Action::FocusPrev => {
                if self.view == View::Samples {
                    self.focus = if self.focus == Focus::List { Focus::Lineage } else { Focus::List };
                } else {
                    let order = [View::Pipeline, View::Samples, View::Trajectory, View::Inspect];
                    let i = order.iter().position(|v| *v == self.view).unwrap_or(0);
                    let j = if a == Action::FocusNext { (i + 1) % 4 } else { (i + 3) % 4 };
                    self.show_view(order[j], fx);
                }
            }
            Action::ViewPipeline => self.view = View::Pipeline,
            Action::Log => fx.push(Effect::Store(StoreFx::LoadLog)),
            Action::ViewInspect => self.show_view(View::Inspect, fx),
            Action::ViewSamples => self.view = View::Samples,
            Action::ViewTrajectory | Action::Open => {
                if self.selected().is_some() {
                    self.view = View::Trajectory;
                } else {
                    self.toast("no sample selected");
                }
            }
            // Looked at first: a change of content on a sample not on screen is not undone
            // blind (see Msg::NextUndo).
            Action::Undo => fx.push(Effect::Store(StoreFx::NextUndo { redo: false })),
            Action::Redo => fx.push(Effect::Store(StoreFx::NextUndo { redo: true })),
            Action::ReviewQueue => self.start_queue(false, fx),
            Action::FlaggedQueue => self.start_queue(true, fx),
            Action::NextTheme => {
                let i = self
                    .themes
                    .iter()
                    .position(|t| t.name == self.theme.name)
                    .map_or(0, |i| (i + 1) % self.themes.len());
                let name = self.themes[i].name.clone();
                self.set_theme_by_name(&name);
            }
            Action::Down => self.move_or_scroll(1, fx),
            Action::Up => self.move_or_scroll(-1, fx),
            Action::PageDown => self.page(1, fx),
            Action::PageUp => self.page(-1, fx),
            Action::Top => self.set_cursor(0, fx),
            Action::Bottom => self.set_cursor(self.list.visible.len().saturating_sub(1), fx),
            Action::Search => {
                let q = self.list.search.as_ref().map(|s| s.0.clone()).unwrap_or_default();
                self.overlay = Some(Overlay::Search(Search::new(&q)));
            }
            Action::Filters => self.overlay = Some(Overlay::Filters(FiltersPanel::default())),
            Action::ClearFilters => {
                self.list.filters = Filters::default();
                self.list.only = None;
                self.list.clear_search();
                self.list.queue = false;
                self.refilter(fx);
            }
            Action::Sort => {
                self.list.sort = self.list.sort.next();
                self.refilter(fx);
            }
            Action::SortReverse => {
                self.list.sort_reverse = !self.list.sort_reverse;
                self.refilter(fx);
            }
            Action::Accept | Action::TrajAccept => self.verdict(Some(Verdict::Accepted), vec![], fx),
            Action::Flag | Action::TrajFlag => self.verdict(Some(Verdict::Flagged), vec![], fx),
            Action::Reject | Action::TrajReject if self.reviewable() => {
                self.overlay = Some(Overlay::Reason(Reason::default()));
            }
            Action::Reject | Action::TrajReject => {}
            Action::AcceptAll => {
                let ids = self.bulk_ids();
                if !ids.is_empty() {
                    self.confirm_verdicts(ids, Verdict::Accepted, Vec::new(), String::new());
                }
            }
            Action::RejectAll => {
                let ids = self.bulk_ids();
                if !ids.is_empty() {
                    self.overlay = Some(Overlay::Reason(Reason { bulk: Some(ids), ..Reason::default() }));
                }
            }
            Action::Skip | Action::TrajSkip => self.advance(fx),
            Action::CallOfPart => {
                let steps: &[Step] = if self.lineage_part == Part::Trajectory {
                    &[Step::AssistantAgent]
                } else {
                    self.lineage_part.steps()
                };
                let found = self
                    .detail
                    .as_ref()
                    .and_then(|d| d.calls.iter().position(|c| steps.iter().any(|s| s.id() == c.step)));
                match found {
                    Some(index) => self.overlay = Some(Overlay::Call(CallView::new(index))),
                    None => self.toast(self.no_call_reason(steps[0].id())),
                }
            }
            Action::NextTurn if self.list.search.is_some() => self.next_match(true, fx),
            Action::TrajPrevMatch => self.next_match(false, fx),
            Action::NextMatch | Action::PrevMatch => {
                if self.list.search.is_none() {
                    self.toast("no search: / searches the text of the samples");
                } else if a == Action::NextMatch && self.list.cursor + 1 < self.list.visible.len() {
                    self.set_cursor(self.list.cursor + 1, fx);
                } else if a == Action::PrevMatch && self.list.cursor > 0 {
                    self.set_cursor(self.list.cursor - 1, fx);
                } else {
                    self.toast(if a == Action::NextMatch { "the last match" } else { "the first match" });
                }
            }
            Action::NextTurn | Action::PrevTurn => {
                let n = self.detail.as_ref().and_then(|d| d.sample.trajectory.as_ref()).map_or(0, |t| t.messages.len());
                if n > 0 {
                    self.turn =
                        if a == Action::NextTurn { (self.turn + 1).min(n - 1) } else { self.turn.saturating_sub(1) };
                    self.traj_scroll = u16::MAX; // the view scrolls the turn into sight
                }
            }
            Action::CallOfTurn => {
                let found = self.detail.as_ref().and_then(|d| d.turn_calls.get(self.turn).copied().flatten());
                match found {
                    Some(index) => self.overlay = Some(Overlay::Call(CallView::new(index))),
                    None => self.toast(self.no_call_reason("this turn")),
                }
            }
            Action::Edit | Action::ExternalEdit => {
                let field = match self.lineage_part {
                    Part::Scenario => Some(Field::Scenario),
                    Part::AtomicTask => Some(Field::AtomicTask),
                    Part::Composition => Some(Field::Composition),
                    Part::Functions => Some(if self.detail.as_ref().is_some_and(|d| d.sample.functions.is_empty()) {
                        Field::Tools
                    } else {
                        Field::Functions
                    }),
                    Part::Filter => {
                        self.toast("the filter's verdict is the model's: edit the composition, then g asks it again");
                        None
                    }
                    Part::Trajectory => {
                        self.toast("open the trajectory (enter), step to a turn with n/p, and press e there");
                        None
                    }
                };
                if let Some(f) = field {
                    self.open_editor(f, Purpose::Save, a == Action::ExternalEdit, fx);
                }
            }
            // A fork left aside waits for its decision: b reopens it.
            Action::Fork if self.shown_detail().is_some_and(|d| d.versions.iter().any(|v| v.1 == "fork")) => {
                self.show_fork_for = self.detail.as_ref().map(|d| d.id.clone());
                self.open_fork_compare();
                self.toast("a fork of this sample waits for your decision: keep one branch, then b forks anew");
            }
            Action::TrajEdit | Action::TrajExternalEdit | Action::Fork => {
                let field = self.turn_field();
                match field {
                    Some(f) => {
                        let purpose = if a == Action::Fork { Purpose::Fork(self.turn) } else { Purpose::Save };
                        self.open_editor(f, purpose, a == Action::TrajExternalEdit, fx);
                    }
                    None => self.toast("no turn to edit here"),
                }
            }
            Action::Regenerate | Action::TrajRegenerate => match self.selected() {
                // Scenarios are made per seed by a run, not per sample by a job.
                Some(r) if r.summary.stage == Stage::Failed(Part::Scenario) => {
                    self.toast(
                        "it failed at its scenario, which a run makes: button run --retry-failed makes it again",
                    );
                }
                Some(r) if r.summary.stage.is_failed() => {
                    let id = r.id.clone();
                    self.start_jobs(Remake { stale: Vec::new(), failed: vec![id] }, fx);
                }
                Some(r) if !r.summary.stale.is_empty() => {
                    let id = r.id.clone();
                    self.regenerate_one(id, fx);
                }
                Some(_) => self.toast("nothing in this sample is stale or failed: edit a part first (e)"),
                None => self.toast("no sample selected"),
            },
            Action::RegenerateAll => {
                let mut remake = Remake::default();
                for r in self.list.visible.iter().map(|i| &self.list.rows[*i]) {
                    match r.summary.stage {
                        // A run makes scenarios (button run --retry-failed), not a job.
                        Stage::Failed(Part::Scenario) => {}
                        Stage::Failed(_) => remake.failed.push(r.id.clone()),
                        _ if !r.summary.stale.is_empty() => remake.stale.push(r.id.clone()),
                        _ => {}
                    }
                }
                if remake.is_empty() {
                    self.toast("no listed sample is stale or failed");
                } else if self.simulated {
                    self.start_jobs(remake, fx);
                } else {
                    // Calls on a real endpoint cost time and money: say how many first.
                    let n = remake.len();
                    let what = remake.describe();
                    self.overlay = Some(Overlay::Ask(Box::new(Ask {
                        title: "Make every listed stale or failed sample again?".into(),
                        text: format!(
                            "{what} would be made again on the configured endpoint: about {} LLM calls (a \
                             sample takes about ten). Hand edits in the parts made again are replaced; each \
                             sample's previous version keeps them, and D shows them. A failed sample starts \
                             again from the part it failed at.",
                            n * 10
                        ),
                        choices: vec![Choice {
                            action: Action::AskYes,
                            label: format!("make {n} sample{} again", if n == 1 { "" } else { "s" }),
                            cmds: vec![Cmd::Remake(remake)],
                        }],
                    })));
                }
            }
            Action::Diff | Action::TrajDiff => match &self.detail {
                Some(d) => {
                    let lines = sample_diff(d);
                    self.overlay = Some(Overlay::Diff(DiffView {
                        title: format!("Changes to {}", d.id),
                        lines,
                        scroll: Scroll::default(),
                    }));
                }
                None => self.toast("no sample loaded"),
            },
            Action::History | Action::TrajHistory => match self.selected() {
                Some(r) => fx.push(Effect::Store(StoreFx::LoadHistory(r.id.clone()))),
                None => self.toast("no sample selected"),
            },
            Action::TrajCompact => {
                self.compact = !self.compact;
                self.expanded.clear();
                self.traj_scroll = u16::MAX;
                self.toast(if self.compact {
                    "compact: one line per turn; enter opens the current one in full, c shows all in full"
                } else {
                    "every turn in full"
                });
            }
            Action::TrajExpand if self.compact => {
                if !self.expanded.remove(&self.turn) {
                    self.expanded.insert(self.turn);
                }
                self.traj_scroll = u16::MAX;
            }
            Action::TrajExpand => self.toast("every turn is in full: c makes it compact, one line per turn"),
            Action::TrajPageDown | Action::TrajPageUp | Action::TrajHalfDown | Action::TrajHalfUp => {
                let page = i32::from(self.areas.trajectory.height.saturating_sub(3).max(1));
                let d = match a {
                    Action::TrajPageDown => page,
                    Action::TrajPageUp => -page,
                    Action::TrajHalfDown => (page / 2).max(1),
                    _ => -(page / 2).max(1),
                };
                self.traj_scroll = (i32::from(self.traj_scroll_now()) + d).clamp(0, i32::from(u16::MAX) - 1) as u16;
            }
            Action::TrajTop | Action::TrajBottom => {
                let n = self.detail.as_ref().and_then(|d| d.sample.trajectory.as_ref()).map_or(0, |t| t.messages.len());
                self.turn = if a == Action::TrajTop { 0 } else { n.saturating_sub(1) };
                self.traj_scroll = if a == Action::TrajTop { 0 } else { u16::MAX }; // the turn in sight
            }
            Action::ScrollDown => self.traj_scroll = self.traj_scroll_now().saturating_add(1),
            Action::ScrollUp => self.traj_scroll = self.traj_scroll_now().saturating_sub(1),
            // The actions of the overlays: each overlay handles its own (`Overlay::key`).
            _ => {}
        }
    }

    /// A key while an overlay is open: the overlay decides, the app carries it out.
    pub(super) fn overlay_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let Some(mut ov) = self.overlay.take() else { return };
        let action = Key::from_event(&k).and_then(|key| self.keymap.lookup_in(ov.contexts(), &key));
        let out = ov.key(k, action, self);
        if let Some(max) = self.areas.reader_max {
            ov.clamp_scroll(max);
        }
        let closed_template = out.close && matches!(&ov, Overlay::Editor(e) if matches!(e.field, Field::Template(_)));
        if !out.close {
            self.overlay = Some(ov);
        }
        for c in out.cmds {
            self.apply(c, fx);
        }
        // The template loop: an edited template goes back to the call it came from.
        if closed_template
            && self.overlay.is_none()
            && let Some(call) = self.template_return.take()
            && let Some(i) = self.detail.as_ref().and_then(|d| d.calls.iter().position(|c| c.id == call))
        {
            self.overlay = Some(Overlay::Call(CallView::new(i)));
        }
    }

    /// Carries out what an overlay asked for.
    pub(super) fn apply(&mut self, c: Cmd, fx: &mut Vec<Effect>) {
        match c {
            Cmd::Effect(e) => fx.push(e),
            Cmd::Toast(t) => self.toast(t),
            Cmd::Dispatch(a) => self.dispatch(a, fx),
            Cmd::Theme(name) => self.set_theme_by_name(&name),
            Cmd::Quit => {
                self.quit = true;
                fx.push(Effect::Terminal(TerminalFx::Quit));
            }
            Cmd::Reject(reasons, note) => self.verdict_with_note(Some(Verdict::Rejected), reasons, note, fx),
            Cmd::Ask(q) => self.overlay = Some(Overlay::Ask(q)),
            Cmd::Template { step, call } => {
                self.template_return = Some(call);
                fx.push(Effect::Store(StoreFx::LoadTemplate(step)));
            }
            Cmd::KeepReply(call) => self.keep_reply(call, fx),
            Cmd::NextSampleCall(step) => {
                if self.list.cursor + 1 < self.list.visible.len() {
                    self.pending_call_step = Some(step);
                    self.set_cursor(self.list.cursor + 1, fx);
                } else {
                    self.toast("the last listed sample: no next one");
                }
            }
            Cmd::Set(Setting::Target, n) => self.set_target(n),
            Cmd::Set(Setting::Concurrency, n) => self.set_concurrency(n, fx),
            Cmd::ConfirmVerdicts { ids, verdict, reasons, note } => self.confirm_verdicts(ids, verdict, reasons, note),
            Cmd::SetFilters(f) => {
                self.list.filters = f;
                self.refilter(fx);
            }
            Cmd::Search(q) if q.is_empty() => {
                self.list.clear_search();
                self.refilter(fx);
            }
            Cmd::Search(q) => {
                self.list.asked.clone_from(&q);
                fx.push(Effect::Store(StoreFx::Search(q)));
            }
            Cmd::Remake(r) => self.start_jobs(r, fx),
            Cmd::RegenerateFrom { id, from } => {
                if self.start_jobs_checked(std::slice::from_ref(&id), fx) {
                    self.toast(format!(
                        "regenerating {id} from the {}: your hand edits before it are kept",
                        from.title().to_lowercase()
                    ));
                    fx.push(Effect::Run(RunFx::RegenerateFrom { id, from }));
                }
            }
            Cmd::Rerun { call, sample } => {
                let step =
                    self.detail.as_ref().and_then(|d| d.calls.iter().find(|c| c.id == call)).map(|c| c.step.clone());
                self.pending_rerun = Some(call);
                self.run.status = RunStatus::Starting;
                self.run.message = format!("asking call #{call} again");
                self.toast(format!(
                    "asking {} again with the templates as they are now…",
                    step.unwrap_or_else(|| "the step".into())
                ));
                fx.push(Effect::Run(RunFx::Rerun { call, sample }));
            }
            Cmd::Fork { id, turn, message } => {
                self.pending_fork = Some(id.clone());
                self.run.status = RunStatus::Starting;
                self.toast("forking: the dialogue goes on from the edited turn…");
                fx.push(Effect::Run(RunFx::Fork { id, turn, message }));
            }
        }
    }

    pub(super) fn mouse(&mut self, m: MouseEvent, fx: &mut Vec<Effect>) {
        if self.overlay.is_some() {
            if let (MouseEventKind::ScrollDown | MouseEventKind::ScrollUp, Some(ov)) = (m.kind, self.overlay.as_mut()) {
                ov.wheel(m.kind == MouseEventKind::ScrollDown);
            }
            return;
        }
        let a = self.areas;
        let inside = |r: Rect| m.column >= r.x && m.column < r.x + r.width && m.row >= r.y && m.row < r.y + r.height;
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                for (i, r) in a.tabs.iter().enumerate() {
                    if inside(*r) {
                        self.show_view([View::Pipeline, View::Samples, View::Trajectory, View::Inspect][i], fx);
                        return;
                    }
                }
                if self.view == View::Samples && inside(a.list) {
                    self.focus = Focus::List;
                    // The list has a border and a header line.
                    if m.row >= a.list.y + 2 {
                        let row = a.list_offset + (m.row - a.list.y - 2) as usize;
                        if row < self.list.visible.len() {
                            self.set_cursor(row, fx);
                        }
                    }
                } else if self.view == View::Samples && inside(a.lineage) {
                    self.focus = Focus::Lineage;
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let d: i64 = if m.kind == MouseEventKind::ScrollDown { 3 } else { -3 };
                if self.view == View::Trajectory {
                    self.traj_scroll = (i64::from(self.traj_scroll_now()) + d).clamp(0, i64::from(u16::MAX) - 1) as u16;
                } else if self.view == View::Samples && inside(a.lineage) {
                    self.lineage_scroll = (i64::from(self.lineage_scroll) + d).clamp(0, i64::from(u16::MAX)) as u16;
                } else if self.view == View::Samples {
                    let c = (self.list.cursor as i64 + d).clamp(0, self.list.visible.len().saturating_sub(1) as i64)
                        as usize;
                    self.set_cursor(c, fx);
                }
            }
            _ => {}
        }
    }
}
