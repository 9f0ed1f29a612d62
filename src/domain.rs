//! The words of the method, once: the lineage parts a sample is made of, how far a sample
//! has come (its stage), the LLM steps and the part each makes, the review verdicts, and the
//! staleness rules (which parts an edit leaves made from something that changed since).
//!
//! Everything else (store, pipeline, progress, TUI) speaks in these types; the strings are
//! only their ids, at the edges where they are stored, sent or shown.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::Sample;
pub use crate::model::Verdict;

/// A sample's lineage, in the order it is made; each part is made from the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Scenario,
    AtomicTask,
    Composition,
    Filter,
    Functions,
    Trajectory,
}

impl Part {
    pub const ALL: [Part; 6] =
        [Part::Scenario, Part::AtomicTask, Part::Composition, Part::Filter, Part::Functions, Part::Trajectory];

    /// The name used in the sample's JSON, the store, filters and the CLI.
    pub fn id(self) -> &'static str {
        match self {
            Part::Scenario => "scenario",
            Part::AtomicTask => "atomic_task",
            Part::Composition => "composition",
            Part::Filter => "filter",
            Part::Functions => "functions",
            Part::Trajectory => "trajectory",
        }
    }

    /// The name a person reads.
    pub fn title(self) -> &'static str {
        match self {
            Part::Scenario => "Scenario",
            Part::AtomicTask => "Atomic task",
            Part::Composition => "Composition",
            Part::Filter => "Filter",
            Part::Functions => "Functions",
            Part::Trajectory => "Trajectory",
        }
    }

    pub fn from_id(id: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.id() == id)
    }

    /// Its position in the lineage (0 = the scenario).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The part after this one; None after the trajectory.
    pub fn next(self) -> Option<Part> {
        Part::ALL.get(self.index() + 1).copied()
    }

    /// The part `d` places away, held at the ends.
    #[must_use]
    pub fn step_by(self, d: i64) -> Part {
        Part::ALL[(self.index() as i64 + d).clamp(0, 5) as usize]
    }

    /// The LLM steps whose replies make this part.
    pub fn steps(self) -> &'static [Step] {
        match self {
            Part::Scenario => &[Step::ScenarioExtract, Step::ScenarioExpand],
            Part::AtomicTask => &[Step::AtomicTask],
            Part::Composition => &[Step::ComposeSequential, Step::ComposeParallelSequential],
            Part::Filter => &[Step::CompositionFilter],
            Part::Functions => &[Step::FunctionGenerate],
            Part::Trajectory => &[Step::UserAgent, Step::AssistantAgent, Step::ToolAgent],
        }
    }

    /// The part a JSON pointer into a sample (`/composition/task`) is in.
    pub fn of_path(path: &str) -> Option<Part> {
        Part::from_id(path.trim_start_matches('/').split('/').next().unwrap_or(""))
    }

    /// The part a failure was recorded at: failures name the step that failed, or the part
    /// when no step was asked (`missing_part`, `turn_limit`).
    pub fn of_failure(at: &str) -> Option<Part> {
        Part::from_id(at).or_else(|| Step::from_id(at).map(Step::part))
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// How far a sample has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Made up to this part, the last it has; the next one is still to come.
    At(Part),
    /// Every part made: it has a trajectory.
    Complete,
    /// It stopped for good while this part was being made.
    Failed(Part),
}

impl Default for Stage {
    fn default() -> Stage {
        Stage::At(Part::Scenario)
    }
}

impl Stage {
    /// How far `s` has come.
    pub fn of(s: &Sample) -> Stage {
        if let Some(f) = &s.failure {
            return Stage::Failed(Part::of_failure(&f.stage).unwrap_or(Part::Trajectory));
        }
        if s.trajectory.is_some() {
            return Stage::Complete;
        }
        let has = [true, s.atomic_task.is_some(), s.composition.is_some(), s.filter.is_some(), !s.functions.is_empty()];
        Stage::At(Part::ALL[has.iter().rposition(|h| *h).unwrap_or(0)])
    }

