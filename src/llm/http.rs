//! The OpenAI-compatible client: `POST {endpoint}/chat/completions`, streamed (SSE) or
//! not, with retries, timeouts, a concurrency limit that can change while running, and
//! cancellation. Written here rather than taken from an SDK because the UI needs per-call
//! streaming, retry state and cancellation that SDKs hide.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::{CallProgress, ChatReply, ChatRequest, LlmError, ProgressFn, StructuredOutput, Usage};

pub const DEFAULT_MAX_REPLY_BYTES: usize = 8 << 20;

/// An error body is read only this far: its message is all that is shown.
const MAX_ERROR_BODY: usize = 64 << 10;

#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The base URL, e.g. `http://127.0.0.1:8080/v1`; `/chat/completions` is added.
    pub url: String,
    pub weight: u32,
}

/// The request fields the client sets itself, which `[llm] extra_body` can't.
pub const BODY_FIELDS: [&str; 9] =
    ["model", "messages", "stream", "stream_options", "temperature", "max_tokens", "seed", "response_format", "tools"];

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub endpoints: Vec<Endpoint>,
    pub model: String,
    /// The bearer token, read from the environment by the caller; never stored.
    pub api_key: Option<String>,
    pub stream: bool,
    pub concurrency: usize,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    /// A reply (body, or a stream's bytes) longer than this fails the call: a server can't
    /// make the client hold more.
    pub max_reply_bytes: usize,
    /// The longest a call may take in all, its retries and their waits included; the read
    /// timeout alone lets a server that trickles a byte at a time hold a call forever.
    pub deadline: Duration,
    /// `concurrency = "auto"`: the limit starts at `concurrency` and follows the server
    /// (AIMD): up by one while replies come back in time, down by a quarter on a 429 or a
    /// timeout, between 1 and `max_concurrency`.
    pub adaptive: bool,
    pub max_concurrency: usize,
    pub structured_output: StructuredOutput,
    /// Added to every request body (keys the client sets itself are refused by the config).
    pub extra_body: serde_json::Map<String, Value>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            endpoints: Vec::new(),
            model: String::new(),
            api_key: None,
            stream: true,
            concurrency: 16,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_mins(2),
            max_attempts: 6,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            temperature: Some(0.7),
            max_tokens: None,
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
            deadline: Duration::from_mins(10),
            adaptive: false,
            max_concurrency: 256,
            structured_output: StructuredOutput::Auto,
            extra_body: serde_json::Map::new(),
        }
    }
}

/// The adaptive concurrency limit's bookkeeping: additive increase, multiplicative decrease.
#[derive(Default)]
struct Aimd {
    /// Calls that came back in time since the limit last changed.
    good: usize,
    /// Calls finished since the last cut: a burst of 429s from one overload cuts once.
    since_cut: usize,
    /// The fastest call seen, what "latency holds" is measured against.
    best: Option<Duration>,
    /// Why the limit last changed, for the pipeline view.
    note: String,
}

/// A semaphore whose size can go down as well as up: lowering it takes permits out as they
/// come back.
pub(crate) struct Limiter {
    sem: Arc<Semaphore>,
    size: AtomicUsize,
    debt: AtomicUsize,
    /// While true no slot is handed out (the run is paused): calls waiting for one keep
    /// waiting, calls already sent finish.
    held: tokio::sync::watch::Sender<bool>,
}

pub(crate) struct Permit<'a> {
    permit: Option<OwnedSemaphorePermit>,
    limiter: &'a Limiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let Some(p) = self.permit.take() else { return };
        let paid = self.limiter.debt.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1)).is_ok();
        if paid {
            p.forget();
        }
    }
}

impl Limiter {
    pub(crate) fn size(&self) -> usize {
        self.size.load(Ordering::SeqCst)
    }

    pub(crate) fn new(n: usize) -> Limiter {
        Limiter {
            sem: Arc::new(Semaphore::new(n.max(1))),
            size: AtomicUsize::new(n.max(1)),
            debt: AtomicUsize::new(0),
            held: tokio::sync::watch::channel(false).0,
        }
    }

    /// Holds (or lets go) every slot not handed out yet.
    pub(crate) fn hold(&self, held: bool) {
        self.held.send_replace(held);
    }

