//! A run as its observers see it: counters, stages, calls in flight and errors folded from
//! the pipeline's events. The TUI's pipeline view and `run --headless` share it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use crate::domain::Part;
use crate::domain::Step;
use crate::pipeline::{Event, Outcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Idle,
    Starting,
    Running,
    Paused,
    Cancelling,
    Finished,
    Cancelled,
    Failed,
}

impl RunStatus {
    pub fn in_flight(self) -> bool {
        matches!(self, RunStatus::Starting | RunStatus::Running | RunStatus::Paused | RunStatus::Cancelling)
    }
    pub fn word(self) -> &'static str {
        match self {
            RunStatus::Idle => "idle",
            RunStatus::Starting => "starting",
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::Cancelling => "cancelling",
            RunStatus::Finished => "finished",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Failed => "failed to start",
        }
    }
}

pub struct Flight {
    pub step: Step,
    pub sample: String,
    /// When it was asked for; `sent` once it got a slot under the concurrency limit.
    pub started: Duration,
    pub sent: Option<Duration>,
    pub chars: usize,
    pub attempt: u32,
}

/// The pipeline as the pipeline view shows it, folded from the run's events.
pub struct RunState {
    pub status: RunStatus,
    pub target: usize,
    pub already_done: usize,
    pub concurrency: Option<usize>,
    /// Why the adaptive limit last changed (`concurrency = "auto"`).
    pub concurrency_note: String,
    /// The limit at each second of the run, while it is adaptive.
    pub limits: Vec<usize>,
    pub message: String,
    pub stage_of: HashMap<String, Part>,
    pub entered: [u64; 6],
    pub failed_at: [u64; 6],
    pub filtered_out: u64,
    pub complete: u64,
    pub failed: u64,
    /// Samples the run stopped before they ended (a cancel): unfinished, not failed; the
    /// next run resumes them.
    pub stopped: u64,
    pub calls_done: u64,
    pub calls_failed: u64,
    pub calls_reused: u64,
    pub retries: u64,
    /// Replies that could not be used; re-asks made after them, and of those the ones
    /// whose reply could (each per step too).
    pub unusable: u64,
    pub reasks: u64,
    pub rescued: u64,
    pub reasks_by_step: BTreeMap<Step, (u64, u64)>,
    pub tokens: u64,
    pub in_flight: HashMap<u64, Flight>,
    /// Failed calls by reason, and failed samples by stage:reason.
    pub errors: BTreeMap<String, u64>,
    pub failures: BTreeMap<String, u64>,
    /// Calls and tokens finished in each of the last 60 seconds, newest last.
    pub calls_per_s: VecDeque<u64>,
    pub tokens_per_s: VecDeque<u64>,
    pub(crate) bucket_start: Duration,
    bucket_calls: u64,
    bucket_tokens: u64,
    pub started_at: Option<Duration>,
    pub ended_at: Option<Duration>,
    /// Time spent paused, and since when it is paused now: the elapsed time leaves it out.
    pub paused_for: Duration,
    pub paused_since: Option<Duration>,
}

impl RunState {
    pub fn new(target: usize) -> RunState {
        RunState {
            status: RunStatus::Idle,
            target,
            already_done: 0,
            concurrency: None,
            concurrency_note: String::new(),
            limits: Vec::new(),
            message: String::new(),
            stage_of: HashMap::new(),
            entered: [0; 6],
            failed_at: [0; 6],
            filtered_out: 0,
            complete: 0,
            failed: 0,
            stopped: 0,
            calls_done: 0,
            calls_failed: 0,
            calls_reused: 0,
            retries: 0,
            unusable: 0,
            reasks: 0,
            rescued: 0,
            reasks_by_step: BTreeMap::new(),
            tokens: 0,
            in_flight: HashMap::new(),
            errors: BTreeMap::new(),
            failures: BTreeMap::new(),
            calls_per_s: VecDeque::new(),
            tokens_per_s: VecDeque::new(),
            bucket_start: Duration::ZERO,
            bucket_calls: 0,
            bucket_tokens: 0,
            started_at: None,
            ended_at: None,
            paused_for: Duration::ZERO,
            paused_since: None,
        }
    }

    /// Pauses or resumes the count: the status and the paused time.
    pub fn set_paused(&mut self, paused: bool, now: Duration) {
        match (paused, self.paused_since) {
            (true, None) => self.paused_since = Some(now),
            (false, Some(since)) => {
                self.paused_for += now.saturating_sub(since);
                self.paused_since = None;
            }
            _ => {}
        }
        if self.status.in_flight() {
            self.status = if paused { RunStatus::Paused } else { RunStatus::Running };
        }
    }

    /// How long the run has been running (or ran): paused time left out.
    pub fn elapsed(&self, now: Duration) -> Duration {
        let Some(start) = self.started_at else { return Duration::ZERO };
        let end = self.ended_at.unwrap_or(now);
        let paused_now = self.paused_since.map_or(Duration::ZERO, |s| end.saturating_sub(s));
        end.saturating_sub(start).saturating_sub(self.paused_for).saturating_sub(paused_now)
    }

