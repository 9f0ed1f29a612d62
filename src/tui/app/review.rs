//! Verdicts, the review queue, and moving through the list.

use super::{App, Effect, Filters, Focus, RejectReason, Review, SortKey, Status, StoreFx, Verdict, View};
use std::fmt::Write as _;

use crate::tui::keymap::Action;
use crate::tui::overlay::{Ask, Choice, Cmd, Overlay};

impl App {
    pub(super) fn reviewable(&mut self) -> bool {
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

    pub(super) fn verdict(&mut self, v: Option<Verdict>, reasons: Vec<RejectReason>, fx: &mut Vec<Effect>) {
        self.verdict_with_note(v, reasons, String::new(), fx);
    }

    pub(super) fn verdict_with_note(
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
        fx.push(Effect::Store(StoreFx::SetReview { id, review }));
        self.advance(fx);
    }

    /// The listed samples a verdict for all applies to: complete and not stale (a failed,
    /// unfinished or stale sample has nothing finished to judge). Says so when none is.
    pub(super) fn bulk_ids(&mut self) -> Vec<String> {
        let ids: Vec<String> = self
            .list
            .visible
            .iter()
            .map(|i| &self.list.rows[*i])
            .filter(|r| r.summary.stage.is_complete() && r.summary.stale.is_empty())
            .map(|r| r.id.clone())
            .collect();
        if ids.is_empty() {
            self.toast("no listed sample is complete and up to date: nothing to give a verdict");
        }
        ids
    }

    /// Asks before giving `ids` one verdict, saying how many and whose verdict it replaces.
    pub(super) fn confirm_verdicts(
        &mut self,
        ids: Vec<String>,
        verdict: Verdict,
        reasons: Vec<RejectReason>,
        note: String,
    ) {
        let (mut fresh, mut replaced, mut same) = (0, 0, 0);
        for id in &ids {
            match self.list.row(id).and_then(|r| r.verdict) {
                None => fresh += 1,
                Some(v) if v == verdict => same += 1,
                Some(_) => replaced += 1,
            }
        }
        let n = ids.len();
        let left_out = self.list.visible.len() - n;
        let word = verdict.as_str();
        let why = if reasons.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = reasons
                .iter()
                .filter_map(|r| crate::tui::overlay::REASONS.iter().find(|x| x.0 == *r).map(|x| x.1))
                .collect();
            format!(
                " for {}{}",
                names.join(", "),
                if note.is_empty() { String::new() } else { format!(" (\"{note}\")") }
            )
        };
        let mut text = format!("{n} listed sample{} will be {word}{why}: ", if n == 1 { "" } else { "s" });
        let mut parts = vec![format!("{fresh} without a verdict")];
        if replaced > 0 {
            parts.push(format!("{replaced} whose other verdict is replaced"));
        }
        if same > 0 {
            parts.push(format!("{same} already {word}"));
        }
        text.push_str(&parts.join(", "));
        text.push('.');
        if left_out > 0 {
            let _ = write!(
                text,
                " {left_out} listed sample{} left out: failed, unfinished or stale.",
                if left_out == 1 { " is" } else { "s are" }
            );
        }
        text.push_str(" One u undoes it all.");
        let review = Review { verdict, reasons, note, at: crate::store::now_ms() };
        self.overlay = Some(Overlay::Ask(Box::new(Ask {
            title: format!("{} every listed sample?", if verdict == Verdict::Accepted { "Accept" } else { "Reject" }),
            text,
            choices: vec![Choice {
                action: Action::AskYes,
                label: format!("{} {n} sample{}", verdict_verb(verdict), if n == 1 { "" } else { "s" }),
                cmds: vec![
                    Cmd::Effect(Effect::Store(StoreFx::SetReviews { ids, review: Some(review) })),
                    Cmd::Toast(format!("{n} samples {word} (u undoes it)")),
                ],
            }],
        })));
    }

    /// The next sample: in the review queue the next one still awaiting a verdict.
    pub(super) fn advance(&mut self, fx: &mut Vec<Effect>) {
        if self.list.visible.is_empty() {
            return;
        }
        if self.list.queue {
            let n = self.list.visible.len();
            let want = if self.list.queue_flagged { Some(Verdict::Flagged) } else { None };
            let pending = |app: &App, pos: usize| {
                let r = &app.list.rows[app.list.visible[pos]];
                r.verdict == want && r.summary.stage.is_complete() && r.summary.stale.is_empty()
            };
            let next = (1..=n).map(|d| (self.list.cursor + d) % n).find(|p| pending(self, *p));
            match next {
                Some(p) if p != self.list.cursor || pending(self, p) => self.set_cursor(p, fx),
                _ => {
                    self.list.queue = false;
                    self.toast(if self.list.queue_flagged {
                        "flagged queue done: no sample is flagged any more"
                    } else {
                        "review queue done: every complete sample has a verdict"
                    });
                }
            }
        } else if self.list.cursor + 1 < self.list.visible.len() {
            self.set_cursor(self.list.cursor + 1, fx);
        } else {
            self.toast("that was the last sample of the list");
        }
    }