    pub(crate) fn resize(&self, n: usize) {
        let n = n.max(1);
        let old = self.size.swap(n, Ordering::SeqCst);
        if n > old {
            let mut add = n - old;
            // Cancel debt first, then add permits.
            while add > 0 && self.debt.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1)).is_ok() {
                add -= 1;
            }
            self.sem.add_permits(add);
        } else if n < old {
            let take = old - n;
            let forgotten = self.sem.forget_permits(take);
            self.debt.fetch_add(take - forgotten, Ordering::SeqCst);
        }
    }

    /// Waits for a slot (or the cancellation), and for the hold to be let go, then reports
    /// the call as sent.
    pub(crate) async fn slot(
        &self,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<Permit<'_>, LlmError> {
        let mut held = self.held.subscribe();
        loop {
            tokio::select! {
                r = held.wait_for(|h| !*h) => { r.expect("the sender lives in self"); }
                () = cancel.cancelled() => return Err(LlmError::Cancelled),
            }
            let permit = tokio::select! {
                p = self.acquire() => p,
                () = cancel.cancelled() => return Err(LlmError::Cancelled),
            };
            // Held while this call waited for its slot: the slot goes back, the call waits.
            if !*held.borrow_and_update() {
                progress(CallProgress::Sent);
                return Ok(permit);
            }
        }
    }

    pub(crate) async fn acquire(&self) -> Permit<'_> {
        let p = self.sem.clone().acquire_owned().await.expect("the semaphore is never closed");
        Permit { permit: Some(p), limiter: self }
    }
}

impl Client {
    /// Holds the calls not sent yet (a paused run), or lets them go.
    pub fn hold(&self, held: bool) {
        self.limiter.hold(held);
    }
}

pub struct Client {
    http: reqwest::Client,
    cfg: ClientConfig,
    limiter: Limiter,
    next: AtomicU64,
    jitter: std::sync::Mutex<crate::rng::Rng>,
    aimd: std::sync::Mutex<Aimd>,
    /// Set when the endpoint rejected `response_format` under `structured_output = "auto"`.
    structured_off: std::sync::atomic::AtomicBool,
}

