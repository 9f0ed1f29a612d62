//! The BUTTON stages and the scheduler. Each sample moves through the stages on its own
//! (no barrier: one sample can be in its dialogue while another gets its atomic task). The
//! pipeline emits events and hands what to persist to one writer; it knows nothing of the
//! terminal. Finished LLM calls are reused from the workspace (keyed by a hash of the
//! request), so a resumed run asks nothing twice and, being deterministic, ends where an
//! uninterrupted run would.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio::sync::{OnceCell, Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::domain::{self, Part, Step};
use crate::formats::button::message_text;
use crate::llm::{CallProgress, ChatMessage, ChatRequest};
use crate::model::{
    Call, Composition, Failure, FilterVerdict, FunctionDef, Message, Origin, Sample, Strategy, SubTaskFunctions,
    ToolResult, Trajectory,
};
use crate::parse;
use crate::prompts::Prompts;
use crate::store::{CallRecord, NewSample, Store, now_ms};

#[derive(Clone, Debug)]
pub struct RunConfig {
    /// How many samples the workspace should hold for this seed.
    pub samples: usize,
    pub seed: u64,
    pub parallel: bool,
    pub turn_limit: usize,
    /// Share of compositions made with the parallel-then-sequential strategy.
    pub parallel_mix: f64,
    /// Atomic tasks (so samples) per scenario.
    pub atomic_per_scenario: usize,
    /// Token-overlap similarity above which two scenarios count as duplicates.
    pub dedupe_threshold: f64,
    /// Calls in a row that find the endpoint down before the run pauses (the circuit
    /// breaker); headless, the run then stops.
    pub outage_after: u32,
    /// Samples of this seed that failed are made again (their failed attempt kept as a
    /// version); without it they count as done.
    pub retry_failed: bool,
    /// Re-asks per step after a reply that can't be used (doesn't parse, or fails the
    /// step's checks) before the sample fails.
    pub reasks: u32,
    /// Calls a generated trajectory must make before its final answer (the paper's shape).
    pub min_calls: usize,
    /// Whether JSON steps send the JSON Schema of their reply as `response_format`.
    pub structured_output: crate::llm::StructuredOutput,
    /// Samples in progress at once. Many more than the calls in flight: each sample waits
    /// on one call at a time, and with many under way they all finish near the end together,
    /// so the last minutes are not one long chain of calls with the rest idle.
    pub active_samples: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            samples: 20,
            seed: 0,
            parallel: true,
            turn_limit: 8,
            parallel_mix: 0.5,
            atomic_per_scenario: 2,
            dedupe_threshold: 0.8,
            outage_after: 8,
            retry_failed: false,
            reasks: 2,
            min_calls: 2,
            structured_output: crate::llm::StructuredOutput::Auto,
            active_samples: 1024,
        }
    }
}

/// Where scenarios come from: plain lines, or chat logs whose scenario the LLM extracts.
#[derive(Clone, Debug)]
pub enum ScenarioSource {
    Text(String),
    ChatLog(String),
}

/// What the pipeline tells its observers.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A sample started on making this part.
    SampleStage {
        sample: String,
        stage: Part,
    },
    SampleEnded {
        sample: String,
        outcome: Outcome,
    },
    /// A call was asked for; it may wait for a slot under the concurrency limit.
    CallStarted {
        call: u64,
        step: Step,
        sample: String,
    },
    /// The call got its slot under the concurrency limit and went out.
    CallSent {
        call: u64,
    },
    CallStreaming {
        call: u64,
        chars: usize,
    },
    CallRetrying {
        call: u64,
        attempt: u32,
        wait_ms: u64,
        error: String,
    },
    CallFinished {
        call: u64,
        step: Step,
        latency_ms: u64,
        tokens: u64,
        cached: bool,
        /// 0 for a step's first ask, then 1, 2, ... for its re-asks.
        reask: u32,
        /// Whether the reply could be used; a reply that can't is asked again (within
        /// the budget) or fails its sample.
        usable: bool,
    },
    CallFailed {
        call: u64,
        step: Step,
        reason: String,
        error: String,
    },
    /// Something the run decided that a person should know (structured outputs turned off
    /// for an endpoint that rejects them).
    Notice {
        message: String,
    },
    /// The limit of calls in flight changed on its own (`concurrency = "auto"`), and why.
    Concurrency {
        limit: usize,
        why: String,
    },
    /// The circuit breaker tripped: calls in a row found the endpoint down, and the run is
    /// paused until resumed.
    EndpointDown {
        message: String,
    },
    /// The run stopped on its own, with the one sentence that says why (the workspace
    /// can't be written); no call goes out after it.
    RunStopped {
        reason: String,
    },
    RunEnded {
        cancelled: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    Failed {
        stage: String,
        reason: String,
    },
    /// The run stopped (a cancel, an outage, a workspace that can't be written) before the
    /// sample ended; it stays unfinished and the next run resumes it.
    Stopped,
}

enum Persist {
    Sample(Box<NewSample>),
    Call(Box<CallRecord>),
    /// A version kept beside the sample: the one a regeneration replaces, or a fork; with
    /// the time it was taken (before any call that makes its replacement starts).
    Version(Box<Sample>, &'static str, i64),
}

struct Ctx {
    backend: Arc<Backend>,
    prompts: Prompts,
    cfg: RunConfig,
    run_id: String,
    cache: HashMap<String, String>,
    events: mpsc::UnboundedSender<Event>,
    persist: mpsc::UnboundedSender<Persist>,
    pause: Arc<watch::Sender<bool>>,
    /// Calls in a row that found the endpoint down.
    outages: std::sync::atomic::AtomicU32,
    /// What the circuit breaker said when it last tripped.
    down: Mutex<Option<String>>,
    /// How many failed attempts each retried sample has behind it; varies its request seeds.
    rounds: HashMap<String, u32>,
    next_call: std::sync::atomic::AtomicU64,
    /// The recorded calls the jobs ask again, by id.
    rerun_calls: HashMap<i64, crate::store::CallRow>,
    /// The concurrency limit last reported, to report a change made by the client.
    limit_seen: std::sync::atomic::AtomicUsize,
    sources: Vec<ScenarioSource>,
    scenarios: Vec<OnceCell<Result<String, Failure>>>,
    seen_scenarios: Mutex<Vec<String>>,
    run_cancel: CancellationToken,
    /// One token per sample in progress (a child of the run's), to cancel one sample alone.
    sample_cancel: Arc<Mutex<HashMap<String, CancellationToken>>>,
}

fn fail(stage: &str, reason: impl Into<String>, detail: impl Into<String>) -> Failure {
    Failure { stage: stage.into(), reason: reason.into(), detail: detail.into() }
}

/// Lower-case words for the near-duplicate check.
fn tokens(s: &str) -> HashSet<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Jaccard similarity of the word sets, after normalizing case and punctuation.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (ta, tb) = (tokens(a), tokens(b));
    if ta.is_empty() && tb.is_empty() {
        return 1.0;
    }
    ta.intersection(&tb).count() as f64 / ta.union(&tb).count() as f64
}

/// The `seed` of a request: from the run's seed, the sample, the step, the sample's retry
/// round and the step's re-ask, so no two samples send the same request, and a retried
/// sample or a re-asked step asks afresh.
pub fn request_seed(run_seed: u64, sample: &str, step: Step, round: u32, reask: u32) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&run_seed.to_le_bytes());
    h.update(sample.as_bytes());
    h.update(b"\0");
    h.update(step.id().as_bytes());
    h.update(&round.to_le_bytes());
    if reask > 0 {
        h.update(b"\0reask");
        h.update(&reask.to_le_bytes());
    }
    seed_of(&h.finalize())
}

