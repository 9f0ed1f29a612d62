//! Servers that misbehave on purpose, on 127.0.0.1: a huge body, an endless body, an endless
//! stream, an endless line, a trickle, a server that echoes the key. The client must end
//! every call with a reason, and the real binary must stay small in memory whatever it is
//! sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use button::domain::Step;
use button::llm::http::{Client, ClientConfig, Endpoint};
use button::llm::{ChatMessage, ChatRequest, LlmError};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// Content-Length of 2 GiB, and the bytes to go with it.
    HugeBody,
    /// A chunked body that never ends.
    EndlessChunked,
    /// A stream of well-formed events that never says [DONE].
    EndlessEvents,
    /// One `data:` line that never ends.
    EndlessLine,
    /// One byte every 200 ms.
    Trickle,
    /// 401 with the request's Authorization header quoted in the error.
    EchoKey,
}

/// Nothing a test server sends goes on past these, whatever the client does.
const SEND_LIMIT: u64 = 4 << 30;
const SEND_FOR: Duration = Duration::from_secs(90);

struct Server {
    url: String,
    sent: Arc<AtomicU64>,
    posts: Arc<AtomicU64>,
}

fn serve(kind: Hostile) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let posts = Arc::new(AtomicU64::new(0));
    let (s, p) = (sent.clone(), posts.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(stream) = stream else { return };
            let (s, p) = (s.clone(), p.clone());
            std::thread::spawn(move || connection(stream, kind, &s, &p));
        }
    });
    Server { url, sent, posts }
}

fn connection(mut stream: TcpStream, kind: Hostile, sent: &AtomicU64, posts: &AtomicU64) {
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if r.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    let (mut len, mut auth) = (0usize, String::new());
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
            if k.eq_ignore_ascii_case("authorization") {
                auth = v.trim().to_string();
            }
        }
    }
    let mut body = vec![0; len];
    let _ = r.read_exact(&mut body);
    if first.starts_with("GET") {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"data\":[]}");
        return;
    }
    posts.fetch_add(1, Ordering::SeqCst);
    let started = Instant::now();
    let mut send = |bytes: &[u8]| -> bool {
        if sent.load(Ordering::Relaxed) > SEND_LIMIT || started.elapsed() > SEND_FOR {
            return false;
        }
        sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        stream.write_all(bytes).is_ok()
    };
    let block = vec![b' '; 64 << 10];
    match kind {
        Hostile::HugeBody => {
            if send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2147483648\r\n\r\n{") {
                while send(&block) {}
            }
        }
        Hostile::EndlessChunked => {
            if send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n") {
                let chunk = [format!("{:x}\r\n", block.len()).as_bytes(), &block, b"\r\n"].concat();
                while send(&chunk) {}
            }
        }
        Hostile::EndlessEvents => {
            if send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n") {
                let text = "a".repeat(4000);
                let event = format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n");
                while send(event.as_bytes()) {}
            }
        }
        Hostile::EndlessLine => {
            if send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: ") {
                while send(&block) {}
            }
        }
        Hostile::Trickle => {
            if send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n") {
                while send(b" ") {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        Hostile::EchoKey => {
            let msg = format!("{{\"error\":{{\"message\":\"invalid credentials: {auth}\"}}}}");
            let _ = send(
                format!("HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}", msg.len())
                    .as_bytes(),
            );
        }
    }
}

fn client(url: &str, stream: bool, deadline: Duration, key: Option<&str>) -> Client {
    Client::new(ClientConfig {
        endpoints: vec![Endpoint { url: url.to_string(), weight: 1 }],
        model: "m".into(),
        stream,
        read_timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(20),
        max_reply_bytes: 1 << 20,
        deadline,
        api_key: key.map(String::from),
        ..ClientConfig::default()
    })
    .unwrap()
}

async fn ask(c: &Client) -> Result<button::llm::ChatReply, LlmError> {
    let req = ChatRequest {
        step: Step::AtomicTask,
        sample_id: "s0-000000".into(),
        messages: vec![ChatMessage::new("user", "Scenario: renting a kayak")],
        response_format: None,
        seed: Some(7),
        max_tokens: None,
    };
    c.complete(&req, &CancellationToken::new(), &|_| {}).await
}