/// Why a client could not be set up, its cause kept.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no endpoint configured")]
    NoEndpoint,
    #[error("the endpoint {0:?} is not a URL: {1}")]
    NotUrl(String, String),
    #[error("the endpoint {0:?} must start with http:// or https://")]
    Scheme(String),
    #[error("cannot set up the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, ClientError> {
        if cfg.endpoints.is_empty() {
            return Err(ClientError::NoEndpoint);
        }
        for e in &cfg.endpoints {
            let parsed =
                reqwest::Url::parse(&e.url).map_err(|err| ClientError::NotUrl(e.url.clone(), err.to_string()))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ClientError::Scheme(e.url.clone()));
            }
        }
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .read_timeout(cfg.read_timeout)
            .pool_max_idle_per_host(1024)
            .build()
            .map_err(ClientError::Build)?;
        let limiter = Limiter::new(cfg.concurrency);
        let aimd = Aimd {
            note: if cfg.adaptive {
                format!("auto: starts at {}, at most {}", cfg.concurrency, cfg.max_concurrency)
            } else {
                String::new()
            },
            since_cut: usize::MAX / 2,
            ..Aimd::default()
        };
        let structured_off = std::sync::atomic::AtomicBool::new(cfg.structured_output == StructuredOutput::Off);
        Ok(Client {
            http,
            cfg,
            limiter,
            next: AtomicU64::new(0),
            jitter: std::sync::Mutex::new(crate::rng::Rng::new(0x2545_f491_4f6c_dd1d)),
            aimd: std::sync::Mutex::new(aimd),
            structured_off,
        })
    }

    pub fn model(&self) -> &str {
        &self.cfg.model
    }

    pub fn set_concurrency(&self, n: usize) {
        self.limiter.resize(n);
    }

    pub fn concurrency(&self) -> usize {
        self.limiter.size.load(Ordering::SeqCst)
    }

    /// Spreads calls over the endpoints in proportion to their weights.
    fn pick_endpoint(&self) -> &Endpoint {
        let total: u64 = self.cfg.endpoints.iter().map(|e| u64::from(e.weight.max(1))).sum();
        let mut n = self.next.fetch_add(1, Ordering::Relaxed) % total;
        for e in &self.cfg.endpoints {
            let w = u64::from(e.weight.max(1));
            if n < w {
                return e;
            }
            n -= w;
        }
        &self.cfg.endpoints[0]
    }

    fn random(&self) -> u64 {
        self.jitter.lock().expect("not poisoned").next_u64()
    }

    /// Why the adaptive limit last changed; empty when the limit is fixed.
    pub fn concurrency_note(&self) -> String {
        self.aimd.lock().expect("not poisoned").note.clone()
    }

    /// Whether JSON replies are still sent a schema to follow.
    pub fn structured(&self) -> bool {
        !self.structured_off.load(Ordering::SeqCst)
    }

    /// One call came back (`Ok(latency)`) or met an overload (`Err`: a 429 or a timeout).
    fn adapt(&self, outcome: Result<Duration, &LlmError>) {
        if !self.cfg.adaptive {
            return;
        }
        let mut a = self.aimd.lock().expect("not poisoned");
        a.since_cut = a.since_cut.saturating_add(1);
        let limit = self.limiter.size();
        match outcome {
            Ok(latency) => {
                let best = *a.best.get_or_insert(latency);
                if latency < best {
                    a.best = Some(latency);
                }
                // Latency holds: within half as much again as the fastest call (plus a
                // little, for very fast servers).
                if latency <= best + best / 2 + Duration::from_millis(20) {
                    a.good += 1;
                } else {
                    a.good = 0;
                }
                if a.good >= limit && limit < self.cfg.max_concurrency {
                    self.limiter.resize(limit + 1);
                    a.good = 0;
                    a.note = format!("raised to {}: {limit} calls in a row came back in time", limit + 1);
                }
            }
            Err(e) => {
                a.good = 0;
                // One cut per overload: wait until as many calls as the limit have finished.
                if a.since_cut < limit {
                    return;
                }
                let cut = (limit * 3 / 4).max(1);
                if cut < limit {
                    self.limiter.resize(cut);
                }
                a.since_cut = 0;
                a.note = format!("cut to {cut}: {}", e.reason().replace('_', " "));
            }
        }
    }

    /// The wait before attempt `attempt` (1-based retries): the server's Retry-After when it
    /// sent one, else exponential backoff with full jitter.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            // The server knows best; only a wait beyond five minutes is cut short.
            return d.min(Duration::from_mins(5));
        }
        let exp = self.cfg.backoff_base.saturating_mul(1u32 << attempt.min(16)).min(self.cfg.backoff_max);
        let ms = exp.as_millis().max(1) as u64;
        Duration::from_millis(ms / 2 + self.random() % (ms / 2 + 1))
    }

    /// Checks that every endpoint answers HTTP at all (`GET /models`; any status will do).
    pub async fn probe(&self) -> Result<(), LlmError> {
        for e in &self.cfg.endpoints {
            let url = format!("{}/models", e.url.trim_end_matches('/'));
            let mut rb = self.http.get(&url).timeout(self.cfg.connect_timeout.max(Duration::from_secs(2)));
            if let Some(key) = &self.cfg.api_key {
                rb = rb.bearer_auth(key);
            }
            rb.send().await.map_err(|err| LlmError::Connect { endpoint: e.url.clone(), message: root_cause(&err) })?;
        }
        Ok(())
    }

    pub async fn complete(
        &self,
        req: &ChatRequest,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<ChatReply, LlmError> {
        let _permit = self.limiter.slot(cancel, progress).await?;
        let deadline = self.cfg.deadline;
        let scrubbed = |p: CallProgress| {
            progress(match p {
                CallProgress::Retrying { attempt, wait_ms, error } => {
                    CallProgress::Retrying { attempt, wait_ms, error: self.scrub(error) }
                }
                other => other,
            });
        };
        let result = match tokio::time::timeout(deadline, self.attempts(req, cancel, &scrubbed)).await {
            Ok(r) => r,
            Err(_) => Err(LlmError::Deadline { secs: deadline.as_secs() }),
        };
        match result {
            Ok(mut reply) => {
                reply.content = self.scrub(reply.content);
                Ok(reply)
            }
            Err(e) => {
                let e = e.map_message(|m| self.scrub(m));
                if !matches!(e, LlmError::Cancelled) {
                    tracing::warn!(sample = %req.sample_id, step = req.step.id(), "call failed: {e}");
                }
                Err(e)
            }
        }
    }

    /// Replaces the configured key wherever a server's words quote it: nothing a server
    /// sends is stored or shown with the key in it.
    pub fn scrub(&self, text: String) -> String {
        match &self.cfg.api_key {
            Some(k) if k.len() >= 4 && text.contains(k.as_str()) => text.replace(k.as_str(), "[api key]"),
            _ => text,
        }
    }

    async fn attempts(
        &self,
        req: &ChatRequest,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<ChatReply, LlmError> {
        let mut attempt = 1;
        let mut resent_stale = false;
        loop {
            let endpoint = self.pick_endpoint();
            let sent = std::time::Instant::now();
            let result = tokio::select! {
                r = self.attempt(endpoint, req, progress) => r,
                () = cancel.cancelled() => return Err(LlmError::Cancelled),
            };
            match result {
                Ok(mut reply) => {
                    self.adapt(Ok(sent.elapsed()));
                    reply.attempts = attempt;
                    return Ok(reply);
                }
                // A connection from the pool that the server had closed (llama.cpp closes
                // it after a streamed reply): the request never reached it, so it goes
                // again at once, once, on a fresh connection.
                Err((Attempt::Stale(_), _)) if !resent_stale => resent_stale = true,
                Err((Attempt::Failed(LlmError::Status { status: 400, message, .. }), _))
                    if req.response_format.is_some()
                        && self.cfg.structured_output == StructuredOutput::Auto
                        && mentions_response_format(&message) =>
                {
                    // Sent again at once without it; said once, by the first call to learn it
                    // (others in flight meet the same answer).
                    if !self.structured_off.swap(true, Ordering::SeqCst) {
                        progress(CallProgress::Notice(format!(
                            "structured outputs off: {} rejected response_format ({}); JSON replies are now parsed \
                         from free text (structured_output in button.toml)",
                            endpoint.url,
                            super::first_line(&message, 160)
                        )));
                    }
                }
                Err((e, retry_after)) => {
                    let e = e.into_error();
                    if matches!(e, LlmError::Status { status: 429, .. } | LlmError::Timeout { .. }) {
                        self.adapt(Err(&e));
                    }
                    if !(e.retryable() && attempt < self.cfg.max_attempts) {
                        return Err(e);
                    }
                    let wait = self.backoff(attempt, retry_after);
                    tracing::warn!(
                        sample = %req.sample_id,
                        step = req.step.id(),
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retry: {}",
                        self.scrub(e.to_string())
                    );
                    progress(CallProgress::Retrying {
                        attempt,
                        wait_ms: wait.as_millis() as u64,
                        error: e.to_string(),
                    });
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = cancel.cancelled() => return Err(LlmError::Cancelled),
                    }
                    attempt += 1;
                }
            }
        }
    }

    fn body(&self, req: &ChatRequest) -> Value {
        let mut body = json!({"model": self.cfg.model, "messages": req.messages, "stream": self.cfg.stream});
        if self.cfg.stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        if let Some(t) = self.cfg.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(m) = self.cfg.max_tokens.or(req.max_tokens) {
            body["max_tokens"] = json!(m);
        }
        if let Some(seed) = req.seed {
            body["seed"] = json!(seed);
        }
        if let Some(f) = &req.response_format
            && self.structured()
        {
            body["response_format"] = f.clone();
        }
        if let Value::Object(o) = &mut body {
            for (k, v) in &self.cfg.extra_body {
                o.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        body
    }

    async fn attempt(
        &self,
        endpoint: &Endpoint,
        req: &ChatRequest,
        progress: ProgressFn<'_>,
    ) -> Result<ChatReply, (Attempt, Option<Duration>)> {
        let url = format!("{}/chat/completions", endpoint.url.trim_end_matches('/'));
        let ep = endpoint.url.clone();
        let mut rb = self
            .http
            .post(&url)
            .header("X-Button-Step", req.step.id())
            .header("X-Button-Sample", &req.sample_id)
            .json(&self.body(req));
        if let Some(key) = &self.cfg.api_key {
            rb = rb.bearer_auth(key);
        }
        let resp = rb.send().await.map_err(|e| {
            let error = transport_error(&ep, &e, self.cfg.read_timeout);
            // Not a refused connection nor a timeout: the connection broke before any
            // answer, which is what a pooled connection the server closed looks like.
            if !e.is_connect() && !e.is_timeout() {
                (Attempt::Stale(error), None)
            } else {
                (Attempt::Failed(error), None)
            }
        })?;
        let status = resp.status();
        if !status.is_success() {
            // `retry-after-ms` (OpenAI's) is finer than `Retry-After` in seconds.
            let header = |name: &str| {
                resp.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
            };
            let retry_after = header("retry-after-ms")
                .map(|ms| Duration::from_millis(ms.max(0.0) as u64))
                .or_else(|| header("retry-after").map(|s| Duration::from_millis((s.max(0.0) * 1000.0) as u64)));
            let body = read_body(resp, MAX_ERROR_BODY, true).await.unwrap_or_default();
            let message = error_message(&String::from_utf8_lossy(&body));
            return Err((
                Attempt::Failed(LlmError::Status { endpoint: ep, status: status.as_u16(), message }),
                retry_after,
            ));
        }
        let reply = if self.cfg.stream {
            self.read_stream(resp, &ep, progress).await
        } else {
            match read_body(resp, self.cfg.max_reply_bytes, false).await {
                Ok(body) => parse_completion(&ep, &String::from_utf8_lossy(&body)),
                Err(BodyError::Transport(e)) => Err(transport_error(&ep, &e, self.cfg.read_timeout)),
                Err(BodyError::TooLarge) => {
                    Err(LlmError::TooLarge { endpoint: ep.clone(), limit: self.cfg.max_reply_bytes })
                }
            }
        };
        reply.map_err(|e| (Attempt::Failed(e), None))
    }

    async fn read_stream(
        &self,
        resp: reqwest::Response,
        ep: &str,
        progress: ProgressFn<'_>,
    ) -> Result<ChatReply, LlmError> {
        let mut stream = resp.bytes_stream();
        let mut sse = SseBuffer::default();
        let mut acc = StreamAccumulator::default();
        let mut received = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| transport_error(ep, &e, self.cfg.read_timeout))?;
            received += chunk.len();
            if received > self.cfg.max_reply_bytes {
                return Err(LlmError::TooLarge { endpoint: ep.to_string(), limit: self.cfg.max_reply_bytes });
            }
            for data in sse.push(&chunk) {
                if acc.feed(ep, &data)? {
                    return acc.finish(ep);
                }
                progress(CallProgress::Streaming { chars: acc.content.len() });
            }
        }
        acc.finish(ep)
    }
}

