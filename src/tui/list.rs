//! The sample list: its rows, the filters, the search, the sort and the cursor. It knows
//! nothing of the views; `App` asks it what is selected and tells it what changed.

use std::collections::{HashMap, HashSet};

use crate::domain::{Part, Stage, Verdict};
use crate::lint::Code;
use crate::model::Strategy;
use crate::store::ListRow;

/// What the status filter asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Complete,
    Failed,
    InProgress,
}

/// What the lint filter asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFilter {
    /// A complete sample with no finding.
    Clean,
    Errors,
    Warnings,
    Code(Code),
}

/// The list filters; None is "any".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub status: Option<Status>,
    pub strategy: Option<Strategy>,
    /// Samples made up to this part, or failed at it.
    pub stage: Option<Part>,
    pub lint: Option<LintFilter>,
    /// `Some(None)`: not reviewed yet.
    pub verdict: Option<Option<Verdict>>,
    pub stale: Option<bool>,
}

/// One filter, as a row of the filters overlay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    Status,
    Strategy,
    Stage,
    Lint,
    Verdict,
    Stale,
}

impl Filter {
    pub const ALL: [Filter; 6] =
        [Filter::Status, Filter::Strategy, Filter::Stage, Filter::Lint, Filter::Verdict, Filter::Stale];

    pub fn name(self) -> &'static str {
        match self {
            Filter::Status => "status",
            Filter::Strategy => "strategy",
            Filter::Stage => "stage",
            Filter::Lint => "lint",
            Filter::Verdict => "verdict",
            Filter::Stale => "stale",
        }
    }
}

/// Moves `cur` `d` places through `None, all[0], all[1], ...`, round.
fn cycle<T: Copy + PartialEq>(cur: &mut Option<T>, all: &[T], d: i64) {
    let n = all.len() as i64 + 1;
    let at = cur.and_then(|c| all.iter().position(|x| *x == c)).map_or(0, |i| i as i64 + 1);
    let next = (at + d).rem_euclid(n);
    *cur = if next == 0 { None } else { Some(all[next as usize - 1]) };
}

