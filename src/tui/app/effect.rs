//! What the app asks of the world, grouped by what carries it out: the store worker, the
//! run handle, the terminal.

use crate::domain::Step;
use crate::model::Review;

/// What the app asks of the world, grouped by what carries it out.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// The store worker: reads and writes of the workspace.
    Store(StoreFx),
    /// The run handle: the pipeline, a run or jobs on stored samples, and its controls.
    Run(RunFx),
    /// The terminal: $EDITOR, quitting.
    Terminal(TerminalFx),
}

#[derive(Clone, Debug, PartialEq)]
pub enum StoreFx {
    LoadRows,
    LoadSample(String),
    Search(String),
    SetReview {
        id: String,
        review: Option<Review>,
    },
    Undo,
    Redo,
    Edit {
        id: String,
        path: String,
        value: serde_json::Value,
    },
    DropVersion {
        id: String,
        version: i64,
    },
    LoadTemplate(Step),
    SaveTemplate {
        step: Step,
        text: String,
    },
    /// What undo (or redo) would do now (answered by `Msg::NextUndo`).
    NextUndo {
        redo: bool,
    },
    /// One verdict for many samples: one journal entry, one undo.
    SetReviews {
        ids: Vec<String>,
        review: Option<Review>,
    },
    /// The newest lines of the workspace log (answered by `Msg::Log`).
    LoadLog,
    /// The groups of every sample by part (answered by `Msg::Groups`).
    LoadGroups(crate::inspect::Browse),
    /// A sample's history (answered by `Msg::History`).
    LoadHistory(String),
    /// Put a sample back as it was before its edit `seq`.
    RestoreBefore {
        id: String,
        seq: i64,
    },
    /// Put a kept version of a sample back in its place.
    Restore {
        id: String,
        version: i64,
    },
    /// Clear the verdicts of samples about to be made again (journaled: undo brings them back).
    ClearReviews(Vec<String>),
    /// The newest call asked again from call `old` (after its job ended).
    LoadRerun {
        old: i64,
    },
}

/// Samples to make again: the stale parts of some (`g`), the failed ones from the part each
/// failed at (a retry).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Remake {
    pub stale: Vec<String>,
    pub failed: Vec<String>,
}

impl Remake {
    pub fn stale(ids: Vec<String>) -> Remake {
        Remake { stale: ids, failed: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.stale.len() + self.failed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.stale.iter().chain(&self.failed)
    }

    /// "2 stale samples and 1 failed sample", "3 failed samples".
    pub fn describe(&self) -> String {
        let n = |k: usize, what: &str| format!("{k} {what} sample{}", if k == 1 { "" } else { "s" });
        match (self.stale.len(), self.failed.len()) {
            (s, 0) => n(s, "stale"),
            (0, f) => n(f, "failed"),
            (s, f) => format!("{} and {}", n(s, "stale"), n(f, "failed")),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum RunFx {
    StartRun {
        target: usize,
        concurrency: Option<usize>,
    },
    Pause,
    Resume,
    CancelRun,
    SetConcurrency(usize),
    Remake(Remake),
    Fork {
        id: String,
        turn: usize,
        message: crate::model::Message,
    },
    /// Ask a recorded call's step again, with the templates as they are now.
    Rerun {
        call: i64,
        sample: String,
    },
    /// Make a sample's parts from `from` on again, keeping the hand edits before it.
    RegenerateFrom {
        id: String,
        from: crate::domain::Part,
    },
}

impl RunFx {
    /// The pipeline jobs this effect asks for (regenerations, forks, steps asked again);
    /// None for a run toward the target and the controls of a run.
    pub fn jobs(&self) -> Option<Vec<crate::pipeline::Job>> {
        use crate::pipeline::Job;
        match self {
            RunFx::Remake(r) => Some(
                r.stale.iter().cloned().map(Job::Regenerate).chain(r.failed.iter().cloned().map(Job::Retry)).collect(),
            ),
            RunFx::RegenerateFrom { id, from } => Some(vec![Job::RegenerateFrom { sample: id.clone(), from: *from }]),
            RunFx::Fork { id, turn, message } => {
                Some(vec![Job::Fork { sample: id.clone(), turn: *turn, message: message.clone() }])
            }
            RunFx::Rerun { call, sample } => Some(vec![Job::Rerun { call: *call, sample: sample.clone() }]),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum TerminalFx {
    ExternalEdit { text: String, extension: &'static str },
    Quit,
}
