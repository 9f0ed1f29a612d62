//! The TUI's model: all its state, and `update(msg) -> effects`. It knows nothing of the
//! terminal, the store or the pipeline; it asks for those through effects, and their
//! answers come back as messages. Tests script keys against it.

use std::time::Duration;

use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui_textarea::TextArea;

use super::diff::{self, Tag};
use super::edit::{self, Field};
use super::keymap::{Action, Context, Key, Keymap};
pub use super::list::{Filter, Filters, SampleList, SortKey, Status};
pub use super::overlay::Overlay;
use super::overlay::{
    CallCompare, CallView, Cmd, Compare, ConfirmQuit, DiffView, Editor, FiltersPanel, Help, Palette, Purpose, Reason,
    Scroll, Search,
};
use super::theme::Theme;
use crate::domain::{Part, Step};
use crate::lint::Finding;
use crate::model::{RejectReason, Review, Sample, Verdict};
use crate::pipeline::{Event, RunSummary};
pub use crate::progress::{RunState, RunStatus};
use crate::store::{CallRow, JournalEntry, ListRow};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Pipeline,
    Samples,
    Trajectory,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    List,
    Lineage,
}

/// A loaded sample with what the views need of it.
#[derive(Clone, Debug)]
pub struct Detail {
    pub id: String,
    pub sample: Sample,
    pub review: Option<Review>,
    pub calls: Vec<CallRow>,
    /// Lint findings, `message_index` pointing into the trajectory's messages.
    pub findings: Vec<Finding>,
    /// For each trajectory message, the call (index into `calls`) that produced it.
    pub turn_calls: Vec<Option<usize>>,
    /// Versions kept beside it, newest first: (id, kind, sample).
    pub versions: Vec<(i64, String, Sample)>,
}