/// A seed from a hash, in 31 bits: every server takes it as it is (llama.cpp's seed is
/// 32-bit), so the seed a request carries is the one the server (and the simulator) sees.
fn seed_of(h: &blake3::Hash) -> u64 {
    u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes")) & 0x7fff_ffff
}

fn rerun_seed(call: i64, prompt: &str) -> u64 {
    seed_of(&blake3::hash(format!("rerun {call}\0{prompt}").as_bytes()))
}

pub fn sample_id(seed: u64, index: usize) -> String {
    format!("s{seed}-{index:06}")
}

impl Ctx {
    /// One step asked of the LLM, its reply parsed and checked. A reply that can't be used
    /// is asked again, up to `reasks` times: the first re-ask shows the model its reply and
    /// what was wrong with it, a later one asks afresh (another seed). Every attempt is a
    /// recorded call with its re-ask number, so a resumed run reuses them all. The sample
    /// fails only when the budget is spent, with the last reason.
    async fn call<T: serde::Serialize>(
        &self,
        step: Step,
        sample: &str,
        messages: Vec<ChatMessage>,
        context: Option<&Value>,
        parse: impl Fn(&str) -> parse::Result<T> + Sync,
    ) -> Result<(T, String), Failure> {
        let vetted = |reply: &str| {
            let v = parse(reply)?;
            vet(step, &v, &messages, context)?;
            Ok(v)
        };
        let mut last: Option<(String, parse::ParseError)> = None;
        for reask in 0..=self.cfg.reasks {
            let asked = reask_messages(step, &messages, reask, last.as_ref().map(|(r, e)| (r.as_str(), e)));
            match self.call_once(step, sample, asked, context, reask, &vetted).await? {
                Ok(done) => return Ok(done),
                Err(miss) => {
                    tracing::info!(
                        sample,
                        step = step.id(),
                        reask,
                        reason = miss.1.reason,
                        "reply unusable: {}",
                        miss.1.detail
                    );
                    last = Some(miss);
                }
            }
        }
        let (_, e) = last.expect("at least one attempt");
        let detail = if self.cfg.reasks == 0 {
            e.detail
        } else {
            format!("{} (the last of {} asks)", e.detail, self.cfg.reasks + 1)
        };
        tracing::warn!(sample, step = step.id(), reason = e.reason, "step failed: {detail}");
        Err(fail(step.id(), e.reason, detail))
    }

    /// One ask of a step: the reply parsed and checked, or what was wrong with it (with the
    /// reply); `Err` when the call itself failed. A call that finds the endpoint down does
    /// not fail its sample: it is asked again, and after `outage_after` such calls in a row
    /// the run pauses (the circuit breaker) until resumed.
    #[allow(clippy::too_many_lines)]
    async fn call_once<T: serde::Serialize>(
        &self,
        step: Step,
        sample: &str,
        messages: Vec<ChatMessage>,
        context: Option<&Value>,
        reask: u32,
        parse: &(dyn Fn(&str) -> parse::Result<T> + Sync),
    ) -> Result<Result<(T, String), (String, parse::ParseError)>, Failure> {
        let round = self.rounds.get(sample).copied().unwrap_or(0);
        let seed = request_seed(self.cfg.seed, sample, step, round, reask);
        let response_format = match self.cfg.structured_output {
            crate::llm::StructuredOutput::Off => None,
            _ => parse::reply_format(step, context),
        };
        let req = ChatRequest {
            step,
            sample_id: sample.to_string(),
            messages,
            response_format,
            seed: Some(seed),
            max_tokens: Some(step.default_max_tokens()),
        };
        let hash = req.hash(self.backend.model());
        let call = self.next_call.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let judged = |reply: &String| match parse(reply) {
            Ok(v) => Ok((v, reply.clone())),
            Err(e) => Err((reply.clone(), e)),
        };
        let finished = |latency_ms: u64, tokens: u64, cached: bool, usable: bool| {
            let _ = self.events.send(Event::CallFinished { call, step, latency_ms, tokens, cached, reask, usable });
        };
        if let Some(reply) = self.cache.get(&hash) {
            let r = judged(reply);
            finished(0, 0, true, r.is_ok());
            return Ok(r);
        }
        let cancel = self.sample_token(sample);
        let mut outage_tries = 0u32;
        loop {
            self.wait_while_paused(&cancel).await;
            let _ = self.events.send(Event::CallStarted { call, step, sample: sample.to_string() });
            let asked = Instant::now();
            let sent = Arc::new(std::sync::OnceLock::new());
            let started_at = now_ms();
            let events = self.events.clone();
            let sent_at = sent.clone();
            let progress = move |p: CallProgress| {
                let _ = events.send(match p {
                    CallProgress::Sent => {
                        let _ = sent_at.set(Instant::now());
                        Event::CallSent { call }
                    }
                    CallProgress::Streaming { chars } => Event::CallStreaming { call, chars },
                    CallProgress::Retrying { attempt, wait_ms, error } => {
                        Event::CallRetrying { call, attempt, wait_ms, error }
                    }
                    CallProgress::Notice(message) => Event::Notice { message },
                });
            };
            let result = self.backend.complete(&req, &cancel, &progress).await;
            self.report_limit();
            // The time on the wire, from when the call got its slot; the wait for the slot
            // is kept apart.
            let on_wire = sent.get().copied().unwrap_or(asked);
            let latency_ms = on_wire.elapsed().as_millis() as u64;
            let wait_ms = on_wire.duration_since(asked).as_millis() as u64;
            let mut record = CallRecord {
                request_hash: hash.clone(),
                run_id: self.run_id.clone(),
                sample_id: sample.to_string(),
                step: step.id().to_string(),
                template_version: self.prompts.info(step).version.clone(),
                model: self.backend.model().to_string(),
                prompt: serde_json::to_string(&req.messages).expect("messages serialize"),
                context: context.map(Value::to_string),
                latency_ms,
                wait_ms,
                reask,
                started_at,
                finished_at: now_ms(),
                ..CallRecord::default()
            };
            match result {
                Ok(reply) => {
                    self.outages.store(0, std::sync::atomic::Ordering::SeqCst);
                    record.endpoint.clone_from(&reply.endpoint);
                    record.raw_reply = Some(reply.content.clone());
                    record.prompt_tokens = reply.usage.prompt_tokens;
                    record.completion_tokens = reply.usage.completion_tokens;
                    record.attempts = reply.attempts;
                    let tokens = reply.usage.prompt_tokens + reply.usage.completion_tokens;
                    let judged = judged(&reply.content);
                    record.parse_ok = Some(judged.is_ok());
                    record.parse_result = Some(match &judged {
                        Ok((v, _)) => serde_json::to_string(v).expect("parsed values serialize"),
                        Err((_, e)) => e.to_string(),
                    });
                    let _ = self.persist.send(Persist::Call(Box::new(record)));
                    finished(latency_ms, tokens, false, judged.is_ok());
                    return Ok(judged);
                }
                Err(e) => {
                    record.error = Some(e.to_string());
                    let _ = self.persist.send(Persist::Call(Box::new(record)));
                    let reason = format!("llm_{}", e.reason());
                    let _ = self.events.send(Event::CallFailed {
                        call,
                        step,
                        reason: reason.clone(),
                        error: e.to_string(),
                    });
                    if e.is_outage() && !cancel.is_cancelled() {
                        outage_tries += 1;
                        let in_a_row = self.outages.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        if in_a_row == self.cfg.outage_after {
                            // Trip once per run of failures; a resume starts the count again.
                            set_paused(&self.pause, &self.backend, true);
                            let message = format!(
                                "the endpoint looks down: {in_a_row} calls in a row failed, the last with \"{e}\"; \
                                 the samples in progress stay unfinished"
                            );
                            *self.down.lock().expect("not poisoned") = Some(message.clone());
                            let _ = self.events.send(Event::EndpointDown { message });
                        }
                        if *self.pause.borrow() {
                            outage_tries = 0;
                            continue;
                        }
                        if outage_tries < self.cfg.outage_after {
                            continue;
                        }
                    }
                    return Err(fail(step.id(), reason, e.to_string()));
                }
            }
        }
    }

