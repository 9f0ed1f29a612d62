//! `button run --headless`: the pipeline with progress on stderr and a summary at the end.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::llm::Step;
use crate::pipeline::{Event, Outcome, Pipeline, RunSummary, STAGES};

/// Counters folded from the pipeline's events.
#[derive(Default)]
pub struct Progress {
    pub stage_of: HashMap<String, &'static str>,
    pub complete: usize,
    pub failed: usize,
    pub calls_done: u64,
    pub calls_cached: u64,
    pub calls_failed: u64,
    pub retries: u64,
    pub tokens: u64,
    pub in_flight: HashMap<u64, Step>,
    pub errors: BTreeMap<String, u64>,
}

impl Progress {
    pub fn apply(&mut self, e: &Event) {
        match e {
            Event::SampleStage { sample, stage } => {
                self.stage_of.insert(sample.clone(), stage);
            }
            Event::SampleEnded { sample, outcome } => {
                self.stage_of.remove(sample);
                match outcome {
                    Outcome::Complete => self.complete += 1,
                    Outcome::Failed { .. } => self.failed += 1,
                }
            }
            Event::CallStarted { call, step, .. } => {
                self.in_flight.insert(*call, *step);
            }
            Event::CallStreaming { .. } | Event::CallSent { .. } => {}
            Event::CallRetrying { .. } => self.retries += 1,
            Event::CallFinished { call, tokens, cached, .. } => {
                self.in_flight.remove(call);
                self.calls_done += 1;
                self.calls_cached += u64::from(*cached);
                self.tokens += tokens;
            }
            Event::CallFailed { call, reason, .. } => {
                self.in_flight.remove(call);
                self.calls_failed += 1;
                *self.errors.entry(reason.clone()).or_insert(0) += 1;
            }
            Event::RunEnded { .. } => {}
        }
    }

    pub fn line(&self, target: usize, already: usize, elapsed: Duration, calls_per_s: f64) -> String {
        let mut by_stage: BTreeMap<usize, usize> = BTreeMap::new();
        for st in self.stage_of.values() {
            let i = STAGES.iter().position(|s| s == st).unwrap_or(0);
            *by_stage.entry(i).or_insert(0) += 1;
        }
        let stages: Vec<String> = by_stage.iter().map(|(i, n)| format!("{} {n}", STAGES[*i])).collect();
        format!(
            "[{:>5.1}s] samples {}/{} done, {} failed | at: {} | calls {} ({:.0}/s, {} in flight, {} reused) | tokens {} | retries {} | errors {}",
            elapsed.as_secs_f64(),
            already + self.complete + self.failed,
            target,
            self.failed,
            if stages.is_empty() { "-".into() } else { stages.join(", ") },
            self.calls_done,
            calls_per_s,
            self.in_flight.len(),
            self.calls_cached,
            self.tokens,
            self.retries,
            self.calls_failed
        )
    }
}

/// Drives the pipeline to its end, printing progress to stderr: a line redrawn in place on
/// a terminal, a line every two seconds otherwise.
pub async fn drive(mut p: Pipeline, target: usize) -> Result<(RunSummary, Progress), String> {
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut progress = Progress::default();
    let already = p.already_done;
    let period = if tty { Duration::from_millis(200) } else { Duration::from_secs(2) };
    let mut tick = tokio::time::interval(period);
    let mut last_calls = 0u64;
    let mut last_at = Instant::now();
    let ctrl_c = p.control.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            ctrl_c.cancel();
        }
    });
    loop {
        tokio::select! {
            e = p.events.recv() => match e {
                Some(Event::RunEnded { .. }) | None => break,
                Some(e) => progress.apply(&e),
            },
            _ = tick.tick() => {
                let dt = last_at.elapsed().as_secs_f64().max(1e-3);
                let rate = (progress.calls_done - last_calls) as f64 / dt;
                last_calls = progress.calls_done;
                last_at = Instant::now();
                let line = progress.line(target, already, started.elapsed(), rate);
                let mut err = std::io::stderr().lock();
                if tty {
                    let _ = write!(err, "\r\x1b[2K{line}");
                } else {
                    let _ = writeln!(err, "{line}");
                }
            }
        }
    }
    while let Ok(e) = p.events.try_recv() {
        progress.apply(&e);
    }
    let elapsed = started.elapsed();
    let rate = progress.calls_done as f64 / elapsed.as_secs_f64().max(1e-3);
    let mut err = std::io::stderr().lock();
    if tty {
        let _ = writeln!(err, "\r\x1b[2K{}", progress.line(target, already, elapsed, rate));
    } else {
        let _ = writeln!(err, "{}", progress.line(target, already, elapsed, rate));
    }
    drop(err);
    let summary = p.wait().await?;
    Ok((summary, progress))
}