pub enum Msg {
    Key(KeyEvent),
    /// Nothing changed but the frame is needed again (the terminal was resized).
    Redraw,
    Mouse(MouseEvent),
    /// The clock advanced (time since the TUI started).
    Tick(Duration),
    Pipeline(Event),
    RunStarted {
        target: usize,
        already_done: usize,
        concurrency: Option<usize>,
        simulated: bool,
    },
    RunNotStarted(String),
    RunFinished(Result<RunSummary, String>),
    Rows(Vec<ListRow>),
    Row(ListRow),
    Sample(Box<Detail>),
    SampleMissing(String),
    SearchResult {
        query: String,
        rowids: Result<Vec<i64>, String>,
        unindexed: u64,
    },
    Undone(Option<JournalEntry>),
    Indexed {
        remaining: u64,
    },
    /// Another process (or this one's run) committed to the workspace.
    StoreChanged,
    Error(String),
    Toast(String),
    /// A step asked again with the templates as they are now.
    Rerun {
        old: i64,
        new: Result<Box<CallRow>, String>,
    },
    /// The text back from $EDITOR (or why it could not be run).
    ExternalEdited(Result<String, String>),
    /// A template's text, to edit: the workspace override, or the built-in one.
    Template {
        step: Step,
        text: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    LoadRows,
    LoadSample(String),
    Search(String),
    SetReview { id: String, review: Option<Review> },
    Undo,
    StartRun { target: usize, concurrency: Option<usize> },
    Pause,
    Resume,
    CancelRun,
    SetConcurrency(usize),
    Quit,
    Edit { id: String, path: String, value: serde_json::Value },
    Regenerate(Vec<String>),
    Fork { id: String, turn: usize, message: crate::model::Message },
    DropVersion { id: String, version: i64 },
    LoadTemplate(Step),
    SaveTemplate { step: Step, text: String },
    Rerun(i64),
    ExternalEdit { text: String, extension: &'static str },
}

/// Screen areas of the last frame, for the mouse.
#[derive(Clone, Copy, Debug, Default)]
pub struct Areas {
    pub tabs: [Rect; 3],
    pub list: Rect,
    pub list_offset: usize,
    pub lineage: Rect,
    pub trajectory: Rect,
    /// The trajectory's scroll as last drawn (after n/p scrolled the turn into sight).
    pub traj_scroll: u16,
}

pub struct Init {
    pub workspace_label: String,
    pub keymap: Keymap,
    pub theme: Theme,
    /// Every theme, loaded and checked at start, to switch between at run time.
    pub themes: Vec<Theme>,
    pub simulated: bool,
    pub target: usize,
    pub concurrency: Option<usize>,
    /// Open on the review queue (button review FILE).
    pub review_queue: bool,
    pub notice: Option<String>,
}

pub struct App {
    pub view: View,
    pub focus: Focus,
    pub overlay: Option<Overlay>,
    pub keymap: Keymap,
    pub theme: Theme,
    pub themes: Vec<Theme>,
    pub workspace_label: String,
    pub simulated: bool,
    pub clock: Duration,
    pub quit: bool,

    pub list: SampleList,

    pub detail: Option<Detail>,
    pub lineage_part: Part,
    pub lineage_scroll: u16,
    pub turn: usize,
    pub traj_scroll: u16,

    pub run: RunState,
    /// The target of the next run (`]` and `[` move it).
    pub target: usize,
    rows_dirty: bool,
    rows_requested_at: Duration,
    open_queue_when_loaded: bool,
    /// A fork in flight for this sample: its branches are compared when it ends.
    pending_fork: Option<String>,
    show_fork_for: Option<String>,

    pub toast: Option<(String, Duration)>,
    pub areas: std::cell::Cell<Areas>,
}

pub const TOAST_FOR: Duration = Duration::from_secs(4);

impl App {
    pub fn new(init: Init) -> (App, Vec<Effect>) {
        let mut app = App {
            view: View::Samples,
            focus: Focus::List,
            overlay: None,
            keymap: init.keymap,
            theme: init.theme,
            themes: init.themes,
            workspace_label: init.workspace_label,
            simulated: init.simulated,
            clock: Duration::ZERO,
            quit: false,
            list: SampleList::default(),
            detail: None,
            lineage_part: Part::Scenario,
            lineage_scroll: 0,
            turn: 0,
            traj_scroll: 0,
            run: RunState::new(init.target),
            target: init.target,
            rows_dirty: false,
            rows_requested_at: Duration::ZERO,
            open_queue_when_loaded: init.review_queue,
            pending_fork: None,
            show_fork_for: None,
            toast: None,
            areas: Default::default(),
        };
        app.run.concurrency = init.concurrency;
        if let Some(n) = init.notice {
            app.toast(n);
        }
        (app, vec![Effect::LoadRows])
    }

    pub fn toast(&mut self, text: impl Into<String>) {
        let text = text.into();
        // A toast is cut to the screen and goes in seconds: the log keeps it whole.
        tracing::info!("toast: {text}");
        self.toast = Some((text, self.clock));
    }

    pub fn selected(&self) -> Option<&ListRow> {
        self.list.selected()
    }

    /// The loaded sample, when it is the selected one (the worker may still be reading it).
    pub fn shown_detail(&self) -> Option<&Detail> {
        self.detail.as_ref().filter(|d| self.selected().is_some_and(|r| r.id == d.id))
    }

    /// The key context of what has focus.
    pub fn context(&self) -> Context {
        match self.view {
            View::Pipeline => Context::Pipeline,
            View::Samples => Context::Samples,
            View::Trajectory => Context::Trajectory,
        }
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        match msg {
            Msg::Key(k) => {
                if k.kind == crossterm::event::KeyEventKind::Press {
                    self.key(k, &mut fx);
                }
            }
            Msg::Mouse(m) => self.mouse(m, &mut fx),
            Msg::Redraw => {}
            Msg::Tick(now) => {
                self.clock = now;
                self.run.tick(now);
                if self.toast.as_ref().is_some_and(|(_, at)| now.saturating_sub(*at) > TOAST_FOR) {
                    self.toast = None;
                }
                if self.rows_dirty && now.saturating_sub(self.rows_requested_at) >= Duration::from_secs(1) {
                    self.rows_dirty = false;
                    self.rows_requested_at = now;
                    fx.push(Effect::LoadRows);
                }
            }
            Msg::Pipeline(e) => {
                if matches!(e, Event::SampleEnded { .. }) {
                    self.rows_dirty = true;
                }
                self.run.apply(&e, self.clock);
                if matches!(e, Event::EndpointDown { .. } | Event::RunStopped { .. } | Event::Notice { .. }) {
                    // Said where it is seen from any view, not only in the pipeline view.
                    self.toast(self.run.message.clone());
                }
            }
            Msg::RunStarted { target, already_done, concurrency, simulated } => {
                self.run = RunState::new(target);
                self.run.status = RunStatus::Running;
                self.run.already_done = already_done;
                self.run.concurrency = concurrency;
                self.run.started_at = Some(self.clock);
                self.run.bucket_start = self.clock;
                self.simulated = simulated;
                self.run.message = if already_done > 0 {
                    format!("{already_done} of {target} were done before; this run makes the rest")
                } else {
                    String::new()
                };
            }
            Msg::RunNotStarted(e) => {
                self.run.status = RunStatus::Failed;
                self.run.message = e.clone();
                self.toast(format!("the run did not start: {e}"));
            }
            Msg::RunFinished(r) => {
                self.run.ended_at = Some(self.clock);
                self.run.in_flight.clear();
                match r {
                    Ok(s) => {
                        self.run.status = if s.cancelled { RunStatus::Cancelled } else { RunStatus::Finished };
                        let text = format!(
                            "run {}: {} complete, {} failed this run",
                            if s.cancelled { "cancelled" } else { "finished" },
                            s.complete,
                            s.failed
                        );
                        self.run.message = text.clone();
                        self.toast(text);
                    }
                    Err(e) => {
                        self.run.status = RunStatus::Failed;
                        self.run.message = e.clone();
                        self.toast(format!("the run stopped: {e}"));
                    }
                }
                self.run.stage_of.clear();
                fx.push(Effect::LoadRows);
                if let Some(id) = self.pending_fork.take() {
                    self.show_fork_for = Some(id.clone());
                    fx.push(Effect::LoadSample(id));
                }
            }
            Msg::Rows(rows) => {
                let first = !self.list.loaded;
                self.list.set_rows(rows);
                if first && self.list.rows.is_empty() && !self.open_queue_when_loaded {
                    self.view = View::Pipeline;
                }
                self.refilter(&mut fx);
                // The selected sample may have moved on (a run in flight): read it again.
                if let Some(id) = self.selected().map(|r| r.id.clone())
                    && !fx.contains(&Effect::LoadSample(id.clone()))
                {
                    fx.push(Effect::LoadSample(id));
                }
                if std::mem::take(&mut self.open_queue_when_loaded) {
                    self.start_queue(&mut fx);
                }
            }
            Msg::Row(row) => self.list.upsert(row),
            Msg::Sample(d) => {
                if self.selected().is_some_and(|r| r.id == d.id) {
                    let same = self.detail.as_ref().is_some_and(|x| x.id == d.id);
                    if !same {
                        self.turn = 0;
                        self.traj_scroll = 0;
                        self.lineage_scroll = 0;
                    }
                    self.detail = Some(*d);
                    self.open_fork_compare();
                }
            }
            Msg::SampleMissing(id) => self.toast(format!("sample {id} is no longer in the workspace")),
            Msg::SearchResult { query, rowids, unindexed } => {
                let current = match &self.overlay {
                    Some(Overlay::Search(s)) => s.query(),
                    _ => self.list.search.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
                };
                if current.trim() != query.trim() {
                    return fx;
                }
                self.list.unindexed = unindexed;
                match rowids {
                    Ok(ids) => {
                        self.list.search_note =
                            if unindexed > 0 { format!("{unindexed} samples not indexed yet") } else { String::new() };
                        self.list.search = Some((query, ids.into_iter().collect()));
                        self.refilter(&mut fx);
                    }
                    Err(e) => self.list.search_note = e,
                }
            }
            Msg::Undone(None) => {
                self.toast("nothing of this session to undo (button undo on the command line undoes older actions)")
            }
            Msg::Undone(Some(entry)) => {
                let what = match &entry.action {
                    crate::store::Action::Verdict { after: Some(r), .. } => {
                        format!("the {} verdict", r.verdict.as_str())
                    }
                    crate::store::Action::Verdict { after: None, .. } => "the cleared verdict".into(),
                    crate::store::Action::Edit { path, .. } => format!("the edit of {path}"),
                    crate::store::Action::Undo { .. } => "an undo".into(),
                };
                self.toast(format!("undid {what} on {}", entry.sample_id));
                // Go back to the sample, so the undone verdict can be given again.
                if let Some(pos) = self.list.visible.iter().position(|i| self.list.rows[*i].id == entry.sample_id) {
                    self.list.cursor = pos;
                }
                if self.selected().is_some_and(|r| r.id == entry.sample_id) {
                    fx.push(Effect::LoadSample(entry.sample_id));
                }
            }
            Msg::Indexed { remaining } => self.list.unindexed = remaining,
            Msg::StoreChanged => {
                // Verdicts, imports and runs of other processes: the list follows within the
                // second (with a run's own reloads), the sample shown when nothing is open over it.
                self.rows_dirty = true;
                if self.overlay.is_none()
                    && let Some(d) = &self.detail
                {
                    fx.push(Effect::LoadSample(d.id.clone()));
                }
            }
            Msg::Error(e) => self.toast(e),
            Msg::Toast(t) => self.toast(t),
            Msg::Rerun { old, new } => match new {
                Ok(new) => {
                    let old_call = self.detail.as_ref().and_then(|d| d.calls.iter().find(|c| c.id == old)).cloned();
                    match old_call {
                        Some(o) => {
                            self.overlay = Some(Overlay::CallCompare(Box::new(CallCompare {
                                old: o,
                                new: *new,
                                scroll: Scroll::default(),
                            })));
                        }
                        None => self.toast(format!("call #{} asked again: see its sample's calls", new.id)),
                    }
                    if let Some(id) = self.selected().map(|r| r.id.clone()) {
                        fx.push(Effect::LoadSample(id));
                    }
                }
                Err(e) => self.toast(format!("the step was not asked again: {e}")),
            },
            Msg::ExternalEdited(r) => match (r, self.overlay.as_mut()) {
                (Ok(text), Some(Overlay::Editor(st))) => {
                    st.set_text(&text);
                    let n = st.problems.len();
                    self.toast(if n == 0 {
                        "back from $EDITOR: the text checks out; ctrl-s saves".to_string()
                    } else {
                        format!("back from $EDITOR: {n} problem{} to fix", if n == 1 { "" } else { "s" })
                    });
                }
                (Ok(_), _) => self.toast("back from $EDITOR, but the editor was closed: nothing saved"),
                (Err(e), _) => self.toast(e),
            },
            Msg::Template { step, text } => {
                let st = Editor::new(String::new(), Field::Template(step), Purpose::Save, text, None);
                self.overlay = Some(Overlay::Editor(Box::new(st)));
            }
        }
        fx
    }

    fn key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
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
    fn back(&mut self, fx: &mut Vec<Effect>) {
        if self.list.queue {
            self.list.queue = false;
            self.toast("left the review queue");
        } else if self.view == View::Trajectory {
            self.view = View::Samples;
        } else if self.focus == Focus::Lineage {
            self.focus = Focus::List;
        } else if self.list.search.is_some() {
            self.list.search = None;
            self.list.search_note.clear();
            self.refilter(fx);
        }
    }

    pub fn dispatch(&mut self, a: Action, fx: &mut Vec<Effect>) {
        match a {
            Action::ForceQuit => {
                self.quit = true;
                fx.push(Effect::Quit);
            }
            Action::Back => self.back(fx),
            Action::Quit => {
                if self.run.status.in_flight() {
                    self.overlay = Some(Overlay::ConfirmQuit(ConfirmQuit));
                } else {
                    self.quit = true;
                    fx.push(Effect::Quit);
                }
            }
            Action::Help => self.overlay = Some(Overlay::Help(Help::default())),
            Action::Palette => self.overlay = Some(Overlay::Palette(Palette::default())),
            Action::FocusNext | Action::FocusPrev => {
                if self.view == View::Samples {
                    self.focus = if self.focus == Focus::List { Focus::Lineage } else { Focus::List };
                } else {
                    let order = [View::Pipeline, View::Samples, View::Trajectory];
                    let i = order.iter().position(|v| *v == self.view).unwrap_or(0);
                    let j = if a == Action::FocusNext { (i + 1) % 3 } else { (i + 2) % 3 };
                    self.view = order[j];
                }
            }
            Action::ViewPipeline => self.view = View::Pipeline,
            Action::ViewSamples => self.view = View::Samples,
            Action::ViewTrajectory | Action::Open => {
                if self.selected().is_some() {
                    self.view = View::Trajectory;
                } else {
                    self.toast("no sample selected");
                }
            }
            Action::Undo => fx.push(Effect::Undo),
            Action::ReviewQueue => self.start_queue(fx),
            Action::NextTheme => {
                let i = self
                    .themes
                    .iter()
                    .position(|t| t.name == self.theme.name)
                    .map_or(0, |i| (i + 1) % self.themes.len());
                let name = self.themes[i].name.clone();
                self.set_theme_by_name(&name);
            }
            Action::StartRun => match self.run.status {
                RunStatus::Paused => {
                    self.run.status = RunStatus::Running;
                    fx.push(Effect::Resume);
                }
                s if s.in_flight() => self.toast("a run is already in flight"),
                _ => {
                    self.run.status = RunStatus::Starting;
                    self.run.message = "starting…".into();
                    fx.push(Effect::StartRun { target: self.target, concurrency: self.run.concurrency });
                }
            },
            Action::PauseResume => match self.run.status {
                RunStatus::Running => {
                    self.run.status = RunStatus::Paused;
                    fx.push(Effect::Pause);
                }
                RunStatus::Paused => {
                    self.run.status = RunStatus::Running;
                    fx.push(Effect::Resume);
                }
                _ => self.toast("no run in flight to pause"),
            },
            Action::CancelRun => {
                if matches!(self.run.status, RunStatus::Running | RunStatus::Paused | RunStatus::Starting) {
                    self.run.status = RunStatus::Cancelling;
                    fx.push(Effect::CancelRun);
                } else {
                    self.toast("no run in flight to cancel");
                }
            }
            Action::ConcurrencyUp | Action::ConcurrencyDown => {
                let c = self.run.concurrency.unwrap_or(16);
                let n = if a == Action::ConcurrencyUp { (c * 2).min(1024) } else { (c / 2).max(1) };
                self.run.concurrency = Some(n);
                if self.run.status.in_flight() {
                    fx.push(Effect::SetConcurrency(n));
                }
            }
            Action::TargetUp | Action::TargetDown => {
                let t = self.target;
                let step = if t >= 1000 {
                    100
                } else if t >= 100 {
                    50
                } else {
                    10
                };
                self.target = if a == Action::TargetUp { t + step } else { t.saturating_sub(step).max(1) };
                if self.run.status.in_flight() {
                    self.toast(format!("target {}: for the next run (s after this one ends)", self.target));
                } else {
                    self.run.target = self.target;
                }
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
                self.list.search = None;
                self.list.search_note.clear();
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
                Some(r) if !r.summary.stale.is_empty() => {
                    let id = r.id.clone();
                    self.start_jobs(vec![id], fx);
                }
                Some(_) => self.toast("nothing in this sample is stale: edit a part first (e)"),
                None => self.toast("no sample selected"),
            },
            Action::RegenerateAll => {
                let ids: Vec<String> = self
                    .list
                    .visible
                    .iter()
                    .map(|i| &self.list.rows[*i])
                    .filter(|r| !r.summary.stale.is_empty())
                    .map(|r| r.id.clone())
                    .collect();
                if ids.is_empty() {
                    self.toast("no listed sample is stale");
                } else {
                    self.start_jobs(ids, fx);
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
            Action::ScrollDown => self.traj_scroll = self.traj_scroll_now().saturating_add(1),
            Action::ScrollUp => self.traj_scroll = self.traj_scroll_now().saturating_sub(1),
            // The actions of the overlays: each overlay handles its own (`Overlay::key`).
            _ => {}
        }
    }

    /// The editable field of the current turn.
    fn turn_field(&self) -> Option<Field> {
        let t = self.detail.as_ref()?.sample.trajectory.as_ref()?;
        Some(match t.messages.get(self.turn)? {
            crate::model::Message::User { .. } => Field::UserMessage(self.turn),
            crate::model::Message::Assistant { .. } => Field::AssistantMessage(self.turn),
            crate::model::Message::Tool { .. } => Field::ToolResults(self.turn),
        })
    }

    fn open_editor(&mut self, field: Field, purpose: Purpose, external: bool, fx: &mut Vec<Effect>) {
        let Some(d) = self.shown_detail() else {
            self.toast("no sample loaded");
            return;
        };
        let Some(text) = edit::to_text(&d.sample, &field) else {
            self.toast(format!("this sample has no {} to edit", field.title()));
            return;
        };
        let ext = field.extension();
        let st = Editor::new(d.id.clone(), field, purpose, text.clone(), Some(Box::new(d.sample.clone())));
        self.overlay = Some(Overlay::Editor(Box::new(st)));
        if external {
            fx.push(Effect::ExternalEdit { text, extension: ext });
        }
    }

    fn start_jobs(&mut self, ids: Vec<String>, fx: &mut Vec<Effect>) {
        if self.run.status.in_flight() {
            self.toast("a run is in flight: regenerate when it ends");
            return;
        }
        self.run.status = RunStatus::Starting;
        self.run.message = format!("regenerating {} samples", ids.len());
        self.toast(format!(
            "regenerating {} sample{}: the pipeline view (1) shows it",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" }
        ));
        fx.push(Effect::Regenerate(ids));
    }

    fn open_fork_compare(&mut self) {
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

    fn traj_scroll_now(&self) -> u16 {
        if self.traj_scroll == u16::MAX { self.areas.get().traj_scroll } else { self.traj_scroll }
    }

    fn no_call_reason(&self, what: &str) -> String {
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

    fn reviewable(&mut self) -> bool {
        match self.selected() {
            None => {
                self.toast("no sample selected");
                false
            }
            Some(r) if !r.summary.stage.is_complete() => {
                let msg = format!("{} is {}: only complete samples are reviewed", r.id, r.summary.stage);
                self.toast(msg);
                false
            }
            Some(_) => true,
        }
    }

    fn verdict(&mut self, v: Option<Verdict>, reasons: Vec<RejectReason>, fx: &mut Vec<Effect>) {
        self.verdict_with_note(v, reasons, String::new(), fx);
    }

    fn verdict_with_note(
        &mut self,
        v: Option<Verdict>,
        reasons: Vec<RejectReason>,
        note: String,
        fx: &mut Vec<Effect>,
    ) {
        if !self.reviewable() {
            return;
        }
        let Some(row) = self.selected() else { return };
        let id = row.id.clone();
        let review = v.map(|verdict| Review { verdict, reasons, note, at: crate::store::now_ms() });
        // The row shows the verdict at once; the store's answer (Msg::Row) confirms it.
        if let Some(r) = self.list.row_mut(&id) {
            r.verdict = review.as_ref().map(|r| r.verdict);
        }
        fx.push(Effect::SetReview { id, review });
        self.advance(fx);
    }

    /// The next sample: in the review queue the next one still awaiting a verdict.
    fn advance(&mut self, fx: &mut Vec<Effect>) {
        if self.list.visible.is_empty() {
            return;
        }
        if self.list.queue {
            let n = self.list.visible.len();
            let pending = |app: &App, pos: usize| {
                let r = &app.list.rows[app.list.visible[pos]];
                r.verdict.is_none() && r.summary.stage.is_complete()
            };
            let next = (1..=n).map(|d| (self.list.cursor + d) % n).find(|p| pending(self, *p));
            match next {
                Some(p) if p != self.list.cursor || pending(self, p) => self.set_cursor(p, fx),
                _ => {
                    self.list.queue = false;
                    self.toast("review queue done: every complete sample has a verdict");
                }
            }
        } else if self.list.cursor + 1 < self.list.visible.len() {
            self.set_cursor(self.list.cursor + 1, fx);
        } else {
            self.toast("that was the last sample of the list");
        }
    }

    fn start_queue(&mut self, fx: &mut Vec<Effect>) {
        self.list.filters = Filters { status: Some(Status::Complete), verdict: Some(None), ..Filters::default() };
        self.list.search = None;
        self.list.sort = SortKey::Order;
        self.list.sort_reverse = false;
        self.refilter(fx);
        if self.list.visible.is_empty() {
            self.list.filters = Filters::default();
            self.refilter(fx);
            self.toast("the review queue is empty: every complete sample has a verdict");
            return;
        }
        self.list.queue = true;
        self.view = View::Trajectory;
        self.set_cursor(0, fx);
    }

    fn move_or_scroll(&mut self, d: i64, fx: &mut Vec<Effect>) {
        if self.focus == Focus::Lineage && self.view == View::Samples {
            self.lineage_part = self.lineage_part.step_by(d);
            self.lineage_scroll = 0;
        } else {
            let c = (self.list.cursor as i64 + d).clamp(0, self.list.visible.len().saturating_sub(1) as i64) as usize;
            self.set_cursor(c, fx);
        }
    }

    fn page(&mut self, d: i64, fx: &mut Vec<Effect>) {
        if self.focus == Focus::Lineage && self.view == View::Samples {
            self.lineage_scroll =
                if d > 0 { self.lineage_scroll.saturating_add(10) } else { self.lineage_scroll.saturating_sub(10) };
        } else {
            let h = self.areas.get().list.height.saturating_sub(3).max(1) as i64;
            self.move_or_scroll(d * h, fx);
        }
    }

    pub fn set_cursor(&mut self, c: usize, fx: &mut Vec<Effect>) {
        let before = self.selected().map(|r| r.id.clone());
        self.list.cursor = c.min(self.list.visible.len().saturating_sub(1));
        let after = self.selected().map(|r| r.id.clone());
        if (after != before || self.detail.as_ref().map(|d| &d.id) != after.as_ref())
            && let Some(id) = after
        {
            fx.push(Effect::LoadSample(id));
        }
    }

    /// Applies the filters, the search and the sort; the cursor stays on its sample when
    /// that sample is still listed.
    pub fn refilter(&mut self, fx: &mut Vec<Effect>) {
        self.list.refilter();
        match self.selected().map(|r| r.id.clone()) {
            Some(id) if self.detail.as_ref().map(|d| &d.id) != Some(&id) => fx.push(Effect::LoadSample(id)),
            Some(_) => {}
            None => self.detail = None,
        }
    }

    /// A key while an overlay is open: the overlay decides, the app carries it out.
    fn overlay_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let Some(mut ov) = self.overlay.take() else { return };
        let action = Key::from_event(&k).and_then(|key| self.keymap.lookup_in(ov.contexts(), &key));
        let out = ov.key(k, action, self);
        if !out.close {
            self.overlay = Some(ov);
        }
        for c in out.cmds {
            self.apply(c, fx);
        }
    }

    /// Carries out what an overlay asked for.
    fn apply(&mut self, c: Cmd, fx: &mut Vec<Effect>) {
        match c {
            Cmd::Effect(e) => fx.push(e),
            Cmd::Toast(t) => self.toast(t),
            Cmd::Dispatch(a) => self.dispatch(a, fx),
            Cmd::Theme(name) => self.set_theme_by_name(&name),
            Cmd::Quit => {
                self.quit = true;
                fx.push(Effect::Quit);
            }
            Cmd::Reject(reasons, note) => self.verdict_with_note(Some(Verdict::Rejected), reasons, note, fx),
            Cmd::SetFilters(f) => {
                self.list.filters = f;
                self.refilter(fx);
            }
            Cmd::Search(q) if q.is_empty() => {
                self.list.search = None;
                self.list.search_note.clear();
                self.refilter(fx);
            }
            Cmd::Search(q) => fx.push(Effect::Search(q)),
            Cmd::Fork { id, turn, message } => {
                self.pending_fork = Some(id.clone());
                self.run.status = RunStatus::Starting;
                self.toast("forking: the dialogue goes on from the edited turn…");
                fx.push(Effect::Fork { id, turn, message });
            }
        }
    }

    fn mouse(&mut self, m: MouseEvent, fx: &mut Vec<Effect>) {
        if self.overlay.is_some() {
            if let (MouseEventKind::ScrollDown | MouseEventKind::ScrollUp, Some(ov)) = (m.kind, self.overlay.as_mut()) {
                ov.wheel(m.kind == MouseEventKind::ScrollDown);
            }
            return;
        }
        let a = self.areas.get();
        let inside = |r: Rect| m.column >= r.x && m.column < r.x + r.width && m.row >= r.y && m.row < r.y + r.height;
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                for (i, r) in a.tabs.iter().enumerate() {
                    if inside(*r) {
                        self.view = [View::Pipeline, View::Samples, View::Trajectory][i];
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
                    self.traj_scroll = (self.traj_scroll_now() as i64 + d).clamp(0, u16::MAX as i64 - 1) as u16;
                } else if self.view == View::Samples && inside(a.lineage) {
                    self.lineage_scroll = (self.lineage_scroll as i64 + d).clamp(0, u16::MAX as i64) as u16;
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
    for e in &d.sample.edits {
        out.push((
            Tag::Same,
            format!("── edit of {}{} ──", e.path, if e.regenerated { " (regenerated since)" } else { "" }),
        ));
        if e.path.starts_with("/functions") || e.path.starts_with("/trajectory/tools") {
            out.extend(diff::schema_diff(&e.original, &e.edited));
        } else {
            out.extend(diff::line_diff(&diff_text(&e.original), &diff_text(&e.edited)));
        }
    }
    for (id, kind, v) in &d.versions {
        out.push((Tag::Same, format!("── {kind} version #{id} -> the sample now ──")));
        match (&v.trajectory, &d.sample.trajectory) {
            (Some(a), Some(b)) => out.extend(diff::line_diff(&trajectory_text(a), &trajectory_text(b))),
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