    /// Tells the observers when the adaptive concurrency limit moved.
    fn report_limit(&self) {
        let Some(limit) = self.backend.concurrency() else { return };
        let seen = self.limit_seen.swap(limit, std::sync::atomic::Ordering::SeqCst);
        if seen != limit && seen != 0 {
            let why = self.backend.concurrency_note();
            if !why.is_empty() {
                let _ = self.events.send(Event::Concurrency { limit, why });
            }
        }
    }

    /// Holds a call while the run is paused; a resume starts the outage count again.
    async fn wait_while_paused(&self, cancel: &CancellationToken) {
        let mut paused = self.pause.subscribe();
        if !*paused.borrow() {
            return;
        }
        while *paused.borrow_and_update() {
            tokio::select! {
                r = paused.changed() => if r.is_err() { return },
                () = cancel.cancelled() => return,
            }
        }
        self.outages.store(0, std::sync::atomic::Ordering::SeqCst);
    }

    fn sample_token(&self, sample: &str) -> CancellationToken {
        let mut map = self.sample_cancel.lock().expect("not poisoned");
        map.entry(sample.to_string()).or_insert_with(|| self.run_cancel.child_token()).clone()
    }

    fn render(&self, step: Step, ctx: Value) -> Result<String, Failure> {
        self.prompts.render(step, &ctx).map_err(|e| fail(step.id(), "prompt_error", e.to_string()))
    }

    /// Asks one step with one rendered prompt and parses the reply.
    async fn ask<T: serde::Serialize>(
        &self,
        step: Step,
        sample: &str,
        ctx: Value,
        parse: impl Fn(&str) -> parse::Result<T> + Sync,
    ) -> Result<T, Failure> {
        let role = if matches!(step, Step::AssistantAgent) { "system" } else { "user" };
        let prompt = self.render(step, ctx.clone())?;
        Ok(self.call(step, sample, vec![ChatMessage::new(role, prompt)], Some(&ctx), parse).await?.0)
    }

    /// The scenario at `index` of the pool: a source line, a chat log's extracted scenario,
    /// or an expansion of a source (K per source), computed once.
    async fn scenario(&self, index: usize) -> Result<String, Failure> {
        let cell = &self.scenarios[index];
        cell.get_or_init(|| async move {
            let n = self.sources.len();
            let key = format!("scenario-{index}");
            let base = match &self.sources[index % n] {
                ScenarioSource::Text(t) => t.clone(),
                ScenarioSource::ChatLog(log) => {
                    self.ask(Step::ScenarioExtract, &key, json!({"conversation": log}), parse::scenario_extract).await?
                }
            };
            if index < n {
                return Ok(base);
            }
            for attempt in 0..3 {
                let key = format!("{key}-{attempt}");
                let expanded =
                    self.ask(Step::ScenarioExpand, &key, json!({"scenario": base}), parse::scenario_expand).await?;
                let mut seen = self.seen_scenarios.lock().expect("not poisoned");
                let dup = seen.iter().any(|s| similarity(s, &expanded) >= self.cfg.dedupe_threshold);
                if !dup {
                    seen.push(expanded.clone());
                    return Ok(expanded);
                }
            }
            Err(fail("scenario", "duplicate_scenario", format!("every expansion of {base:?} repeats a known scenario")))
        })
        .await
        .clone()
    }

    fn save(&self, sample: &Sample) {
        let source = format!("run {} seed {}", self.run_id, self.cfg.seed);
        let _ = self.persist.send(Persist::Sample(Box::new(NewSample::new(sample, source))));
    }
}

/// What re-ask `reask` of a step sends: the first (`1`) shows the model its last reply and
/// what was wrong with it; the first ask and later re-asks send the step's messages as they
/// are (a later re-ask differs from the first ask by its seed).
pub fn reask_messages(
    step: Step,
    messages: &[ChatMessage],
    reask: u32,
    last: Option<(&str, &parse::ParseError)>,
) -> Vec<ChatMessage> {
    let mut m = messages.to_vec();
    if let (1, Some((reply, e))) = (reask, last) {
        m.push(ChatMessage::new("assistant", reply));
        m.push(ChatMessage::new("user", feedback(step, e)));
    }
    m
}

/// What the model is told when its reply can't be used, in the first re-ask.
fn feedback(step: Step, e: &parse::ParseError) -> String {
    format!(
        "{} {} ({}). Answer again in the shape the instructions ask for ({}), with your own content: nothing \
         copied from the instructions' example or placeholders.",
        parse::REASK_OPENING,
        e.detail,
        e.reason,
        parse::shape(step)
    )
}

/// The checks on a parsed reply beyond its shape: no template placeholder, no copy of the
/// prompt's example, no refusal, in the fields where quality is decided.
fn vet<T: serde::Serialize>(step: Step, v: &T, messages: &[ChatMessage], context: Option<&Value>) -> parse::Result<()> {
    let value = serde_json::to_value(v).expect("parsed values serialize");
    let prompt = messages.first().map_or("", |m| m.content.as_str());
    let mut inputs = String::new();
    if let Some(c) = context {
        parse::strings(c, &mut inputs);
    }
    for m in messages.iter().skip(1) {
        inputs.push('\n');
        inputs.push_str(&m.content);
    }
    parse::vet(step, &value, prompt, &inputs)
}

fn strategy_for(seed: u64, index: usize, mix: f64) -> Strategy {
    if crate::rng::parallel_slots(seed, index, mix) { Strategy::ParallelThenSequential } else { Strategy::Sequential }
}

async fn run_sample(ctx: &Ctx, index: usize) -> Outcome {
    let id = sample_id(ctx.cfg.seed, index);
    let mut sample = Sample::new(id.clone(), Origin::Generated { seed: ctx.cfg.seed });
    let result = stages(ctx, index, &mut sample).await;
    if result.is_err() && ctx.run_cancel.is_cancelled() {
        // The whole run was cancelled (quit, or the cancel key): the sample did not fail,
        // it stopped; it stays unfinished so the next run resumes it, its finished calls
        // reused.
        ctx.sample_cancel.lock().expect("not poisoned").remove(&id);
        return Outcome::Stopped;
    }
    let outcome = match result {
        Ok(()) => Outcome::Complete,
        Err(f) => {
            let o = Outcome::Failed { stage: f.stage.clone(), reason: f.reason.clone() };
            sample.failure = Some(f);
            o
        }
    };
    ctx.save(&sample);
    ctx.sample_cancel.lock().expect("not poisoned").remove(&id);
    let _ = ctx.events.send(Event::SampleEnded { sample: id, outcome: outcome.clone() });
    outcome
}

