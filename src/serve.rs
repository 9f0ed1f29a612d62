//! `button sim-serve`: the simulator behind an OpenAI-compatible HTTP server, with latency
//! and faults on demand, so tests and benchmarks exercise the real HTTP client. A small
//! HTTP/1.1 server (keep-alive, chunked SSE) is all it needs.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::domain::Step;
use crate::llm::ChatMessage;
use crate::rng::Rng;
use crate::sim::Simulator;

#[derive(Clone, Debug, Default)]
pub struct ServeConfig {
    pub latency_ms: u64,
    pub jitter_ms: u64,
    /// (status, share of requests) answered with that error.
    pub error_rates: Vec<(u16, f64)>,
    /// Share of streamed replies cut off half way.
    pub truncate_rate: f64,
    /// Seconds sent in `Retry-After` with 429s.
    pub retry_after_s: f64,
    /// An outage after every this many requests (0: never): for `down_for`, every
    /// connection is closed without an answer, as when a server restarts.
    pub down_every: u64,
    pub down_for: Duration,
    /// Requests in flight the server takes at most (0: no limit); beyond, 429 with
    /// `Retry-After` (and `retry-after-ms`, as `OpenAI` sends it).
    pub capacity: usize,
    /// Answer 400 to a request with a `response_format`, as a server without structured
    /// outputs does.
    pub reject_response_format: bool,
}

/// Parses `429=0.1,500=0.05`.
pub fn parse_error_rates(s: &str) -> Result<Vec<(u16, f64)>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (code, rate) = p.split_once('=').ok_or_else(|| format!("{p:?} is not STATUS=RATE"))?;
            let code: u16 = code.trim().parse().map_err(|_| format!("{code:?} is not an HTTP status"))?;
            let rate: f64 = rate.trim().parse().map_err(|_| format!("{rate:?} is not a number"))?;
            if !(400..600).contains(&code) || !(0.0..=1.0).contains(&rate) {
                return Err(format!("{p:?}: the status must be 4xx or 5xx and the rate between 0 and 1"));
            }
            Ok((code, rate))
        })
        .collect()
}

struct Shared {
    sim: Simulator,
    cfg: ServeConfig,
    counter: AtomicU64,
    pub requests: AtomicU64,
    in_flight: std::sync::atomic::AtomicUsize,
    down_until: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Shared {
    fn down(&self) -> bool {
        self.down_until.lock().expect("not poisoned").is_some_and(|t| std::time::Instant::now() < t)
    }
}

/// Serves until `shutdown` is cancelled. Returns the number of requests answered.
pub async fn serve(listener: TcpListener, sim: Simulator, cfg: ServeConfig, shutdown: CancellationToken) -> u64 {
    let shared = Arc::new(Shared {
        sim,
        cfg,
        counter: AtomicU64::new(1),
        requests: AtomicU64::new(0),
        in_flight: std::sync::atomic::AtomicUsize::new(0),
        down_until: std::sync::Mutex::new(None),
    });
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if shared.down() {
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        () = connection(stream, &shared) => {}
                        () = shutdown.cancelled() => {}
                    }
                });
            }
            () = shutdown.cancelled() => break,
        }
    }
    shared.requests.load(Ordering::Relaxed)
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

async fn read_request(r: &mut BufReader<tokio::net::tcp::ReadHalf<'_>>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).await.ok()?;
    Some(Request { method, path, headers, body })
}

async fn connection(mut stream: TcpStream, shared: &Shared) {
    let (read, mut write) = stream.split();
    let mut reader = BufReader::new(read);
    while let Some(req) = read_request(&mut reader).await {
        let n = shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if shared.cfg.down_every > 0 && n.is_multiple_of(shared.cfg.down_every) {
            *shared.down_until.lock().expect("not poisoned") = Some(std::time::Instant::now() + shared.cfg.down_for);
        }
        if shared.down() {
            return;
        }
        // A write error means the client went away: close.
        let keep: bool = respond(&req, &mut write, shared).await.unwrap_or_default();
        if !keep {
            return;
        }
    }
}

async fn write_simple(
    w: &mut (impl AsyncWriteExt + Unpin),
    status: u16,
    extra: &str,
    body: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        400 => "Bad Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    w.write_all(head.as_bytes()).await?;
    w.write_all(body.as_bytes()).await?;
    w.flush().await
}

