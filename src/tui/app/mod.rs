//! The TUI's model: all its state, and `update(msg) -> effects`. It knows nothing of the
//! terminal, the store or the pipeline; it asks for those through effects, and their
//! answers come back as messages. Tests script keys against it.

mod controls;
mod effect;
mod input;
mod messages;
mod review;
mod samples;

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
    CallCompare, CallView, Cmd, Compare, ConfirmQuit, DiffView, Editor, FiltersPanel, Help, History, Palette, Purpose,
    Reason, Scroll, Search,
};
use super::theme::Theme;
use crate::domain::{Part, Step};
use crate::lint::Finding;
use crate::model::{RejectReason, Review, Sample, Verdict};
use crate::pipeline::{Event, RunSummary};
pub use crate::progress::{RunState, RunStatus};
use crate::store::{CallRow, JournalEntry, ListRow};
pub use effect::{Effect, Remake, RunFx, StoreFx, TerminalFx};
pub use samples::{line_input, sample_diff, trajectory_text};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Pipeline,
    Samples,
    Trajectory,
    Inspect,
}

/// The inspect view: the groups of one part across the workspace.
pub struct Inspect {
    pub browse: crate::inspect::Browse,
    /// Read for `browse`; None while it is being read.
    pub groups: Option<Vec<crate::inspect::Group>>,
    pub cursor: usize,
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
    RunFinished(Result<RunSummary, crate::pipeline::RunError>),
    Rows(Vec<ListRow>),
    Row(ListRow),
    Sample(Box<Detail>),
    SampleMissing(String),
    SearchResult {
        query: String,
        rowids: Result<Vec<i64>, String>,
        unindexed: u64,
    },
    /// What undo undid (or redo did again), None when there was nothing to.
    Undone {
        redo: bool,
        entry: Option<JournalEntry>,
    },
    /// What `u` would undo (or ctrl-r redo) now.
    NextUndo {
        redo: bool,
        entry: Option<JournalEntry>,
    },
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
    History {
        id: String,
        items: Vec<crate::store::HistoryItem>,
    },
    Log(Result<Vec<String>, String>),
    Groups {
        by: crate::inspect::Browse,
        groups: Result<Vec<crate::inspect::Group>, String>,
    },
    /// The text back from $EDITOR (or why it could not be run).
    ExternalEdited(Result<String, String>),
    /// A template's text, to edit: the workspace override, or the built-in one.
    Template {
        step: Step,
        text: String,
    },
}

/// Screen areas of the last frame, for the mouse.
#[derive(Clone, Copy, Debug, Default)]
pub struct Areas {
    pub tabs: [Rect; 4],
    /// How far the text overlay drawn last can scroll (its text less its height); None when
    /// the last frame drew none.
    pub reader_max: Option<u16>,
    /// The inspect view's table.
    pub inspect: Rect,
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
    /// The seed of the runs started here: its samples (`s{seed}-NNNNNN`) count toward the
    /// target.
    pub seed: u64,
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
    /// The seed of the runs started here.
    pub seed: u64,
    rows_dirty: bool,
    rows_requested_at: Duration,
    open_queue_when_loaded: bool,
    /// A fork in flight for this sample: its branches are compared when it ends.
    pending_fork: Option<String>,
    /// A call being asked again: the new call is shown beside it when its job ends.
    pending_rerun: Option<i64>,
    pub inspect: Inspect,
    /// The trajectory shows one line per turn, but for the turns opened in full.
    pub compact: bool,
    pub expanded: std::collections::BTreeSet<usize>,
    /// The chosen line of the errors panel (a reason samples failed for).
    pub errors_cursor: usize,
    /// The call whose template is being edited: it opens again when the editor closes.
    template_return: Option<i64>,
    /// The template loop went on to the next sample: open its call of this step.
    pending_call_step: Option<String>,
    /// n/N went on into another sample: show its first (true) or last matching turn.
    pending_match: Option<bool>,
    show_fork_for: Option<String>,