async fn stages(ctx: &Ctx, index: usize, s: &mut Sample) -> Result<(), Failure> {
    let _ = ctx.events.send(Event::SampleStage { sample: s_id(ctx, index), stage: Part::Scenario });
    let scenario_index = index / ctx.cfg.atomic_per_scenario.max(1);
    let scenario = ctx.scenario(scenario_index).await?;
    s.scenario = Some(scenario.clone());
    stages_from(ctx, s, Part::AtomicTask, strategy_for(ctx.cfg.seed, index, ctx.cfg.parallel_mix)).await
}

/// Makes the parts of `s` from `from` on (the atomic task at the earliest), each from the
/// parts before it, which must be there.
async fn stages_from(ctx: &Ctx, s: &mut Sample, from: Part, strategy: Strategy) -> Result<(), Failure> {
    let id = s.id.clone();
    let stage = |part: Part| {
        let _ = ctx.events.send(Event::SampleStage { sample: id.clone(), stage: part });
    };
    let missing = |part: &str| fail(part, "missing_part", format!("the sample has no {part} to start from"));
    if from <= Part::AtomicTask {
        stage(Part::AtomicTask);
        let scenario = s.scenario.clone().ok_or_else(|| missing("scenario"))?;
        // The k-th atomic task of a scenario: the sample id makes each request distinct.
        let atomic = ctx.ask(Step::AtomicTask, &s.id, json!({"scenario": scenario}), parse::atomic_task).await?;
        s.atomic_task = Some(atomic);
        ctx.save(s);
    }
    if from <= Part::Composition {
        stage(Part::Composition);
        let atomic = s.atomic_task.clone().ok_or_else(|| missing("atomic_task"))?;
        let step = match strategy {
            Strategy::Sequential => Step::ComposeSequential,
            Strategy::ParallelThenSequential => Step::ComposeParallelSequential,
        };
        let parser = match strategy {
            Strategy::Sequential => parse::compose_sequential,
            Strategy::ParallelThenSequential => parse::compose_parallel_sequential,
        };
        let composed = ctx.ask(step, &s.id, json!({"atomic_task": atomic}), parser).await?;
        let mut sub_tasks = vec![atomic.clone()];
        sub_tasks.extend(composed.parallel.clone());
        sub_tasks.push(composed.subsequent.clone());
        s.composition = Some(Composition { strategy, task: composed.composition, sub_tasks });
        ctx.save(s);
    }
    let composition = s.composition.clone().ok_or_else(|| missing("composition"))?;
    let ctx_json = json!({"composition": composition.task, "sub_tasks": composition.sub_tasks});
    if from <= Part::Filter {
        stage(Part::Filter);
        let (passed, analysis) =
            ctx.ask(Step::CompositionFilter, &s.id, ctx_json.clone(), parse::composition_filter).await?;
        s.filter = Some(FilterVerdict { passed, analysis });
        if !passed {
            return Err(fail(
                "filter",
                "filtered_out",
                "the filter judged that the sub-tasks do not complete the task",
            ));
        }
        ctx.save(s);
    }
    if from <= Part::Functions {
        stage(Part::Functions);
        let subs = composition.sub_tasks.clone();
        let functions =
            ctx.ask(Step::FunctionGenerate, &s.id, ctx_json, |r| parse::function_generate(r, &subs)).await?;
        if functions.iter().all(|g| g.functions.is_empty()) {
            return Err(fail("functions", "no_functions", "no sub-task got a function"));
        }
        s.functions = functions;
        ctx.save(s);
    }
    stage(Part::Trajectory);
    let mut messages = Vec::new();
    let functions = s.functions.clone();
    match dialogue(ctx, &s.id, &composition, &functions, &mut messages).await {
        Ok(t) => {
            s.trajectory = Some(t);
            Ok(())
        }
        Err(f) => {
            // The dialogue as far as it got, so the reviewer sees where it stopped.
            if !messages.is_empty() {
                s.trajectory = Some(trajectory_of(ctx, &functions, messages));
            }
            Err(f)
        }
    }
}

fn trajectory_of(ctx: &Ctx, functions: &[SubTaskFunctions], messages: Vec<Message>) -> Trajectory {
    Trajectory {
        tools: functions.iter().flat_map(|g| g.functions.iter().cloned()).collect(),
        parallel: Some(ctx.cfg.parallel),
        system: None,
        messages,
    }
}

/// What a run of jobs does to one stored sample.
#[derive(Clone, Debug)]
pub enum Job {
    /// Makes the stale parts again from the edited ones; the sample as it was is kept as a
    /// `previous` version.
    Regenerate(String),
    /// Makes the parts from `from` on again, keeping every hand edit before it (a
    /// regeneration that leaves hand-edited later parts alone); the sample as it was is kept
    /// as a `previous` version.
    RegenerateFrom { sample: String, from: Part },
    /// Replaces message `turn` of the trajectory with `message` and lets the dialogue go on
    /// from there; the result is kept as a `fork` version to compare, the sample untouched.
    Fork { sample: String, turn: usize, message: Message },
    /// Asks the step of a recorded call (of this sample) again with the templates as they
    /// are now; the new call is recorded beside the old one, the sample untouched.
    Rerun { call: i64, sample: String },
    /// Makes a failed sample again from the part it failed at, keeping the parts (and hand
    /// edits) before it; the failed attempt is kept as a `failed` version, and the step is
    /// asked with another seed than the attempt that failed.
    Retry(String),
}

impl Job {
    fn sample(&self) -> &str {
        match self {
            Job::Regenerate(id)
            | Job::RegenerateFrom { sample: id, .. }
            | Job::Fork { sample: id, .. }
            | Job::Rerun { sample: id, .. }
            | Job::Retry(id) => id,
        }
    }
}

/// Makes the parts of `s` from `from` on again (the first stale part for `g`), keeping the
/// edits before it; the sample as it was is kept as a `previous` version.
async fn regenerate(ctx: &Ctx, s: &mut Sample, from: Option<Part>) -> Result<(), Failure> {
    match from {
        None => Err(fail("regenerate", "not_stale", "nothing in this sample is stale")),
        Some(Part::Scenario) => Err(fail("regenerate", "no_scenario", "a scenario is not made again")),
        Some(from) => {
            let _ = ctx.persist.send(Persist::Version(Box::new(s.clone()), "previous", now_ms()));
            remake(ctx, s, from).await
        }
    }
}

/// Makes a failed sample again from the part it failed at (its failed attempt is already
/// kept as a `failed` version, by `Store::retry_failed`).
async fn retry(ctx: &Ctx, s: &mut Sample, failed_at: Option<Part>) -> Result<(), Failure> {
    match failed_at {
        None => Err(fail("retry", "not_failed", "the sample has not failed")),
        // Scenarios are shared by the samples of a seed: the first part of its own is its atomic task.
        Some(at) => remake(ctx, s, at.max(Part::AtomicTask)).await,
    }
}

/// Clears the parts from `from` on and makes them again from the parts before it.
async fn remake(ctx: &Ctx, s: &mut Sample, from: Part) -> Result<(), Failure> {
    if from <= Part::AtomicTask {
        s.atomic_task = None;
    }
    if from <= Part::Composition {
        s.composition = None;
    }
    if from <= Part::Filter {
        s.filter = None;
    }
    if from <= Part::Functions {
        s.functions.clear();
    }
    s.trajectory = None;
    s.failure = None;
    // Edits before `from` are now applied; edits of the parts made again are superseded
    // (the kept version has them).
    s.edits.retain(|e| Part::of_path(&e.path).is_some_and(|p| p < from));
    s.edits.iter_mut().for_each(|e| e.regenerated = true);
    let strategy = s.strategy().unwrap_or_else(|| strategy_of_id(ctx, &s.id));
    let r = stages_from(ctx, s, from, strategy).await;
    if let Err(f) = &r {
        s.failure = Some(f.clone());
    }
    ctx.save(s);
    r
}