/// How one attempt failed.
enum Attempt {
    /// The request broke on a connection before any answer came.
    Stale(LlmError),
    Failed(LlmError),
}

impl Attempt {
    fn into_error(self) -> LlmError {
        match self {
            Attempt::Stale(e) | Attempt::Failed(e) => e,
        }
    }
}

/// A 400 that names the structured-output parameter: the endpoint does not take it.
fn mentions_response_format(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("response_format") || m.contains("json_schema") || m.contains("response format")
}

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads a body up to `limit` bytes. Past it: an error, or with `cut` the first `limit`
/// bytes (an error body is only read for its message).
async fn read_body(mut resp: reqwest::Response, limit: usize, cut: bool) -> Result<Vec<u8>, BodyError> {
    if !cut && resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            if cut {
                body.extend_from_slice(&chunk[..limit - body.len()]);
                return Ok(body);
            }
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport_error(ep: &str, e: &reqwest::Error, read_timeout: Duration) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout { endpoint: ep.to_string(), secs: read_timeout.as_secs() }
    } else if e.is_connect() {
        LlmError::Connect { endpoint: ep.to_string(), message: root_cause(e) }
    } else if e.is_body() || e.is_decode() {
        LlmError::Truncated { endpoint: ep.to_string(), message: root_cause(e) }
    } else {
        LlmError::Connect { endpoint: ep.to_string(), message: root_cause(e) }
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = s.to_string();
        src = s.source();
    }
    msg
}