fn lint_choices() -> Vec<LintFilter> {
    let mut v = vec![LintFilter::Clean, LintFilter::Errors, LintFilter::Warnings];
    v.extend(Code::ALL.iter().filter(|c| !c.id().starts_with('L')).map(|c| LintFilter::Code(*c)));
    v
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }

    /// Moves one filter to its next (`d` = 1) or previous (-1) choice.
    pub fn cycle(&mut self, f: Filter, d: i64) {
        match f {
            Filter::Status => cycle(&mut self.status, &[Status::Complete, Status::Failed, Status::InProgress], d),
            Filter::Strategy => {
                cycle(&mut self.strategy, &[Strategy::Sequential, Strategy::ParallelThenSequential], d);
            }
            Filter::Stage => cycle(&mut self.stage, &Part::ALL, d),
            Filter::Lint => cycle(&mut self.lint, &lint_choices(), d),
            Filter::Verdict => cycle(
                &mut self.verdict,
                &[None, Some(Verdict::Accepted), Some(Verdict::Rejected), Some(Verdict::Flagged)],
                d,
            ),
            Filter::Stale => cycle(&mut self.stale, &[true, false], d),
        }
    }

    /// The choice of one filter in words (`any` when it is off).
    pub fn text(&self, f: Filter) -> String {
        let any = || "any".to_string();
        match f {
            Filter::Status => self.status.map_or_else(any, |s| {
                match s {
                    Status::Complete => "complete",
                    Status::Failed => "failed",
                    Status::InProgress => "in progress",
                }
                .into()
            }),
            Filter::Strategy => self.strategy.map_or_else(any, |s| s.as_str().into()),
            Filter::Stage => self.stage.map_or_else(any, |p| p.id().into()),
            Filter::Lint => self.lint.map_or_else(any, |l| match l {
                LintFilter::Clean => "clean".into(),
                LintFilter::Errors => "errors".into(),
                LintFilter::Warnings => "warnings".into(),
                LintFilter::Code(c) => c.id().into(),
            }),
            Filter::Verdict => self.verdict.map_or_else(any, |v| v.map_or("pending", Verdict::as_str).into()),
            Filter::Stale => self.stale.map_or_else(any, |s| if s { "stale" } else { "not stale" }.into()),
        }
    }

    pub fn is_set(&self, f: Filter) -> bool {
        match f {
            Filter::Status => self.status.is_some(),
            Filter::Strategy => self.strategy.is_some(),
            Filter::Stage => self.stage.is_some(),
            Filter::Lint => self.lint.is_some(),
            Filter::Verdict => self.verdict.is_some(),
            Filter::Stale => self.stale.is_some(),
        }
    }

    pub fn passes(&self, r: &ListRow) -> bool {
        let s = &r.summary;
        let status_ok = self.status.is_none_or(|want| match want {
            Status::Complete => s.stage.is_complete(),
            Status::Failed => s.stage.is_failed(),
            Status::InProgress => s.stage.in_progress(),
        });
        let strategy_ok = self.strategy.is_none_or(|want| s.strategy.as_deref() == Some(want.as_str()));
        let stage_ok = self.stage.is_none_or(|want| s.stage.part() == Some(want));
        let lint_ok = self.lint.is_none_or(|want| match want {
            LintFilter::Clean => s.lint_errors == 0 && s.lint_warnings == 0 && s.stage == Stage::Complete,
            LintFilter::Errors => s.lint_errors > 0,
            LintFilter::Warnings => s.lint_warnings > 0,
            LintFilter::Code(c) => s.lint_codes.contains(&c),
        });
        let verdict_ok = self.verdict.is_none_or(|want| r.verdict == want);
        let stale_ok = self.stale.is_none_or(|want| s.stale.is_empty() != want);
        status_ok && strategy_ok && stage_ok && lint_ok && verdict_ok && stale_ok
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Order,
    Turns,
    Calls,
    Lint,
    Verdict,
}

impl SortKey {
    pub fn word(self) -> &'static str {
        match self {
            SortKey::Order => "order",
            SortKey::Turns => "turns",
            SortKey::Calls => "calls",
            SortKey::Lint => "lint findings",
            SortKey::Verdict => "verdict",
        }
    }

    #[must_use]
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Order => SortKey::Turns,
            SortKey::Turns => SortKey::Calls,
            SortKey::Calls => SortKey::Lint,
            SortKey::Lint => SortKey::Verdict,
            SortKey::Verdict => SortKey::Order,
        }
    }
}

/// The list of samples as shown: every row loaded, and the ones the filters, the search
/// and the sort let through, in order.
pub struct SampleList {
    pub rows: Vec<ListRow>,
    /// The first load has come back.
    pub loaded: bool,
    by_id: HashMap<String, usize>,
    /// Indices into `rows`, in the order shown.
    pub visible: Vec<usize>,
    pub cursor: usize,
    pub filters: Filters,
    /// The query and the rows (by rowid) that match it.
    pub search: Option<(String, HashSet<i64>)>,
    pub search_note: String,
    /// The newest search asked of the store, answered or not.
    pub asked: String,
    pub sort: SortKey,
    pub sort_reverse: bool,
    /// The review queue is on: complete samples with no verdict (or, `queue_flagged`, the
    /// flagged ones).
    pub queue: bool,
    pub queue_flagged: bool,
    /// Samples the search index has not reached yet.
    pub unindexed: u64,
    /// Only these samples, named (enter on a reason of the errors panel, or on a group of
    /// the inspect view).
    pub only: Option<(String, HashSet<String>)>,
}

impl Default for SampleList {
    fn default() -> SampleList {
        SampleList {
            rows: Vec::new(),
            loaded: false,
            by_id: HashMap::new(),
            visible: Vec::new(),
            cursor: 0,
            filters: Filters::default(),
            search: None,
            search_note: String::new(),
            asked: String::new(),
            sort: SortKey::Order,
            sort_reverse: false,
            queue: false,
            queue_flagged: false,
            unindexed: 0,
            only: None,
        }
    }
}