/// The strategy a generated sample was given by its seed and index (its composition, which
/// holds it, may be what is made again); sequential for any other sample.
fn strategy_of_id(ctx: &Ctx, id: &str) -> Strategy {
    let parsed = id
        .strip_prefix('s')
        .and_then(|rest| rest.split_once('-'))
        .and_then(|(seed, index)| Some((seed.parse::<u64>().ok()?, index.parse::<usize>().ok()?)));
    match parsed {
        Some((seed, index)) if sample_id(seed, index) == id => strategy_for(seed, index, ctx.cfg.parallel_mix),
        _ => Strategy::Sequential,
    }
}

async fn run_job(ctx: &Ctx, job: Job, mut s: Sample) -> Outcome {
    let id = s.id.clone();
    let result = match job {
        Job::Regenerate(_) => {
            let from = domain::stale(&s).first();
            regenerate(ctx, &mut s, from).await
        }
        Job::RegenerateFrom { from, .. } => regenerate(ctx, &mut s, Some(from)).await,
        Job::Fork { turn, message, .. } => {
            let r = fork(ctx, &s, turn, message).await;
            let mut forked = s.clone();
            match &r {
                Ok(t) => forked.trajectory = Some(t.clone()),
                Err(f) => forked.failure = Some(f.clone()),
            }
            let _ = ctx.persist.send(Persist::Version(Box::new(forked), "fork", now_ms()));
            r.map(|_| ())
        }
        Job::Rerun { call, .. } => rerun_job(ctx, call).await,
        Job::Retry(_) => {
            let at = s.failure.as_ref().and_then(|f| Part::of_failure(&f.stage));
            retry(ctx, &mut s, at).await
        }
    };
    ctx.sample_cancel.lock().expect("not poisoned").remove(&id);
    let outcome = match result {
        Ok(()) => Outcome::Complete,
        Err(f) => Outcome::Failed { stage: f.stage, reason: f.reason },
    };
    let _ = ctx.events.send(Event::SampleEnded { sample: id, outcome: outcome.clone() });
    outcome
}

async fn fork(ctx: &Ctx, s: &Sample, turn: usize, message: Message) -> Result<Trajectory, Failure> {
    let t = s.trajectory.as_ref().ok_or_else(|| fail("fork", "no_trajectory", "the sample has no trajectory"))?;
    if turn >= t.messages.len() {
        return Err(fail("fork", "no_turn", format!("the trajectory has {} messages", t.messages.len())));
    }
    let mut prefix: Vec<Message> = t.messages[..turn].to_vec();
    prefix.push(message);
    if !matches!(prefix.first(), Some(Message::User { .. })) {
        return Err(fail("fork", "no_opening", "a dialogue starts with a user message"));
    }
    let task = match (&s.composition, &t.messages[0]) {
        (Some(c), _) => c.task.clone(),
        (None, Message::User { content }) => content.clone(),
        _ => String::new(),
    };
    let functions = if s.functions.is_empty() {
        vec![SubTaskFunctions { sub_task: task.clone(), functions: t.tools.clone() }]
    } else {
        s.functions.clone()
    };
    let mut messages = prefix;
    continue_dialogue(ctx, &s.id, &task, &functions, &mut messages).await
}

fn s_id(ctx: &Ctx, index: usize) -> String {
    sample_id(ctx.cfg.seed, index)
}

/// Text of a reply with the observation and thought blocks taken out: what the assistant
/// says to the user when it asks instead of calling.
fn spoken_part(reply: &str) -> String {
    let mut text = reply.to_string();
    for t in ["observation", "thought"] {
        let lower = text.to_ascii_lowercase();
        if let (Some(a), Some(b)) = (lower.find(&format!("<{t}>")), lower.find(&format!("</{t}>"))) {
            text.replace_range(a..b + t.len() + 3, "");
        }
    }
    text.trim().to_string()
}

async fn dialogue(
    ctx: &Ctx,
    id: &str,
    composition: &Composition,
    functions: &[SubTaskFunctions],
    messages: &mut Vec<Message>,
) -> Result<Trajectory, Failure> {
    let opening = ctx
        .ask(Step::UserAgent, id, json!({"task": composition.task, "conversation": Value::Null}), parse::user_message)
        .await?;
    messages.push(Message::User { content: opening });
    continue_dialogue(ctx, id, &composition.task, functions, messages).await
}

fn func_return(results: &[ToolResult]) -> String {
    let returned: Vec<Value> =
        results.iter().map(|r| json!({"name": r.name, "arguments": r.arguments, "results": r.results})).collect();
    format!("<func_return>{}</func_return>", Value::Array(returned))
}