/// The message of an error body (`{"error": {"message": ..}}` or text), kept short.
fn error_message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/message").or_else(|| v.get("error")).or_else(|| v.get("message")).and_then(|m| match m {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
    });
    let msg = from_json.unwrap_or_else(|| body.trim().to_string());
    let msg: String = msg.chars().take(300).collect();
    if msg.is_empty() { "(no message)".into() } else { msg }
}

fn usage_of(v: &Value) -> Option<Usage> {
    let u = v.get("usage")?;
    if u.is_null() {
        return None;
    }
    Some(Usage {
        prompt_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        completion_tokens: u.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0),
    })
}

pub fn parse_completion(ep: &str, body: &str) -> Result<ChatReply, LlmError> {
    let proto = |m: String| LlmError::Protocol { endpoint: ep.to_string(), message: m };
    let v: Value = serde_json::from_str(body).map_err(|e| proto(format!("the body is not JSON: {e}")))?;
    let choice = v.pointer("/choices/0").ok_or_else(|| proto("no choices in the reply".into()))?;
    let content = match choice.pointer("/message/content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let finish_reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .ok_or_else(|| proto("the reply has no finish_reason".into()))?
        .to_string();
    Ok(ChatReply {
        content,
        usage: usage_of(&v).unwrap_or_default(),
        finish_reason,
        attempts: 1,
        endpoint: ep.to_string(),
    })
}

/// Cuts a byte stream into server-sent events and returns their `data` payloads. Each byte
/// is looked at a bounded number of times, however the stream is cut into chunks: the search
/// for an event's end resumes where the last one stopped.
#[derive(Default)]
pub struct SseBuffer {
    buf: Vec<u8>,
    /// Bytes of `buf` known to hold no event boundary.
    scanned: usize,
    /// Bytes looked at by the boundary search, in all: what keeps it linear is checked by it.
    examined: u64,
}

impl SseBuffer {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        // A boundary is at most 4 bytes, so it may begin 3 bytes before the scanned part.
        let mut from = self.scanned.saturating_sub(3).max(start);
        loop {
            let found = find_event_end(&self.buf[from..]).map(|(i, n)| (from + i, n));
            self.examined += (found.map_or(self.buf.len(), |(end, sep)| end + sep) - from) as u64;
            let Some((end, sep)) = found else { break };
            let text = String::from_utf8_lossy(&self.buf[start..end]);
            let mut data = String::new();
            for line in text.lines() {
                if let Some(d) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            if !data.is_empty() {
                out.push(data);
            }
            start = end + sep;
            from = start;
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len();
        out
    }

    /// Bytes held waiting for the end of an event.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    pub fn examined(&self) -> u64 {
        self.examined
    }
}

/// The first event boundary: a blank line, ended by LF or CRLF.
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'\n', &buf[at..]).map(|i| at + i) {
        match buf.get(i + 1) {
            Some(b'\n') => return Some((i, 2)),
            Some(b'\r') if buf.get(i + 2) == Some(&b'\n') => {
                // "\r\n\r\n": the boundary starts at the first CR.
                let s = if i > 0 && buf[i - 1] == b'\r' { i - 1 } else { i };
                return Some((s, i + 3 - s));
            }
            _ => at = i + 1,
        }
    }
    None
}

