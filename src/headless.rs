//! `button run --headless`: the pipeline with progress on stderr and a summary at the end.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::domain::Part;
use crate::pipeline::{Event, Pipeline, RunError, RunSummary};
use crate::progress::RunState;

/// The run as the progress line tells it.
pub type Progress = RunState;

/// One progress line: samples, the stages they are at, calls, tokens, retries, errors.
pub fn line(p: &Progress, target: usize, already: usize, elapsed: Duration, calls_per_s: f64) -> String {
    let mut by_stage: BTreeMap<Part, usize> = BTreeMap::new();
    for p in p.stage_of.values() {
        *by_stage.entry(*p).or_insert(0) += 1;
    }
    let stages: Vec<String> = by_stage.iter().map(|(p, n)| format!("{p} {n}")).collect();
    format!(
        "[{:>5.1}s] samples {}/{} done, {} failed | at: {} | calls {} ({:.0}/s, {} in flight, {} reused) | tokens {} | retries {} | re-asks {} ({} rescued) | errors {}",
        elapsed.as_secs_f64(),
        already as u64 + p.complete + p.failed,
        target,
        p.failed,
        if stages.is_empty() { "-".into() } else { stages.join(", ") },
        p.calls_done,
        calls_per_s,
        p.in_flight.len(),
        p.calls_reused,
        p.tokens,
        p.retries,
        p.reasks,
        p.rescued,
        p.calls_failed
    )
}
/// Drives the pipeline to its end, printing progress to stderr: a line redrawn in place on
/// a terminal, a line every two seconds otherwise.
pub async fn drive(mut p: Pipeline, target: usize) -> Result<(RunSummary, Progress), RunError> {
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut progress = Progress::new(target);
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
    // A line of its own, over the progress line redrawn in place.
    let say = |message: &str| {
        let _ = writeln!(std::io::stderr().lock(), "{}{message}", if tty { "\r\x1b[2K" } else { "" });
    };
    loop {
        tokio::select! {
            e = p.events.recv() => match e {
                Some(Event::RunEnded { .. }) | None => break,
                Some(Event::EndpointDown { message }) => {
                    // Nobody is there to resume: stop, leaving the samples unfinished.
                    say(&message);
                    p.control.cancel();
                }
                Some(Event::Notice { message }) => {
                    say(&message);
                }
                Some(e) => progress.apply(&e, started.elapsed()),
            },
            _ = tick.tick() => {
                if let (Some(c), false) = (progress.concurrency, progress.concurrency_note.is_empty()) {
                    progress.limits.push(c);
                }
                let dt = last_at.elapsed().as_secs_f64().max(1e-3);
                let rate = (progress.calls_done - last_calls) as f64 / dt;
                last_calls = progress.calls_done;
                last_at = Instant::now();
                let text = line(&progress, target, already, started.elapsed(), rate);
                let mut err = std::io::stderr().lock();
                if tty {
                    let _ = write!(err, "\r\x1b[2K{text}");
                } else {
                    let _ = writeln!(err, "{text}");
                }
            }
        }
    }
    while let Ok(e) = p.events.try_recv() {
        progress.apply(&e, started.elapsed());
    }
    let elapsed = started.elapsed();
    let rate = progress.calls_done as f64 / elapsed.as_secs_f64().max(1e-3);
    let mut err = std::io::stderr().lock();
    if tty {
        let _ = writeln!(err, "\r\x1b[2K{}", line(&progress, target, already, elapsed, rate));
    } else {
        let _ = writeln!(err, "{}", line(&progress, target, already, elapsed, rate));
    }
    drop(err);
    let summary = p.wait().await?;
    Ok((summary, progress))
}