    /// The word stored and shown: a part's id, `complete` or `failed`.
    pub fn id(self) -> &'static str {
        match self {
            Stage::At(p) => p.id(),
            Stage::Complete => "complete",
            Stage::Failed(_) => "failed",
        }
    }

    /// The stage stored as `id` with the failure reason `at:reason` beside it (None when
    /// the word is none of the stages).
    pub fn from_stored(id: &str, failure_reason: Option<&str>) -> Option<Stage> {
        match id {
            "complete" => Some(Stage::Complete),
            "failed" => {
                let at = failure_reason.and_then(|r| r.split(':').next()).unwrap_or("");
                Some(Stage::Failed(Part::of_failure(at).unwrap_or(Part::Trajectory)))
            }
            other => Part::from_id(other).map(Stage::At),
        }
    }

    pub fn is_complete(self) -> bool {
        self == Stage::Complete
    }

    pub fn is_failed(self) -> bool {
        matches!(self, Stage::Failed(_))
    }

    /// Still being made (neither complete nor failed).
    pub fn in_progress(self) -> bool {
        matches!(self, Stage::At(_))
    }

    /// The part a stage filter matches it by: the last part made, or the part it failed at;
    /// None for a complete sample.
    pub fn part(self) -> Option<Part> {
        match self {
            Stage::At(p) | Stage::Failed(p) => Some(p),
            Stage::Complete => None,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The LLM steps of SPEC §1; `id()` is the name used everywhere (prompt files, the
/// `X-Button-Step` header, logs, the UI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    ScenarioExtract,
    ScenarioExpand,
    AtomicTask,
    ComposeSequential,
    ComposeParallelSequential,
    CompositionFilter,
    FunctionGenerate,
    UserAgent,
    AssistantAgent,
    ToolAgent,
}

impl Step {
    pub const ALL: [Step; 10] = [
        Step::ScenarioExtract,
        Step::ScenarioExpand,
        Step::AtomicTask,
        Step::ComposeSequential,
        Step::ComposeParallelSequential,
        Step::CompositionFilter,
        Step::FunctionGenerate,
        Step::UserAgent,
        Step::AssistantAgent,
        Step::ToolAgent,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Step::ScenarioExtract => "scenario_extract",
            Step::ScenarioExpand => "scenario_expand",
            Step::AtomicTask => "atomic_task",
            Step::ComposeSequential => "compose_sequential",
            Step::ComposeParallelSequential => "compose_parallel_sequential",
            Step::CompositionFilter => "composition_filter",
            Step::FunctionGenerate => "function_generate",
            Step::UserAgent => "user_agent",
            Step::AssistantAgent => "assistant_agent",
            Step::ToolAgent => "tool_agent",
        }
    }

    pub fn from_id(id: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The lineage part this step's reply makes.
    pub fn part(self) -> Part {
        match self {
            Step::ScenarioExtract | Step::ScenarioExpand => Part::Scenario,
            Step::AtomicTask => Part::AtomicTask,
            Step::ComposeSequential | Step::ComposeParallelSequential => Part::Composition,
            Step::CompositionFilter => Part::Filter,
            Step::FunctionGenerate => Part::Functions,
            Step::UserAgent | Step::AssistantAgent | Step::ToolAgent => Part::Trajectory,
        }
    }

    /// The reply's length bound when `button.toml` sets none: room for what the step
    /// answers, so a model that rambles on can't hold a slot for minutes.
    pub fn default_max_tokens(self) -> u32 {
        match self {
            Step::FunctionGenerate => 4096,
            Step::AssistantAgent | Step::ToolAgent | Step::CompositionFilter => 1024,
            Step::ScenarioExtract
            | Step::ScenarioExpand
            | Step::AtomicTask
            | Step::ComposeSequential
            | Step::ComposeParallelSequential
            | Step::UserAgent => 512,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Accepted, Verdict::Rejected, Verdict::Flagged];

    pub fn from_id(id: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == id)
    }
}

/// A set of lineage parts: the stale parts of a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Parts(u8);

impl Parts {
    pub const NONE: Parts = Parts(0);

    /// `from` and every part after it.
    pub fn from(from: Part) -> Parts {
        Parts(!0u8 << from.index() & 0b11_1111)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, p: Part) -> bool {
        self.0 & (1 << p.index()) != 0
    }

    /// The first part in the set.
    pub fn first(self) -> Option<Part> {
        Part::ALL.into_iter().find(|p| self.contains(*p))
    }

    pub fn iter(self) -> impl Iterator<Item = Part> {
        Part::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    /// The ids, space-separated (`"filter functions trajectory"`): how the store keeps it.
    pub fn ids(self) -> String {
        self.iter().map(Part::id).collect::<Vec<_>>().join(" ")
    }

    /// Reads `ids()` back; unknown words are skipped.
    pub fn from_ids(text: &str) -> Parts {
        text.split_whitespace().filter_map(Part::from_id).collect()
    }
}

impl FromIterator<Part> for Parts {
    fn from_iter<I: IntoIterator<Item = Part>>(parts: I) -> Parts {
        Parts(parts.into_iter().fold(0, |m, p| m | 1 << p.index()))
    }
}

impl fmt::Display for Parts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ids())
    }
}