/// Folds streamed chunks into a reply. A stream is complete only with `[DONE]` and a
/// finish reason; anything less is an error, never a short reply.
#[derive(Default)]
pub struct StreamAccumulator {
    pub content: String,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
}

impl StreamAccumulator {
    /// Takes one event's data; true once `[DONE]` has come.
    pub fn feed(&mut self, ep: &str, data: &str) -> Result<bool, LlmError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(true);
        }
        let v: Value = serde_json::from_str(data).map_err(|e| LlmError::Protocol {
            endpoint: ep.to_string(),
            message: format!("a stream chunk is not JSON: {e}"),
        })?;
        if let Some(err) = v.get("error") {
            return Err(LlmError::Status {
                endpoint: ep.to_string(),
                status: 500,
                message: error_message(&err.to_string()),
            });
        }
        if let Some(choice) = v.pointer("/choices/0") {
            if let Some(Value::String(s)) = choice.pointer("/delta/content") {
                self.content.push_str(s);
            }
            if let Some(Value::String(r)) = choice.get("finish_reason") {
                self.finish_reason = Some(r.clone());
            }
        }
        if let Some(u) = usage_of(&v) {
            self.usage = Some(u);
        }
        Ok(false)
    }

    pub fn finish(self, ep: &str) -> Result<ChatReply, LlmError> {
        let cut = |m: &str| LlmError::Truncated { endpoint: ep.to_string(), message: m.to_string() };
        if !self.done {
            return Err(cut(&format!("the stream ended without [DONE] after {} characters", self.content.len())));
        }
        let finish_reason = self.finish_reason.ok_or_else(|| cut("the stream ended without a finish reason"))?;
        Ok(ChatReply {
            content: self.content,
            usage: self.usage.unwrap_or_default(),
            finish_reason,
            attempts: 1,
            endpoint: ep.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_on_blank_lines_across_chunks() {
        let mut b = SseBuffer::default();
        assert!(b.push(b"data: {\"a\"").is_empty());
        assert_eq!(b.push(b": 1}\n\ndata: [DONE]\r\n\r\n: comment\n\n"), vec!["{\"a\": 1}", "[DONE]"]);
    }

    #[test]
    fn an_endless_line_is_searched_once_not_once_per_chunk() {
        let mut b = SseBuffer::default();
        b.push(b"data: ");
        let chunk = vec![b'a'; 1024];
        for _ in 0..10_000 {
            assert!(b.push(&chunk).is_empty());
        }
        let total = 6 + 10_000 * 1024u64;
        assert_eq!(b.pending() as u64, total);
        // Each byte once, plus the 3 bytes re-read at each chunk's seam (a boundary may
        // straddle two chunks); searching from the start every time would be ~5e10.
        assert!(b.examined() <= total + 3 * 10_001, "examined {} bytes for {total}", b.examined());
        // Events split anywhere, even inside the CRLF CRLF boundary, still come out.
        let mut b = SseBuffer::default();
        let stream = b"data: one\r\n\r\ndata: two\n\ndata: three\r\n\r\n";
        let mut out = Vec::new();
        for byte in stream {
            out.extend(b.push(std::slice::from_ref(byte)));
        }
        assert_eq!(out, vec!["one", "two", "three"]);
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn a_stream_needs_done_and_a_finish_reason() {
        let mut a = StreamAccumulator::default();
        a.feed("e", r#"{"choices":[{"delta":{"content":"Hel"}}]}"#).unwrap();
        a.feed("e", r#"{"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}"#).unwrap();
        assert!(matches!(a.finish("e"), Err(LlmError::Truncated { .. })));

        let mut a = StreamAccumulator::default();
        a.feed("e", r#"{"choices":[{"delta":{"content":"Hi"}}]}"#).unwrap();
        assert!(a.feed("e", "[DONE]").unwrap());
        assert!(a.finish("e").unwrap_err().to_string().contains("finish reason"));

        let mut a = StreamAccumulator::default();
        a.feed("e", r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#).unwrap();
        a.feed("e", r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}"#).unwrap();
        a.feed("e", "[DONE]").unwrap();
        let r = a.finish("e").unwrap();
        assert_eq!((r.content.as_str(), r.usage.prompt_tokens, r.usage.completion_tokens), ("Hi", 7, 2));
    }

    #[test]
    fn error_bodies_give_their_message() {
        assert_eq!(error_message(r#"{"error": {"message": "model not found"}}"#), "model not found");
        assert_eq!(error_message("Bad Gateway"), "Bad Gateway");
        assert_eq!(error_message(""), "(no message)");
    }

    #[tokio::test]
    async fn the_limiter_shrinks_as_permits_come_back_and_grows_at_once() {
        let l = Limiter::new(3);
        let a = l.acquire().await;
        let b = l.acquire().await;
        l.resize(1);
        assert_eq!(l.sem.available_permits(), 0);
        drop(a);
        drop(b);
        assert_eq!(l.sem.available_permits(), 1, "two permits were taken out as they came back");
        l.resize(4);
        assert_eq!(l.sem.available_permits(), 4);
    }
}