    /// Per stage: waiting, in flight, done, failed, filtered out.
    pub fn stage_counts(&self) -> [[u64; 5]; 6] {
        let mut here = [0u64; 6];
        for p in self.stage_of.values() {
            here[p.index()] += 1;
        }
        let todo = self.target.saturating_sub(self.already_done) as u64;
        let mut lost_before = 0u64;
        let mut out = [[0u64; 5]; 6];
        for part in Part::ALL {
            let i = part.index();
            let filtered = if part == Part::Filter { self.filtered_out } else { 0 };
            let failed = self.failed_at[i] - filtered.min(self.failed_at[i]);
            let done = self.entered[i].saturating_sub(here[i] + self.failed_at[i]);
            let waiting = todo.saturating_sub(self.entered[i] + lost_before);
            out[i] = [waiting, here[i], done, failed, filtered];
            lost_before += self.failed_at[i];
        }
        out
    }

    /// Folds one event in; `now` is the time since the observer started.
    pub fn apply(&mut self, e: &Event, now: Duration) {
        match e {
            Event::SampleStage { sample, stage } => {
                if self.stage_of.get(sample) != Some(stage) {
                    self.entered[stage.index()] += 1;
                    self.stage_of.insert(sample.clone(), *stage);
                }
            }
            Event::SampleEnded { sample, outcome } => {
                let at = self.stage_of.remove(sample);
                match outcome {
                    Outcome::Complete => self.complete += 1,
                    Outcome::Stopped => self.stopped += 1,
                    Outcome::Failed { stage, reason } => {
                        self.failed += 1;
                        let i = at.or_else(|| Part::of_failure(stage)).unwrap_or(Part::Trajectory).index();
                        if at.is_none() {
                            self.entered[i] += 1;
                        }
                        self.failed_at[i] += 1;
                        if reason == "filtered_out" {
                            self.filtered_out += 1;
                        }
                        *self.failures.entry(format!("{stage}:{reason}")).or_insert(0) += 1;
                    }
                }
            }
            Event::CallStarted { call, step, sample } => {
                self.in_flight.insert(
                    *call,
                    Flight { step: *step, sample: sample.clone(), started: now, sent: None, chars: 0, attempt: 1 },
                );
            }
            Event::CallSent { call } => {
                if let Some(f) = self.in_flight.get_mut(call) {
                    f.sent = Some(now);
                }
            }
            Event::CallStreaming { call, chars } => {
                if let Some(f) = self.in_flight.get_mut(call) {
                    f.chars = *chars;
                }
            }
            Event::CallRetrying { call, attempt, .. } => {
                self.retries += 1;
                if let Some(f) = self.in_flight.get_mut(call) {
                    f.attempt = *attempt + 1;
                }
            }
            Event::CallFinished { call, step, tokens, cached, reask, usable, .. } => {
                self.in_flight.remove(call);
                self.unusable += u64::from(!*usable);
                if *reask > 0 {
                    self.reasks += 1;
                    self.rescued += u64::from(*usable);
                    let e = self.reasks_by_step.entry(*step).or_insert((0, 0));
                    e.0 += 1;
                    e.1 += u64::from(*usable);
                }
                self.calls_done += 1;
                self.calls_reused += u64::from(*cached);
                self.tokens += tokens;
                self.bucket_calls += 1;
                self.bucket_tokens += tokens;
            }
            Event::CallFailed { call, reason, .. } => {
                self.in_flight.remove(call);
                self.calls_failed += 1;
                *self.errors.entry(reason.clone()).or_insert(0) += 1;
            }
            Event::Notice { message } => self.message.clone_from(message),
            Event::Concurrency { limit, why } => {
                self.concurrency = Some(*limit);
                self.concurrency_note.clone_from(why);
            }
            Event::EndpointDown { message } => {
                self.set_paused(true, now);
                self.message = format!("{message}; the run is paused (p resumes)");
            }
            Event::RunStopped { reason } => {
                self.status = RunStatus::Cancelling;
                self.message.clone_from(reason);
            }
            Event::RunEnded { .. } => {}
        }
    }

    /// Where an adaptive limit settled: its mean over the second half of the run.
    pub fn settled_limit(&self) -> Option<f64> {
        let half = &self.limits[self.limits.len() / 2..];
        (!half.is_empty()).then(|| half.iter().sum::<usize>() as f64 / half.len() as f64)
    }

    /// Closes the per-second buckets up to `now`.
    pub fn tick(&mut self, now: Duration) {
        while now >= self.bucket_start + Duration::from_secs(1) {
            if self.status.in_flight() {
                if let (Some(c), false) = (self.concurrency, self.concurrency_note.is_empty()) {
                    self.limits.push(c);
                }
                self.calls_per_s.push_back(std::mem::take(&mut self.bucket_calls));
                self.tokens_per_s.push_back(std::mem::take(&mut self.bucket_tokens));
                while self.calls_per_s.len() > 60 {
                    self.calls_per_s.pop_front();
                    self.tokens_per_s.pop_front();
                }
            }
            self.bucket_start += Duration::from_secs(1);
            if now >= self.bucket_start + Duration::from_secs(5) {
                self.bucket_start = now;
            }
        }
    }
}