impl SampleList {
    pub fn selected(&self) -> Option<&ListRow> {
        self.visible.get(self.cursor).map(|i| &self.rows[*i])
    }

    /// Replaces every row (a reload).
    pub fn set_rows(&mut self, rows: Vec<ListRow>) {
        self.rows = rows;
        self.loaded = true;
        self.by_id = self.rows.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
    }

    /// Puts one row in, replacing the row of the same sample.
    pub fn upsert(&mut self, row: ListRow) {
        if let Some(i) = self.by_id.get(&row.id) {
            self.rows[*i] = row;
        } else {
            self.by_id.insert(row.id.clone(), self.rows.len());
            self.rows.push(row);
        }
    }

    /// No search: none in force, none asked.
    pub fn clear_search(&mut self) {
        self.search = None;
        self.search_note.clear();
        self.asked.clear();
    }

    pub fn row(&self, id: &str) -> Option<&ListRow> {
        self.by_id.get(id).copied().map(|i| &self.rows[i])
    }

    pub fn row_mut(&mut self, id: &str) -> Option<&mut ListRow> {
        self.by_id.get(id).copied().map(|i| &mut self.rows[i])
    }

    pub fn passes(&self, r: &ListRow) -> bool {
        self.filters.passes(r)
            && self.search.as_ref().is_none_or(|(_, ids)| ids.contains(&r.rowid))
            && self.only.as_ref().is_none_or(|(_, ids)| ids.contains(&r.id))
    }

    /// The failed samples with the `stage:reason` each failed for ("unknown" when none
    /// was kept): the one key the errors panel counts and lists by.
    fn failed(&self) -> impl Iterator<Item = (&ListRow, &str)> {
        self.rows
            .iter()
            .filter(|r| r.summary.stage.is_failed())
            .map(|r| (r, r.summary.failure_reason.as_deref().unwrap_or("unknown")))
    }

    /// The samples that failed for `reason` (`stage:reason`).
    pub fn failed_for(&self, reason: &str) -> HashSet<String> {
        self.failed().filter(|(_, why)| *why == reason).map(|(r, _)| r.id.clone()).collect()
    }