#[tokio::test]
async fn replies_past_the_size_limit_fail_once_and_are_not_retried() {
    for (kind, stream) in [
        (Hostile::HugeBody, false),
        (Hostile::EndlessChunked, false),
        (Hostile::EndlessEvents, true),
        (Hostile::EndlessLine, true),
    ] {
        let s = serve(kind);
        let e = ask(&client(&s.url, stream, Duration::from_mins(1), None)).await.unwrap_err();
        assert!(matches!(e, LlmError::TooLarge { limit: 1_048_576, .. }), "{kind:?}: {e:?}");
        assert!(e.to_string().contains("over the 1 MiB limit (max_reply_bytes"), "{e}");
        assert!(!e.retryable());
        assert_eq!(s.posts.load(Ordering::SeqCst), 1, "{kind:?} was asked again");
    }
}

#[tokio::test]
async fn a_trickle_ends_at_the_call_deadline() {
    let s = serve(Hostile::Trickle);
    let started = Instant::now();
    let e = ask(&client(&s.url, false, Duration::from_secs(2), None)).await.unwrap_err();
    assert_eq!(e, LlmError::Deadline { secs: 2 });
    assert_eq!(e.reason(), "deadline");
    // A generous bound: the read timeout (5 s) alone would never fire.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_key_echoed_by_the_server_is_scrubbed() {
    let s = serve(Hostile::EchoKey);
    let e = ask(&client(&s.url, false, Duration::from_mins(1), Some("sk-live-0123456789"))).await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("invalid credentials: Bearer [api key]"), "{text}");
    assert!(!text.contains("sk-live-0123456789"), "{text}");
}

fn button_bin() -> &'static str {
    env!("CARGO_BIN_EXE_button")
}

/// Runs the binary to its end, reading its peak resident memory (`VmHWM`) while it runs.
fn run_measured(ws: &Path, args: &[&str], env: &[(&str, &str)]) -> (std::process::Output, u64) {
    let mut cmd = Command::new(button_bin());
    cmd.arg("--workspace")
        .arg(ws)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("OPENAI_BASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let status = format!("/proc/{}/status", child.id());
    let pid = child.id();
    let watcher = std::thread::spawn(move || {
        let mut peak = 0u64;
        let deadline = Instant::now() + Duration::from_mins(5);
        while Instant::now() < deadline {
            let Ok(text) = std::fs::read_to_string(&status) else { break };
            if text.contains("State:\tZ") {
                break;
            }
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = pid;
        peak
    });
    let out = child.wait_with_output().unwrap();
    (out, watcher.join().unwrap())
}

#[test]
fn against_every_hostile_server_the_binary_stays_under_300_mb_and_says_why() {
    for (kind, stream, reason) in [
        (Hostile::HugeBody, "off", "reply_too_large"),
        (Hostile::EndlessChunked, "off", "reply_too_large"),
        (Hostile::EndlessEvents, "on", "reply_too_large"),
        (Hostile::EndlessLine, "on", "reply_too_large"),
        (Hostile::Trickle, "off", "deadline"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::write(ws.join("button.toml"), "[llm]\ndeadline_s = 2\nconcurrency = 4\n").unwrap();
        let s = serve(kind);
        let (out, peak_kb) = run_measured(
            &ws,
            &["run", "--headless", "--samples", "4", "--endpoint", &s.url, "--model", "m", "--stream", stream],
            &[],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{kind:?}: {stdout}\n{stderr}");
        assert!(stdout.contains(&format!("llm_{reason}")), "{kind:?}: {stdout}");
        assert!(peak_kb > 0 && peak_kb < 300 * 1024, "{kind:?}: peak {peak_kb} kB");
        eprintln!("{kind:?}: peak {} MB, server sent {} MB", peak_kb / 1024, s.sent.load(Ordering::SeqCst) >> 20);
    }
}

#[test]
fn a_key_echoed_by_a_server_is_neither_stored_nor_shown() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let s = serve(Hostile::EchoKey);
    let secret = "sk-live-abcdef0123456789";
    let (out, _) = run_measured(
        &ws,
        &["run", "--headless", "--samples", "2", "--endpoint", &s.url, "--model", "m"],
        &[("OPENAI_API_KEY", secret)],
    );
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains("request_rejected"), "{printed}");
    assert!(!printed.contains(secret), "{printed}");
    let store = button::store::Store::open(&ws, false).unwrap();
    let calls = store.calls_for("s0-000000").unwrap();
    assert!(!calls.is_empty());
    for c in &calls {
        let e = c.error.as_deref().unwrap_or("");
        assert!(e.contains("[api key]") && !e.contains(secret), "stored: {e}");
    }
    drop(store);
    let db = std::fs::read(ws.join("button.db")).unwrap();
    let wal = std::fs::read(ws.join("button.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the key is in the workspace files");
    }
    let show = Command::new(button_bin()).arg("--workspace").arg(&ws).args(["show", "s0-000000"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&show.stdout).contains(secret));
}