/// Counts a request out of `in_flight` however it ends.
struct Leave<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers one request; false when the connection must close.
async fn respond(req: &Request, w: &mut (impl AsyncWriteExt + Unpin), shared: &Shared) -> std::io::Result<bool> {
    if req.method == "GET" && req.path.ends_with("/models") {
        write_simple(
            w,
            200,
            "",
            &json!({"object": "list", "data": [{"id": "simulator", "object": "model"}]}).to_string(),
        )
        .await?;
        return Ok(true);
    }
    if req.method != "POST" || !req.path.ends_with("/chat/completions") {
        write_simple(
            w,
            404,
            "",
            &json!({"error": {"message": format!("no route for {} {}", req.method, req.path)}}).to_string(),
        )
        .await?;
        return Ok(true);
    }
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let mut rng = Rng::new(shared.sim.seed ^ n.wrapping_mul(0x9e37_79b9));
    let cfg = &shared.cfg;
    let in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _leave = Leave(&shared.in_flight);
    if cfg.capacity > 0 && in_flight > cfg.capacity {
        let extra = format!(
            "Retry-After: {}\r\nretry-after-ms: {}\r\n",
            cfg.retry_after_s.ceil().max(1.0),
            (cfg.retry_after_s * 1000.0).round()
        );
        let msg = format!("over capacity: {} requests in flight, at most {}", in_flight - 1, cfg.capacity);
        write_simple(w, 429, &extra, &json!({"error": {"message": msg, "type": "rate_limit"}}).to_string()).await?;
        return Ok(true);
    }
    let delay = cfg.latency_ms + if cfg.jitter_ms > 0 { rng.below(cfg.jitter_ms as usize + 1) as u64 } else { 0 };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    for (status, rate) in &cfg.error_rates {
        if rng.chance(*rate) {
            let extra = if *status == 429 { format!("Retry-After: {}\r\n", cfg.retry_after_s) } else { String::new() };
            let body = json!({"error": {"message": format!("simulated {status}"), "type": "simulated"}}).to_string();
            write_simple(w, *status, &extra, &body).await?;
            return Ok(true);
        }
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            write_simple(w, 400, "", &json!({"error": {"message": format!("the body is not JSON: {e}")}}).to_string())
                .await?;
            return Ok(true);
        }
    };
    if cfg.reject_response_format && body.get("response_format").is_some_and(|f| !f.is_null()) {
        let msg = "Unrecognized request argument supplied: response_format";
        write_simple(w, 400, "", &json!({"error": {"message": msg, "type": "invalid_request_error"}}).to_string())
            .await?;
        return Ok(true);
    }
    let Some(step) = req.header("X-Button-Step").and_then(Step::from_id) else {
        let msg = "X-Button-Step is missing or names no step; the simulator needs it to know what to answer";
        write_simple(w, 400, "", &json!({"error": {"message": msg}}).to_string()).await?;
        return Ok(true);
    };
    let sample = req.header("X-Button-Sample").unwrap_or("");
    let messages: Vec<ChatMessage> = serde_json::from_value(body["messages"].clone()).unwrap_or_default();
    let structured = body.get("response_format").is_some_and(|f| !f.is_null());
    let content = shared.sim.reply(step, sample, body["seed"].as_u64(), &messages, structured);
    let prompt_tokens: usize = messages.iter().map(|m| m.content.len() / 4).sum();
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": content.len() / 4,
        "total_tokens": prompt_tokens + content.len() / 4});
    let stream = body["stream"].as_bool().unwrap_or(false);
    if !stream {
        let reply = json!({"id": format!("sim-{n}"), "object": "chat.completion", "model": "simulator",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": usage});
        write_simple(w, 200, "", &reply.to_string()).await?;
        return Ok(true);
    }
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
    w.write_all(head.as_bytes()).await?;
    let chars: Vec<char> = content.chars().collect();
    let pieces: Vec<String> = chars.chunks(48).map(|c| c.iter().collect()).collect();
    let truncate = rng.chance(cfg.truncate_rate);
    let mut events: Vec<String> = pieces
        .iter()
        .map(|p| json!({"id": format!("sim-{n}"), "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]}).to_string())
        .collect();
    events.push(json!({"id": format!("sim-{n}"), "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string());
    events.push(
        json!({"id": format!("sim-{n}"), "object": "chat.completion.chunk", "choices": [], "usage": usage}).to_string(),
    );
    events.push("[DONE]".into());
    let keep = if truncate { events.len() / 2 } else { events.len() };
    let mut buf = String::new();
    for e in &events[..keep] {
        let data = format!("data: {e}\n\n");
        let _ = write!(buf, "{:x}\r\n{data}\r\n", data.len());
    }
    if truncate {
        // Cut off: no closing chunk, and the connection goes.
        w.write_all(buf.as_bytes()).await?;
        w.flush().await?;
        return Ok(false);
    }
    buf.push_str("0\r\n\r\n");
    w.write_all(buf.as_bytes()).await?;
    w.flush().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rates_parse_and_bad_ones_say_why() {
        assert_eq!(parse_error_rates("429=0.1,500=0.05").unwrap(), vec![(429, 0.1), (500, 0.05)]);
        assert!(parse_error_rates("429").unwrap_err().contains("STATUS=RATE"));
        assert!(parse_error_rates("200=0.1").unwrap_err().contains("4xx or 5xx"));
        assert!(parse_error_rates("500=2").unwrap_err().contains("between 0 and 1"));
    }
}