/// Continues a dialogue from `messages` (the opening user message at least; for a fork,
/// everything up to the edited turn) until the assistant's final answer. On failure,
/// `messages` holds the dialogue as far as it got.
async fn continue_dialogue(
    ctx: &Ctx,
    id: &str,
    task: &str,
    functions: &[SubTaskFunctions],
    messages: &mut Vec<Message>,
) -> Result<Trajectory, Failure> {
    let tools: Vec<FunctionDef> = functions.iter().flat_map(|g| g.functions.iter().cloned()).collect();
    let groups: Vec<Value> = functions
        .iter()
        .map(|g| {
            json!({"sub_task": g.sub_task, "functions": g.functions.iter().map(FunctionDef::to_flat_value).collect::<Vec<_>>()})
        })
        .collect();
    let system_ctx =
        json!({"functions": serde_json::to_string_pretty(&groups).expect("serializes"), "parallel": ctx.cfg.parallel});
    let system = ctx.render(Step::AssistantAgent, system_ctx.clone())?;
    let mut convo = vec![ChatMessage::new("system", system)];
    for m in messages.iter() {
        convo.push(match m {
            Message::User { content } => ChatMessage::new("user", content.clone()),
            Message::Assistant { .. } => ChatMessage::new("assistant", message_text(m)),
            Message::Tool { results } => ChatMessage::new("user", func_return(results)),
        });
    }
    let done = |messages: &Vec<Message>| Trajectory {
        tools: tools.clone(),
        parallel: Some(ctx.cfg.parallel),
        system: None,
        messages: messages.clone(),
    };
    // A prefix that ends on an assistant turn (a fork from it): finish that turn first.
    if let Some(Message::Assistant { calls, final_answer, .. }) = messages.last().cloned() {
        if final_answer.is_some() {
            return Ok(done(messages));
        }
        if calls.is_empty() {
            answer_question(ctx, id, task, messages, &mut convo).await?;
        } else {
            let assistant = messages.pop().expect("checked");
            check_calls(ctx.cfg.parallel, &tools, &calls)
                .map_err(|e| fail(Step::AssistantAgent.id(), e.reason, e.detail))?;
            run_tools(ctx, id, &tools, &calls, assistant, messages, &mut convo).await?;
        }
    }
    let mut turns = messages.iter().filter(|m| matches!(m, Message::Assistant { .. })).count();
    while turns < ctx.cfg.turn_limit {
        turns += 1;
        let made: usize = messages.iter().map(|m| m.calls().len()).sum();
        // A turn that calls what isn't there, calls in parallel when that is off, or ends
        // before the task's calls are made is re-asked like a reply that does not parse.
        let checked = |reply: &str| {
            let turn = parse::assistant_turn(reply)?;
            check_calls(ctx.cfg.parallel, &tools, &turn.calls)?;
            if turn.final_answer.is_some() && made < ctx.cfg.min_calls {
                return Err(parse::ParseError {
                    reason: "too_few_calls",
                    detail: format!(
                        "a final answer after {made} function call(s); the task needs at least {} (min_calls): call the functions for its sub-tasks first",
                        ctx.cfg.min_calls
                    ),
                });
            }
            Ok(turn)
        };
        let (turn, reply) = ctx.call(Step::AssistantAgent, id, convo.clone(), Some(&system_ctx), checked).await?;
        let thought = [turn.observation.as_str(), turn.thought.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        convo.push(ChatMessage::new("assistant", reply.clone()));
        if let Some(answer) = turn.final_answer {
            messages.push(Message::Assistant { thought, calls: vec![], final_answer: Some(answer) });
            return Ok(done(messages));
        }
        if turn.calls.is_empty() {
            let question = spoken_part(&reply);
            let question = if question.is_empty() { thought } else { question };
            messages.push(Message::Assistant { thought: question, calls: vec![], final_answer: None });
            answer_question(ctx, id, task, messages, &mut convo).await?;
            continue;
        }
        let assistant = Message::Assistant { thought, calls: turn.calls.clone(), final_answer: None };
        run_tools(ctx, id, &tools, &turn.calls, assistant, messages, &mut convo).await?;
    }
    Err(fail("trajectory", "turn_limit", format!("no final answer after {} assistant turns", ctx.cfg.turn_limit)))
}

fn check_calls(parallel: bool, tools: &[FunctionDef], calls: &[Call]) -> parse::Result<()> {
    if calls.len() > 1 && !parallel {
        return Err(parse::ParseError {
            reason: "parallel_when_off",
            detail: format!("{} calls in one turn, when parallel calls are off", calls.len()),
        });
    }
    for c in calls {
        if !tools.iter().any(|f| f.name == c.name) {
            let names: Vec<&str> = tools.iter().map(|f| f.name.as_str()).collect();
            return Err(parse::ParseError {
                reason: "hallucinated_function",
                detail: format!("{} is not a function of this task (they are: {})", c.name, names.join(", ")),
            });
        }
    }
    Ok(())
}

/// The user agent answers the assistant's question (the last message).
async fn answer_question(
    ctx: &Ctx,
    id: &str,
    task: &str,
    messages: &mut Vec<Message>,
    convo: &mut Vec<ChatMessage>,
) -> Result<(), Failure> {
    let conversation: Vec<Value> =
        messages.iter().map(|m| json!({"role": m.role(), "content": message_text(m)})).collect();
    let answer =
        ctx.ask(Step::UserAgent, id, json!({"task": task, "conversation": conversation}), parse::user_message).await?;
    convo.push(ChatMessage::new("user", answer.clone()));
    messages.push(Message::User { content: answer });
    Ok(())
}

/// The tool agent answers each call of `assistant` (in parallel); the turn and its results
/// join the dialogue.
async fn run_tools(
    ctx: &Ctx,
    id: &str,
    tools: &[FunctionDef],
    calls: &[Call],
    assistant: Message,
    messages: &mut Vec<Message>,
    convo: &mut Vec<ChatMessage>,
) -> Result<(), Failure> {
    let transcript: String =
        messages.iter().map(|m| format!("{}: {}", m.role(), message_text(m))).collect::<Vec<_>>().join("\n");
    let results = join_all(calls.iter().map(|c| tool_call(ctx, id, tools, c, &transcript))).await;
    let results: Vec<ToolResult> = results.into_iter().collect::<Result<_, _>>()?;
    if !matches!(convo.last(), Some(m) if m.role == "assistant") {
        convo.push(ChatMessage::new("assistant", message_text(&assistant)));
    }
    messages.push(assistant);
    convo.push(ChatMessage::new("user", func_return(&results)));
    messages.push(Message::Tool { results });
    Ok(())
}

async fn tool_call(
    ctx: &Ctx,
    id: &str,
    tools: &[FunctionDef],
    call: &Call,
    transcript: &str,
) -> Result<ToolResult, Failure> {
    let f = tools.iter().find(|f| f.name == call.name).expect("checked by the caller");
    let call_json = json!({"name": call.name, "arguments": call.arguments});
    let results = ctx
        .ask(
            Step::ToolAgent,
            id,
            json!({"function": serde_json::to_string_pretty(&f.to_flat_value()).expect("serializes"),
                   "call": call_json.to_string(), "conversation": transcript}),
            parse::tool_return,
        )
        .await?;
    Ok(ToolResult { name: call.name.clone(), arguments: call.arguments.clone(), results: results.into(), id: None })
}

/// Controls of a running pipeline.
#[derive(Clone)]
pub struct Control {
    pub cancel: CancellationToken,
    paused: Arc<watch::Sender<bool>>,
    backend: Arc<Backend>,
    samples: Arc<Mutex<HashMap<String, CancellationToken>>>,
}

impl Control {
    /// No call goes out from now on (calls waiting for a slot keep waiting); the calls
    /// already sent finish.
    pub fn pause(&self) {
        set_paused(&self.paused, &self.backend, true);
    }
    pub fn resume(&self) {
        set_paused(&self.paused, &self.backend, false);
    }
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
    pub fn set_concurrency(&self, n: usize) {
        self.backend.set_concurrency(n);
    }
    /// Cancels one sample in progress: its call in flight stops, and it fails with
    /// `llm_cancelled`. False when the sample is not in progress.
    pub fn cancel_sample(&self, id: &str) -> bool {
        match self.samples.lock().expect("not poisoned").get(id) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }
    /// Whether JSON replies were still sent their schema at the end (`structured_output`);
    /// None for the simulator.
    pub fn structured(&self) -> Option<bool> {
        match &*self.backend {
            Backend::Http(c) => Some(c.structured()),
            _ => None,
        }
    }

    /// LLM calls in flight at most; None when the backend has no limit.
    pub fn concurrency(&self) -> Option<usize> {
        self.backend.concurrency()
    }
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub started: usize,
    pub complete: usize,
    pub failed: usize,
    pub skipped_already_done: usize,
    /// Samples the run stopped before they ended: unfinished, resumed by the next run.
    pub stopped: usize,
    pub failures: std::collections::BTreeMap<String, usize>,
    pub cancelled: bool,
    /// Why the run stopped on its own, when it did: the endpoint was down.
    pub endpoint_down: Option<String>,
}

/// Pauses (or resumes) a run: its samples wait before their next call, and the backend
/// holds every call not sent yet (those waiting for a slot too).
fn set_paused(pause: &watch::Sender<bool>, backend: &Backend, paused: bool) {
    backend.hold(paused);
    pause.send_replace(paused);
}

/// Why a run could not start, or stopped before its end; the cause is kept.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot write to the workspace: {0}")]
    Write(#[source] crate::store::StoreError),
    #[error(
        "another run is in progress on the workspace {dir} (process {pid}): wait for it to end or stop it; a second run would ask every call again"
    )]
    Busy { dir: std::path::PathBuf, pid: String },
    #[error("cannot lock {0}: {1}")]
    Lock(std::path::PathBuf, #[source] std::io::Error),
    #[error("no scenario to start from")]
    NoScenario,
    #[error("the {0} task failed: {1}")]
    Task(&'static str, #[source] tokio::task::JoinError),
}

pub struct Pipeline {
    pub control: Control,
    pub events: mpsc::UnboundedReceiver<Event>,
    /// Samples of the target that had already ended when the run started.
    pub already_done: usize,
    handle: tokio::task::JoinHandle<Result<RunSummary, RunError>>,
}

impl Pipeline {
    pub async fn wait(self) -> Result<RunSummary, RunError> {
        self.handle.await.map_err(|e| RunError::Task("pipeline", e))?
    }
}

/// Held while a run (or a batch of jobs) writes to a workspace, so a second one is refused
/// instead of asking every call a second time. An OS file lock: it goes when the process
/// does, however it ends.
pub struct RunLock(#[allow(dead_code)] std::fs::File);

pub const RUN_LOCK_FILE: &str = "button.run.lock";

impl RunLock {
    pub fn acquire(dir: &std::path::Path) -> Result<RunLock, RunError> {
        use std::io::{Read, Seek, Write};
        let path = dir.join(RUN_LOCK_FILE);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| RunError::Lock(path.clone(), e))?;
        match f.try_lock() {
            Ok(()) => {
                // Who holds it, for the message the next one gets.
                let _ = f.set_len(0).and_then(|()| f.rewind()).and_then(|()| write!(f, "{}", std::process::id()));
                Ok(RunLock(f))
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = f.read_to_string(&mut pid);
                Err(RunError::Busy {
                    dir: dir.to_path_buf(),
                    pid: if pid.trim().is_empty() { "?".into() } else { pid.trim().to_string() },
                })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(RunError::Lock(path, e)),
        }
    }
}

/// Starts a run toward `cfg.samples` samples in the workspace at `store_dir`. The samples of
/// this seed that already ended are left alone.
pub fn start(
    store_dir: &std::path::Path,
    backend: Backend,
    prompts: Prompts,
    cfg: RunConfig,
    sources: Vec<ScenarioSource>,
) -> Result<Pipeline, RunError> {
    if sources.is_empty() {
        return Err(RunError::NoScenario);
    }
    launch(store_dir, backend, prompts, cfg, sources, None)
}

/// Runs jobs on samples already in the workspace (regenerations, forks) with the same
/// scheduler, events and store writer as a run.
pub fn start_jobs(
    store_dir: &std::path::Path,
    backend: Backend,
    prompts: Prompts,
    cfg: RunConfig,
    jobs: Vec<Job>,
) -> Result<Pipeline, RunError> {
    launch(store_dir, backend, prompts, cfg, Vec::new(), Some(jobs))
}

fn launch(
    store_dir: &std::path::Path,
    backend: Backend,
    prompts: Prompts,
    cfg: RunConfig,
    sources: Vec<ScenarioSource>,
    jobs: Option<Vec<Job>>,
) -> Result<Pipeline, RunError> {
    let mut store = Store::open(store_dir, true)?;
    crate::log::init(store_dir);
    let lock = RunLock::acquire(store_dir)?;
    if cfg.retry_failed && jobs.is_none() {
        let mine: HashSet<String> = (0..cfg.samples).map(|i| sample_id(cfg.seed, i)).collect();
        let failed: Vec<String> = store.failed_ids()?.into_iter().filter(|id| mine.contains(id)).collect();
        store.retry_failed(&failed)?;
    }
    let jobs: Option<Vec<(Job, Sample)>> = match jobs {
        None => None,
        Some(jobs) => Some(
            jobs.into_iter().map(|j| store.sample(j.sample()).map(|st| (j, st.sample))).collect::<Result<_, _>>()?,
        ),
    };
    // Failed samples to retry: loaded above with their failure (it says where to start), now
    // made unfinished, their failed attempts kept; counted in the rounds read next, so the
    // steps asked again get another seed.
    let retried: Vec<String> = jobs
        .iter()
        .flatten()
        .filter(|(j, _)| matches!(j, Job::Retry(_)))
        .map(|(j, _)| j.sample().to_string())
        .collect();
    if !retried.is_empty() {
        store.retry_failed(&retried)?;
    }
    let rounds = store.failed_rounds()?;
    let mut rerun_calls = HashMap::new();
    for (job, _) in jobs.iter().flatten() {
        if let Job::Rerun { call, .. } = job {
            rerun_calls.insert(*call, store.call(*call)?);
        }
    }
    let cache = store.finished_replies()?;
    let ended = store.ended_ids()?;
    let already_done = match &jobs {
        Some(_) => 0,
        None => (0..cfg.samples).filter(|i| ended.contains(&sample_id(cfg.seed, *i))).count(),
    };
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (persist_tx, persist_rx) = mpsc::unbounded_channel();
    let pause = Arc::new(watch::channel(false).0);
    let limit_at_start = backend.concurrency().unwrap_or(0);
    let backend = Arc::new(backend);
    let cancel = CancellationToken::new();
    let sample_cancel = Arc::new(Mutex::new(HashMap::new()));
    let control = Control {
        cancel: cancel.clone(),
        paused: pause.clone(),
        backend: backend.clone(),
        samples: sample_cancel.clone(),
    };
    let per_scenario = cfg.atomic_per_scenario.max(1);
    let scenario_slots = cfg.samples.div_ceil(per_scenario);
    let ctx = Arc::new(Ctx {
        backend,
        prompts,
        run_id: format!("{:x}", now_ms()),
        cache,
        events: events_tx.clone(),
        persist: persist_tx,
        pause,
        outages: std::sync::atomic::AtomicU32::default(),
        down: Mutex::new(None),
        rounds,
        next_call: std::sync::atomic::AtomicU64::default(),
        rerun_calls,
        limit_seen: std::sync::atomic::AtomicUsize::new(limit_at_start),
        seen_scenarios: Mutex::new(
            sources
                .iter()
                .filter_map(|s| match s {
                    ScenarioSource::Text(t) => Some(t.clone()),
                    ScenarioSource::ChatLog(_) => None,
                })
                .collect(),
        ),
        sources,
        scenarios: (0..scenario_slots).map(|_| OnceCell::new()).collect(),
        cfg: cfg.clone(),
        run_cancel: cancel.clone(),
        sample_cancel,
    });
    let writer = {
        let (cancel, events) = (cancel.clone(), events_tx.clone());
        tokio::task::spawn_blocking(move || {
            let r = write_loop(store, persist_rx);
            if let Err(reason) = &r {
                // Nothing more can be kept: stop every call now rather than make calls whose
                // replies are lost. The samples in progress stay unfinished.
                let _ = events.send(Event::RunStopped { reason: reason.to_string() });
                cancel.cancel();
            }
            r
        })
    };
    let handle = tokio::spawn(async move {
        let _lock = lock;
        let mut summary = RunSummary::default();
        let limit = Arc::new(Semaphore::new(cfg.active_samples.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        let todo: Vec<usize> = match &jobs {
            Some(_) => Vec::new(),
            None => (0..cfg.samples).filter(|i| !ended.contains(&sample_id(cfg.seed, *i))).collect(),
        };
        if jobs.is_none() {
            summary.skipped_already_done = cfg.samples - todo.len();
        }
        if let Some(j) = &jobs {
            tracing::info!("jobs started: {}", j.len());
        } else {
            tracing::info!(
                seed = cfg.seed,
                "run started: {} samples to make, {} already done",
                todo.len(),
                summary.skipped_already_done
            );
        }
        for (job, sample) in jobs.into_iter().flatten() {
            let ctx = ctx.clone();
            let cancel = cancel.clone();
            summary.started += 1;
            tasks.spawn(async move {
                tokio::select! {
                    o = run_job(&ctx, job, sample) => Some(o),
                    () = cancel.cancelled() => None,
                }
            });
        }
        for index in todo {
            let permit = tokio::select! {
                p = limit.clone().acquire_owned() => p.expect("never closed"),
                () = cancel.cancelled() => break,
            };
            let ctx = ctx.clone();
            let cancel = cancel.clone();
            summary.started += 1;
            tasks.spawn(async move {
                let _permit = permit;
                tokio::select! {
                    o = run_sample(&ctx, index) => Some(o),
                    () = cancel.cancelled() => None,
                }
            });
            while let Some(done) = tasks.try_join_next() {
                tally(&mut summary, done);
            }
        }
        while let Some(done) = tasks.join_next().await {
            tally(&mut summary, done);
        }
        summary.cancelled = cancel.is_cancelled();
        summary.endpoint_down.clone_from(&ctx.down.lock().expect("not poisoned"));
        drop(ctx);
        let written = writer.await.map_err(|e| RunError::Task("workspace writer", e))?;
        written?;
        let _ = events_tx.send(Event::RunEnded { cancelled: summary.cancelled });
        tracing::info!(
            "run ended{}: {} started, {} complete, {} failed, {} stopped{}",
            if summary.cancelled { " (stopped)" } else { "" },
            summary.started,
            summary.complete,
            summary.failed,
            summary.stopped,
            summary.endpoint_down.as_ref().map(|d| format!("; endpoint down: {d}")).unwrap_or_default()
        );
        Ok(summary)
    });
    Ok(Pipeline { control, events: events_rx, already_done, handle })
}

fn tally(summary: &mut RunSummary, done: Result<Option<Outcome>, tokio::task::JoinError>) {
    match done {
        Ok(Some(Outcome::Complete)) => summary.complete += 1,
        Ok(Some(Outcome::Stopped) | None) => summary.stopped += 1,
        Ok(Some(Outcome::Failed { stage, reason })) => {
            summary.failed += 1;
            *summary.failures.entry(format!("{stage}:{reason}")).or_insert(0) += 1;
        }
        Err(e) => {
            summary.failed += 1;
            *summary.failures.entry(format!("panic:{e}")).or_insert(0) += 1;
        }
    }
}

/// The one writer: drains what is waiting and commits it in one transaction. At the first
/// write that fails it returns, dropping the channel: the run stops.
fn write_loop(mut store: Store, mut rx: mpsc::UnboundedReceiver<Persist>) -> Result<(), RunError> {
    let mut samples = Vec::new();
    let mut calls = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        // Let a few milliseconds of results gather: one commit for many rows instead of a
        // commit per row when calls finish thousands a second.
        std::thread::sleep(std::time::Duration::from_millis(10));
        let mut next = Some(first);
        while let Some(p) = next {
            match p {
                Persist::Sample(s) => samples.push(*s),
                Persist::Call(c) => calls.push(*c),
                Persist::Version(s, kind, at) => {
                    store.add_version_at(&s, kind, at).map_err(RunError::Write)?;
                }
            }
            if samples.len() + calls.len() >= 4096 {
                break;
            }
            next = rx.try_recv().ok();
        }
        store.write_progress(&samples, &calls).map_err(RunError::Write)?;
        samples.clear();
        calls.clear();
    }
    Ok(())
}

/// Asks a recorded call's step again for the same sample: its template rendered from
/// `prompts` (which may hold an edited workspace override) with the recorded variables, the
/// rest of the prompt as it was. Returns the new call, for the caller to record.
/// A call asked again as a job of the run: shown in the pipeline as its calls are,
/// cancelled with the run, and recorded by the run's writer.
async fn rerun_job(ctx: &Ctx, call: i64) -> Result<(), Failure> {
    let old = ctx.rerun_calls.get(&call).expect("loaded at launch");
    let step = Step::from_id(&old.step);
    let n = ctx.next_call.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(step) = step {
        let _ = ctx.events.send(Event::CallStarted { call: n, step, sample: old.sample_id.clone() });
    }
    // A failure before the step is asked says why in its reason (a job is not counted in
    // the run's failure statistics).
    let record = rerun_call(&ctx.backend, &ctx.prompts, old, &ctx.run_cancel)
        .await
        .map_err(|e| fail(&old.step, format!("not asked again: {e}"), e))?;
    if let Some(step) = step {
        let _ = ctx.events.send(match &record.error {
            Some(e) => Event::CallFailed { call: n, step, reason: "rerun".into(), error: e.clone() },
            None => Event::CallFinished {
                call: n,
                step,
                latency_ms: record.latency_ms,
                tokens: record.prompt_tokens + record.completion_tokens,
                cached: false,
                reask: 0,
                usable: record.parse_ok == Some(true),
            },
        });
    }
    let _ = ctx.persist.send(Persist::Call(Box::new(record)));
    Ok(())
}

pub async fn rerun_call(
    backend: &Backend,
    prompts: &Prompts,
    call: &crate::store::CallRow,
    cancel: &CancellationToken,
) -> Result<CallRecord, String> {
    let step =
        Step::from_id(&call.step).ok_or_else(|| format!("call #{} has an unknown step {:?}", call.id, call.step))?;
    let context: Value = match &call.context {
        Some(c) => serde_json::from_str(c)
            .map_err(|e| format!("call #{}: its recorded variables are unreadable: {e}", call.id))?,
        None => {
            return Err(format!(
                "call #{} was recorded without its template variables (made before they were kept): run its sample again",
                call.id
            ));
        }
    };
    let mut messages: Vec<ChatMessage> =
        serde_json::from_str(&call.prompt).map_err(|e| format!("call #{}: its prompt is unreadable: {e}", call.id))?;
    let rendered = prompts.render(step, &context).map_err(|e| e.to_string())?;
    match messages.first_mut() {
        Some(m) => m.content.clone_from(&rendered),
        None => return Err(format!("call #{} has an empty prompt", call.id)),
    }
    let context_ref = Some(&context);
    let req = ChatRequest {
        step,
        sample_id: call.sample_id.clone(),
        messages,
        response_format: parse::reply_format(step, context_ref),
        // Its own seed, from the call and the prompt as rendered now: reproducible, and
        // another than the run's.
        seed: Some(rerun_seed(call.id, &rendered)),
        max_tokens: Some(step.default_max_tokens()),
    };
    let started = Instant::now();
    let started_at = now_ms();
    let mut record = CallRecord {
        request_hash: req.hash(backend.model()),
        run_id: "rerun".into(),
        sample_id: call.sample_id.clone(),
        step: step.id().to_string(),
        template_version: prompts.info(step).version.clone(),
        model: backend.model().to_string(),
        prompt: serde_json::to_string(&req.messages).expect("messages serialize"),
        context: call.context.clone(),
        started_at,
        ..CallRecord::default()
    };
    match backend.complete(&req, cancel, &|_| {}).await {
        Ok(reply) => {
            record.endpoint.clone_from(&reply.endpoint);
            record.prompt_tokens = reply.usage.prompt_tokens;
            record.completion_tokens = reply.usage.completion_tokens;
            record.attempts = reply.attempts;
            // Judged as a run judges it: the parse, then the same checks (placeholders,
            // copies, refusals).
            let parsed = parse::by_step(step, &reply.content, &context)
                .and_then(|v| vet(step, &v, &req.messages, Some(&context)).map(|()| v));
            record.parse_ok = Some(parsed.is_ok());
            record.parse_result = Some(match parsed {
                Ok(v) => v.to_string(),
                Err(e) => e.to_string(),
            });
            record.raw_reply = Some(reply.content);
        }
        Err(e) => record.error = Some(e.to_string()),
    }
    record.latency_ms = started.elapsed().as_millis() as u64;
    record.finished_at = now_ms();
    Ok(record)
}