    /// Failed samples by `stage:reason`, the most frequent first.
    pub fn failure_reasons(&self) -> Vec<(String, usize)> {
        let mut by: HashMap<&str, usize> = HashMap::new();
        for (_, why) in self.failed() {
            *by.entry(why).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = by.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Applies the filters, the search and the sort; the cursor stays on its sample when
    /// that sample is still listed.
    pub fn refilter(&mut self) {
        let keep = self.selected().map(|r| r.id.clone());
        let mut visible: Vec<usize> = (0..self.rows.len()).filter(|i| self.passes(&self.rows[*i])).collect();
        let rows = &self.rows;
        let verdict_rank = |r: &ListRow| match r.verdict {
            None => 0,
            Some(Verdict::Flagged) => 1,
            Some(Verdict::Rejected) => 2,
            Some(Verdict::Accepted) => 3,
        };
        match self.sort {
            SortKey::Order => {}
            SortKey::Turns => visible.sort_by_key(|i| std::cmp::Reverse(rows[*i].summary.turns)),
            SortKey::Calls => visible.sort_by_key(|i| std::cmp::Reverse(rows[*i].summary.calls)),
            SortKey::Lint => visible.sort_by_key(|i| {
                let s = &rows[*i].summary;
                std::cmp::Reverse((s.lint_errors, s.lint_warnings))
            }),
            SortKey::Verdict => visible.sort_by_key(|i| verdict_rank(&rows[*i])),
        }
        if self.sort_reverse {
            visible.reverse();
        }
        self.visible = visible;
        let pos = keep.as_ref().and_then(|id| self.visible.iter().position(|i| &self.rows[*i].id == id));
        self.cursor = pos.unwrap_or(0).min(self.visible.len().saturating_sub(1));
    }

    /// The words of the search, lowercased, as the views highlight them: the search's
    /// operators (AND, OR, NOT, NEAR), quotes, prefix stars and brackets left out.
    pub fn search_terms(&self) -> Vec<String> {
        let Some((q, _)) = &self.search else { return Vec::new() };
        q.split_whitespace()
            .filter(|w| !matches!(*w, "AND" | "OR" | "NOT" | "NEAR"))
            .map(|w| w.trim_matches(|c: char| matches!(c, '"' | '*' | '(' | ')' | '^')).to_lowercase())
            .filter(|w| w.chars().count() >= 2)
            .collect()
    }

    /// The filters in words, for the list's title ("" when there are none).
    pub fn filter_text(&self) -> String {
        let mut parts: Vec<String> = Filter::ALL
            .into_iter()
            .filter(|f| self.filters.is_set(*f))
            .map(|f| format!("{}={}", f.name(), self.filters.text(f)))
            .collect();
        if let Some((label, ids)) = &self.only {
            parts.push(format!("{label} ({})", ids.len()));
        }
        if let Some((q, ids)) = &self.search {
            parts.push(format!("/{q} ({})", ids.len()));
        }
        parts.join(" ")
    }

    /// Complete samples; reviewed (any verdict); accepted; rejected; flagged.
    pub fn review_progress(&self) -> (usize, usize, usize, usize, usize) {
        let (mut total, mut acc, mut rej, mut flag) = (0, 0, 0, 0);
        for r in self.rows.iter().filter(|r| r.summary.stage.is_complete()) {
            total += 1;
            match r.verdict {
                Some(Verdict::Accepted) => acc += 1,
                Some(Verdict::Rejected) => rej += 1,
                Some(Verdict::Flagged) => flag += 1,
                None => {}
            }
        }
        (total, acc + rej + flag, acc, rej, flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Summary;

    fn row(id: &str, stage: Stage, verdict: Option<Verdict>) -> ListRow {
        ListRow { rowid: 0, id: id.into(), verdict, source: None, summary: Summary { stage, ..Summary::default() } }
    }

    #[test]
    fn the_stage_filter_finds_samples_failed_at_a_part_by_the_step_that_failed() {
        let failed = |at: &str| Stage::from_stored("failed", Some(&format!("{at}:bad_json"))).unwrap();
        let rows = [
            row("a", failed("function_generate"), None),
            row("b", failed("functions"), None),
            row("c", Stage::At(Part::Functions), None),
            row("d", Stage::Complete, None),
            row("e", failed("assistant_agent"), None),
        ];
        let mut f = Filters { stage: Some(Part::Functions), ..Filters::default() };
        let ids = |f: &Filters| rows.iter().filter(|r| f.passes(r)).map(|r| r.id.as_str()).collect::<String>();
        assert_eq!(ids(&f), "abc");
        f.stage = Some(Part::Trajectory);
        assert_eq!(ids(&f), "e", "a complete sample is not at the trajectory stage");
    }

    #[test]
    fn each_filter_cycles_through_every_choice_and_back_to_any() {
        let mut f = Filters::default();
        let mut seen = Vec::new();
        loop {
            f.cycle(Filter::Verdict, 1);
            seen.push(f.text(Filter::Verdict));
            if f.verdict.is_none() {
                break;
            }
        }
        assert_eq!(seen, ["pending", "accepted", "rejected", "flagged", "any"]);
        f.cycle(Filter::Stage, -1);
        assert_eq!(f.stage, Some(Part::Trajectory));
        let r = row("x", Stage::Complete, Some(Verdict::Accepted));
        f = Filters { verdict: Some(None), ..Filters::default() };
        assert!(!f.passes(&r));
        f.verdict = Some(Some(Verdict::Accepted));
        assert!(f.passes(&r));
    }
}