    pub toast: Option<(String, Duration)>,
    /// Where the last frame put things (the view returns them; the loop hands them back).
    pub areas: Areas,
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
            seed: init.seed,
            pending_fork: None,
            pending_rerun: None,
            pending_match: None,
            template_return: None,
            pending_call_step: None,
            errors_cursor: 0,
            compact: false,
            expanded: std::collections::BTreeSet::new(),
            inspect: Inspect { browse: crate::inspect::Browse::AtomicTasks, groups: None, cursor: 0 },
            show_fork_for: None,
            toast: None,
            areas: Areas::default(),
        };
        app.run.concurrency = init.concurrency;
        if let Some(n) = init.notice {
            app.toast(n);
        }
        (app, vec![Effect::Store(StoreFx::LoadRows)])
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
            View::Inspect => Context::Inspect,
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
                    fx.push(Effect::Store(StoreFx::LoadRows));
                }
            }
            m @ (Msg::Pipeline(_) | Msg::RunStarted { .. } | Msg::RunNotStarted(_) | Msg::RunFinished(_)) => {
                self.on_run(m, &mut fx);
            }
            Msg::Rows(rows) => {
                let first = !self.list.loaded;
                self.list.set_rows(rows);
                if first && self.list.rows.is_empty() && !self.open_queue_when_loaded {
                    self.view = View::Pipeline;
                }
                if first {
                    self.count_held();
                }
                self.refilter(&mut fx);
                // The selected sample may have moved on (a run in flight): read it again.
                if let Some(id) = self.selected().map(|r| r.id.clone())
                    && !fx.contains(&Effect::Store(StoreFx::LoadSample(id.clone())))
                {
                    fx.push(Effect::Store(StoreFx::LoadSample(id)));
                }
                if std::mem::take(&mut self.open_queue_when_loaded) {
                    self.start_queue(false, &mut fx);
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
                        self.expanded.clear();
                    }
                    let going = self.pending_match.take().filter(|_| !same);
                    let call_step = self.pending_call_step.take().filter(|_| !same);
                    self.detail = Some(*d);
                    if let Some(step) = call_step {
                        let index = self.detail.as_ref().and_then(|d| d.calls.iter().position(|c| c.step == step));
                        match index {
                            Some(i) => self.overlay = Some(Overlay::Call(CallView::new(i))),
                            None => self.toast(format!("this sample has no {step} call")),
                        }
                    }
                    if let Some(forward) = going {
                        let turns = self.matching_turns();
                        let t = if forward { turns.first() } else { turns.last() };
                        if let Some(t) = t {
                            self.turn = *t;
                            self.traj_scroll = u16::MAX;
                        }
                    }
                    self.open_fork_compare();
                }
            }
            Msg::SampleMissing(id) => self.toast(format!("sample {id} is no longer in the workspace")),
            Msg::SearchResult { query, rowids, unindexed } => {
                // The newest search asked (its answer may come after enter closed the field).
                let current = match &self.overlay {
                    Some(Overlay::Search(s)) => s.query(),
                    _ => self.list.asked.clone(),
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
            m @ (Msg::NextUndo { .. } | Msg::Undone { .. }) => self.on_undo(m, &mut fx),
            Msg::Indexed { remaining } => self.list.unindexed = remaining,
            Msg::StoreChanged => {
                // Verdicts, imports and runs of other processes: the list follows within the
                // second (with a run's own reloads), the sample shown when nothing is open over it.
                self.rows_dirty = true;
                if self.overlay.is_none()
                    && let Some(d) = &self.detail
                {
                    fx.push(Effect::Store(StoreFx::LoadSample(d.id.clone())));
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
                        fx.push(Effect::Store(StoreFx::LoadSample(id)));
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
                let st = Editor::new(String::new(), Field::Template(step), Purpose::Save, text, None, &self.theme);
                self.overlay = Some(Overlay::Editor(Box::new(st)));
            }
            // Shown only while nothing else was opened meanwhile.
            Msg::History { id, items } if self.overlay.is_none() => {
                let now = crate::store::now_ms();
                self.overlay = Some(Overlay::History(Box::new(History { id, items, selected: 0, now })));
            }
            Msg::History { .. } => {}
            Msg::Log(Ok(lines)) if self.overlay.is_none() => {
                let n = lines.len();
                self.overlay = Some(Overlay::Diff(DiffView {
                    title: format!("The workspace log, newest first ({n} lines; button log prints it)"),
                    lines: lines.into_iter().rev().map(|l| (Tag::Same, l)).collect(),
                    scroll: Scroll::default(),
                }));
            }
            Msg::Log(Ok(_)) => {}
            Msg::Log(Err(e)) => self.toast(e),
            Msg::Groups { by, groups } if by == self.inspect.browse => match groups {
                Ok(g) => {
                    self.inspect.cursor = self.inspect.cursor.min(g.len().saturating_sub(1));
                    self.inspect.groups = Some(g);
                }
                Err(e) => {
                    self.inspect.groups = Some(Vec::new());
                    self.toast(e);
                }
            },
            Msg::Groups { .. } => {}
        }
        fx
    }
}