/// The staleness rule: an edit of a part leaves every later part made from the old text,
/// until the sample is made again from it (a regeneration marks its edits `regenerated`).
/// The stale parts start after the earliest part with an edit not made again since.
pub fn stale(sample: &Sample) -> Parts {
    sample
        .edits
        .iter()
        .filter(|e| !e.regenerated)
        .filter_map(|e| Part::of_path(&e.path))
        .min()
        .and_then(Part::next)
        .map_or(Parts::NONE, Parts::from)
}

/// The parts of `sample` edited by hand (whether made again since or not).
pub fn edited(sample: &Sample) -> Parts {
    sample.edits.iter().filter_map(|e| Part::of_path(&e.path)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back() {
        for p in Part::ALL {
            assert_eq!(Part::from_id(p.id()), Some(p));
        }
        for s in Step::ALL {
            assert_eq!(Step::from_id(s.id()), Some(s));
            assert!(s.part().steps().contains(&s), "{s} is among its part's steps");
        }
        for v in Verdict::ALL {
            assert_eq!(Verdict::from_id(v.as_str()), Some(v));
        }
    }

    #[test]
    fn a_failure_is_at_the_part_its_step_makes() {
        assert_eq!(Part::of_failure("function_generate"), Some(Part::Functions));
        assert_eq!(Part::of_failure("compose_parallel_sequential"), Some(Part::Composition));
        assert_eq!(Part::of_failure("functions"), Some(Part::Functions));
        assert_eq!(Part::of_failure("regenerate"), None);
        assert_eq!(
            Stage::from_stored("failed", Some("assistant_agent:bad_call")),
            Some(Stage::Failed(Part::Trajectory))
        );
        assert_eq!(Stage::from_stored("filter", None), Some(Stage::At(Part::Filter)));
        assert_eq!(Stage::from_stored("done", None), None);
    }

    #[test]
    fn part_sets_hold_a_part_and_what_follows() {
        let s = Parts::from(Part::Filter);
        assert_eq!(s.ids(), "filter functions trajectory");
        assert_eq!(Parts::from_ids(&s.ids()), s);
        assert_eq!(s.first(), Some(Part::Filter));
        assert!(!s.contains(Part::Composition) && s.contains(Part::Trajectory));
        assert!(Parts::NONE.is_empty() && Parts::NONE.ids().is_empty());
        assert_eq!(Parts::from(Part::Scenario).iter().count(), 6);
    }

    #[test]
    fn an_edit_makes_the_parts_after_it_stale_until_made_again() {
        let mut s = Sample {
            scenario: Some("a trip".into()),
            ..Sample::new("s".into(), crate::model::Origin::Generated { seed: 0 })
        };
        assert_eq!(Stage::of(&s), Stage::At(Part::Scenario));
        assert!(stale(&s).is_empty());
        s.edits.push(crate::model::FieldEdit {
            path: "/composition/task".into(),
            original: serde_json::json!("a"),
            edited: serde_json::json!("b"),
            at: 0,
            regenerated: false,
        });
        assert_eq!(stale(&s).ids(), "filter functions trajectory");
        assert_eq!(edited(&s).ids(), "composition");
        s.edits[0].regenerated = true;
        assert!(stale(&s).is_empty());
        s.edits[0].path = "/trajectory/messages/2/content".into();
        s.edits[0].regenerated = false;
        assert!(stale(&s).is_empty(), "nothing comes after the trajectory");
    }
}