    /// What the workspace already holds of this seed's run: the target starts at least
    /// there, and the idle pipeline view says so (it is not a run of 0).
    pub(super) fn count_held(&mut self) {
        let prefix = format!("s{}-", self.seed);
        let (mut held, mut complete, mut failed) = (0, 0, 0);
        for r in self.list.rows.iter().filter(|r| r.id.starts_with(&prefix)) {
            held += 1;
            complete += usize::from(r.summary.stage.is_complete());
            failed += usize::from(r.summary.stage.is_failed());
        }
        if held == 0 || self.run.status != crate::progress::RunStatus::Idle {
            return;
        }
        self.target = self.target.max(held);
        self.run.target = self.target;
        self.run.already_done = complete + failed;
        let unfinished = held - complete - failed;
        self.run.message = format!(
            "seed {}: {held} here ({complete} complete, {failed} failed{})",
            self.seed,
            if unfinished > 0 { format!(", {unfinished} to resume") } else { String::new() }
        );
    }

    /// The review queue (`flagged`: of the flagged samples).
    pub(super) fn start_queue(&mut self, flagged: bool, fx: &mut Vec<Effect>) {
        // Stale samples wait for their regeneration (g): what would be judged is about to change.
        let verdict = Some(if flagged { Some(Verdict::Flagged) } else { None });
        self.list.filters =
            Filters { status: Some(Status::Complete), verdict, stale: Some(false), ..Filters::default() };
        self.list.clear_search();
        self.list.sort = SortKey::Order;
        self.list.sort_reverse = false;
        self.refilter(fx);
        if self.list.visible.is_empty() {
            self.list.filters = Filters::default();
            self.refilter(fx);
            self.toast(if flagged {
                "the flagged queue is empty: no complete sample is flagged"
            } else {
                "the review queue is empty: every complete sample has a verdict"
            });
            return;
        }
        self.list.queue = true;
        self.list.queue_flagged = flagged;
        self.view = View::Trajectory;
        self.set_cursor(0, fx);
    }

    pub(super) fn move_or_scroll(&mut self, d: i64, fx: &mut Vec<Effect>) {
        if self.focus == Focus::Lineage && self.view == View::Samples {
            self.lineage_part = self.lineage_part.step_by(d);
            self.lineage_scroll = 0;
        } else {
            let c = (self.list.cursor as i64 + d).clamp(0, self.list.visible.len().saturating_sub(1) as i64) as usize;
            self.set_cursor(c, fx);
        }
    }

    pub(super) fn page(&mut self, d: i64, fx: &mut Vec<Effect>) {
        if self.focus == Focus::Lineage && self.view == View::Samples {
            self.lineage_scroll =
                if d > 0 { self.lineage_scroll.saturating_add(10) } else { self.lineage_scroll.saturating_sub(10) };
        } else {
            let h = i64::from(self.areas.list.height.saturating_sub(3).max(1));
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
            fx.push(Effect::Store(StoreFx::LoadSample(id)));
        }
    }

    /// The turns of the shown sample that match the search.
    pub fn matching_turns(&self) -> Vec<usize> {
        let terms = self.list.search_terms();
        let Some(t) = self.shown_detail().and_then(|d| d.sample.trajectory.as_ref()) else { return Vec::new() };
        if terms.is_empty() {
            return Vec::new();
        }
        t.messages
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                let text = serde_json::to_string(m).unwrap_or_default().to_lowercase();
                terms.iter().any(|w| text.contains(w.as_str()))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// n/N in the trajectory with a search: the next (previous) turn that matches, and past
    /// the last (first) one, on into the next (previous) listed sample.
    pub(super) fn next_match(&mut self, forward: bool, fx: &mut Vec<Effect>) {
        if self.list.search.is_none() {
            if forward {
                return;
            }
            // N without a search steps back a turn, as p does.
            self.turn = self.turn.saturating_sub(1);
            self.traj_scroll = u16::MAX;
            return;
        }
        let turns = self.matching_turns();
        let next = if forward {
            turns.iter().find(|t| **t > self.turn).copied()
        } else {
            turns.iter().rev().find(|t| **t < self.turn).copied()
        };
        if let Some(t) = next {
            self.turn = t;
            self.traj_scroll = u16::MAX;
            return;
        }
        let c = self.list.cursor;
        let to = if forward { (c + 1 < self.list.visible.len()).then_some(c + 1) } else { c.checked_sub(1) };
        match to {
            Some(to) => {
                self.pending_match = Some(forward);
                self.set_cursor(to, fx);
            }
            None => self.toast(if forward {
                "the last match: no listed sample after this one"
            } else {
                "the first match: no listed sample before this one"
            }),
        }
    }

    /// Applies the filters, the search and the sort; the cursor stays on its sample when
    /// that sample is still listed.
    pub fn refilter(&mut self, fx: &mut Vec<Effect>) {
        self.list.refilter();
        match self.selected().map(|r| r.id.clone()) {
            Some(id) if self.detail.as_ref().map(|d| &d.id) != Some(&id) => {
                fx.push(Effect::Store(StoreFx::LoadSample(id)));
            }
            Some(_) => {}
            None => self.detail = None,
        }
    }
}

fn verdict_verb(v: Verdict) -> &'static str {
    match v {
        Verdict::Accepted => "accept",
        Verdict::Rejected => "reject",
        Verdict::Flagged => "flag",
    }
}
