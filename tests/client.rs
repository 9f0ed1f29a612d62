//! The HTTP client against a scripted server on 127.0.0.1: retries, Retry-After, cut
//! streams, read timeouts, cancellation, 4xx, usage, headers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use button::domain::Step;
use button::llm::http::{Client, ClientConfig, Endpoint};
use button::llm::{ChatMessage, ChatRequest, LlmError};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What the scripted server does with one request.
#[derive(Clone)]
enum Reply {
    /// Write these bytes, then close.
    Raw(String),
    /// Write these bytes, then hold the connection open without a word.
    RawThenStall(String),
}

struct Seen {
    headers: Vec<Vec<(String, String)>>,
    bodies: Vec<serde_json::Value>,
}

/// One request off a connection: its headers (names in lower case) and body; None when
/// the connection closes first.
async fn read_request(
    r: &mut (impl AsyncBufReadExt + AsyncReadExt + Unpin),
) -> Option<(Vec<(String, String)>, Vec<u8>)> {
    let mut line = String::new();
    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
        return None;
    }
    let mut headers = vec![];
    let mut len = 0;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).await.unwrap();
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        if k.eq_ignore_ascii_case("content-length") {
            len = v.trim().parse().unwrap();
        }
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await.unwrap();
    Some((headers, body))
}

async fn server(script: Vec<Reply>) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen { headers: vec![], bodies: vec![] }));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        let mut script = script.into_iter();
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let Some(reply) = script.next() else { return };
            let seen = seen2.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.split();
                let mut r = BufReader::new(r);
                let (headers, body) = read_request(&mut r).await.unwrap();
                {
                    let mut s = seen.lock().unwrap();
                    s.headers.push(headers);
                    s.bodies.push(serde_json::from_slice(&body).unwrap_or_default());
                }
                match reply {
                    Reply::Raw(bytes) => {
                        w.write_all(bytes.as_bytes()).await.unwrap();
                        w.shutdown().await.ok();
                    }
                    Reply::RawThenStall(bytes) => {
                        w.write_all(bytes.as_bytes()).await.unwrap();
                        w.flush().await.unwrap();
                        tokio::time::sleep(Duration::from_mins(1)).await;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/v1"), seen)
}

fn json_response(status: &str, extra: &str, body: &str) -> Reply {
    Reply::Raw(format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    ))
}

fn completion(content: &str) -> Reply {
    let body = serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3}})
    .to_string();
    json_response("200 OK", "", &body)
}

fn sse_head() -> String {
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n".to_string()
}

fn client(url: &str, stream: bool, f: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = ClientConfig {
        endpoints: vec![Endpoint { url: url.to_string(), weight: 1 }],
        model: "m".into(),
        stream,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        read_timeout: Duration::from_secs(5),
        ..ClientConfig::default()
    };
    f(&mut cfg);
    Client::new(cfg).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        step: Step::AtomicTask,
        sample_id: "s7-000001".into(),
        messages: vec![ChatMessage::new("user", "Scenario: renting a kayak")],
        response_format: None,
        seed: None,
        max_tokens: None,
    }
}

async fn complete(c: &Client) -> Result<button::llm::ChatReply, LlmError> {
    c.complete(&request(), &CancellationToken::new(), &|_| {}).await
}

#[tokio::test]
async fn a_reply_carries_usage_and_the_request_carries_step_sample_and_key() {
    let (url, seen) = server(vec![completion("Rent a kayak in Bergen on 3 May.")]).await;
    let c = client(&url, false, |c| c.api_key = Some("sk-test".into()));
    let r = complete(&c).await.unwrap();
    assert_eq!(r.content, "Rent a kayak in Bergen on 3 May.");
    assert_eq!((r.usage.prompt_tokens, r.usage.completion_tokens, r.attempts), (11, 3, 1));
    let s = seen.lock().unwrap();
    let h = &s.headers[0];
    let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("x-button-step").as_deref(), Some("atomic_task"));
    assert_eq!(get("x-button-sample").as_deref(), Some("s7-000001"));
    assert_eq!(get("authorization").as_deref(), Some("Bearer sk-test"));
    assert_eq!(s.bodies[0]["model"], "m");
    assert_eq!(s.bodies[0]["stream"], false);
}

#[tokio::test]
async fn no_key_no_authorization_header() {
    let (url, seen) = server(vec![completion("x")]).await;
    complete(&client(&url, false, |_| {})).await.unwrap();
    assert!(seen.lock().unwrap().headers[0].iter().all(|(k, _)| k != "authorization"));
}

#[tokio::test]
async fn server_errors_are_retried_until_a_reply_comes() {
    let (url, seen) = server(vec![
        json_response("500 Internal Server Error", "", "{\"error\": {\"message\": \"boom\"}}"),
        json_response("503 Service Unavailable", "", "busy"),
        json_response("408 Request Timeout", "", ""),
        completion("ok"),
    ])
    .await;
    let retries = Arc::new(Mutex::new(Vec::new()));
    let r2 = retries.clone();
    let c = client(&url, false, |_| {});
    let r = c
        .complete(&request(), &CancellationToken::new(), &move |p| r2.lock().unwrap().push(format!("{p:?}")))
        .await
        .unwrap();
    assert_eq!((r.content.as_str(), r.attempts), ("ok", 4));
    assert_eq!(seen.lock().unwrap().headers.len(), 4);
    let progress = retries.lock().unwrap();
    // Sent once (its slot under the limit), then three retries.
    assert_eq!(progress[0], "Sent");
    let retries: Vec<&String> = progress.iter().filter(|p| p.starts_with("Retrying")).collect();
    assert_eq!(retries.len(), 3);
    assert!(retries[0].contains("boom"), "{retries:?}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (url, _) = server(vec![
        json_response("429 Too Many Requests", "Retry-After: 0.4\r\n", "{\"error\": {\"message\": \"slow down\"}}"),
        completion("ok"),
    ])
    .await;
    let c = client(&url, false, |_| {});
    let t = Instant::now();
    let r = complete(&c).await.unwrap();
    assert_eq!(r.attempts, 2);
    assert!(t.elapsed() >= Duration::from_millis(400), "waited {:?}", t.elapsed());
}

#[tokio::test]
async fn other_4xx_are_not_retried_and_say_what_the_server_said() {
    let (url, seen) =
        server(vec![json_response("400 Bad Request", "", "{\"error\": {\"message\": \"model m does not exist\"}}")])
            .await;
    let e = complete(&client(&url, false, |_| {})).await.unwrap_err();
    assert!(matches!(e, LlmError::Status { status: 400, .. }));
    assert!(e.to_string().contains("model m does not exist"), "{e}");
    assert!(!e.retryable());
    assert_eq!(seen.lock().unwrap().headers.len(), 1);
}

#[tokio::test]
async fn a_stream_is_read_to_done_with_usage() {
    let body = sse_head()
        + "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
        + "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
        + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n"
        + "data: [DONE]\n\n";
    let (url, seen) = server(vec![Reply::Raw(body)]).await;
    let chars = Arc::new(Mutex::new(0usize));
    let c2 = chars.clone();
    let c = client(&url, true, |_| {});
    let r = c
        .complete(&request(), &CancellationToken::new(), &move |p| {
            if let button::llm::CallProgress::Streaming { chars } = p {
                *c2.lock().unwrap() = chars;
            }
        })
        .await
        .unwrap();
    assert_eq!(r.content, "Hello");
    assert_eq!((r.usage.prompt_tokens, r.usage.completion_tokens), (5, 2));
    assert_eq!(*chars.lock().unwrap(), 5);
    assert_eq!(seen.lock().unwrap().bodies[0]["stream"], true);
}

#[tokio::test]
async fn a_stream_cut_before_done_is_an_error_and_is_retried() {
    let cut = sse_head() + "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n";
    let (url, seen) = server(vec![Reply::Raw(cut.clone()), Reply::Raw(cut)]).await;
    let c = client(&url, true, |c| c.max_attempts = 2);
    let e = complete(&c).await.unwrap_err();
    assert!(matches!(e, LlmError::Truncated { .. }), "{e:?}");
    assert!(e.to_string().contains("without [DONE]"), "{e}");
    assert_eq!(seen.lock().unwrap().headers.len(), 2);
}

#[tokio::test]
async fn a_silent_server_times_out_on_read() {
    let (url, _) =
        server(vec![Reply::RawThenStall(sse_head() + "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n")])
            .await;
    let c = client(&url, true, |c| {
        c.read_timeout = Duration::from_millis(300);
        c.max_attempts = 1;
    });
    let t = Instant::now();
    let e = complete(&c).await.unwrap_err();
    assert!(matches!(e, LlmError::Timeout { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn cancel_stops_a_stream_in_the_middle() {
    let (url, _) =
        server(vec![Reply::RawThenStall(sse_head() + "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n")])
            .await;
    let c = client(&url, true, |_| {});
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let req = request();
    let on_progress = move |p: button::llm::CallProgress| {
        if matches!(p, button::llm::CallProgress::Streaming { .. }) {
            trigger.cancel();
        }
    };
    let call = c.complete(&req, &cancel, &on_progress);
    let e = tokio::time::timeout(Duration::from_secs(10), call).await.expect("cancel ends the call").unwrap_err();
    assert_eq!(e, LlmError::Cancelled);
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let c = client(&url, false, |c| c.max_attempts = 2);
    let e = complete(&c).await.unwrap_err();
    assert!(matches!(e, LlmError::Connect { .. }), "{e:?}");
    assert!(c.probe().await.is_err());
}

#[tokio::test]
async fn calls_spread_over_endpoints_by_weight() {
    let (a, seen_a) = server((0..3).map(|_| completion("a")).collect()).await;
    let (b, seen_b) = server((0..3).map(|_| completion("b")).collect()).await;
    let c = Client::new(ClientConfig {
        endpoints: vec![Endpoint { url: a, weight: 2 }, Endpoint { url: b, weight: 1 }],
        model: "m".into(),
        stream: false,
        ..ClientConfig::default()
    })
    .unwrap();
    for _ in 0..3 {
        complete(&c).await.unwrap();
    }
    assert_eq!(seen_a.lock().unwrap().headers.len(), 2);
    assert_eq!(seen_b.lock().unwrap().headers.len(), 1);
}

/// A server that answers on keep-alive connections but drops the second request it reads
/// without a word, as llama.cpp does on a connection it closed after a streamed reply.
async fn server_dropping_second_request() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let n = n.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.split();
                let mut r = BufReader::new(r);
                while read_request(&mut r).await.is_some() {
                    if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == 2 {
                        return; // closed, unanswered
                    }
                    let body = serde_json::json!({"choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]})
                        .to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    w.write_all(head.as_bytes()).await.unwrap();
                    w.write_all(body.as_bytes()).await.unwrap();
                    w.flush().await.unwrap();
                }
            });
        }
    });
    (format!("http://{addr}/v1"), count)
}

#[tokio::test]
async fn a_request_on_a_pooled_connection_the_server_closed_goes_again_at_once() {
    let (url, count) = server_dropping_second_request().await;
    // A long backoff: a retry that waited for it would be seen.
    let c = client(&url, false, |cfg| {
        cfg.backoff_base = Duration::from_secs(5);
        cfg.backoff_max = Duration::from_secs(5);
    });
    complete(&c).await.unwrap();
    let retried = Arc::new(Mutex::new(Vec::new()));
    let r = retried.clone();
    let started = std::time::Instant::now();
    let reply = c
        .complete(&request(), &CancellationToken::new(), &move |p| {
            if let button::llm::CallProgress::Retrying { wait_ms, .. } = p {
                r.lock().unwrap().push(wait_ms);
            }
        })
        .await
        .unwrap();
    assert_eq!(reply.content, "ok");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3, "sent again after the dropped one");
    assert!(retried.lock().unwrap().is_empty(), "no backoff: {:?}", retried.lock().unwrap());
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn the_step_bounds_the_reply_unless_button_toml_does() {
    let (url, seen) = server(vec![completion("a"), completion("b")]).await;
    let mut req = request();
    req.max_tokens = Some(512);
    req.seed = Some(42);
    let c = client(&url, false, |_| {});
    c.complete(&req, &CancellationToken::new(), &|_| {}).await.unwrap();
    let c = client(&url, false, |cfg| cfg.max_tokens = Some(100));
    c.complete(&req, &CancellationToken::new(), &|_| {}).await.unwrap();
    let s = seen.lock().unwrap();
    assert_eq!(s.bodies[0]["max_tokens"], 512);
    assert_eq!(s.bodies[0]["seed"], 42);
    assert_eq!(s.bodies[1]["max_tokens"], 100);
}

#[tokio::test]
async fn extra_body_fields_go_into_every_request_beside_the_clients_own() {
    let (url, seen) = server(vec![completion("a")]).await;
    let mut req = request();
    req.seed = Some(7);
    let c = client(&url, false, |cfg| {
        cfg.extra_body.insert("cache_prompt".into(), serde_json::json!(false));
        cfg.extra_body.insert("top_k".into(), serde_json::json!(20));
    });
    c.complete(&req, &CancellationToken::new(), &|_| {}).await.unwrap();
    let s = seen.lock().unwrap();
    assert_eq!(s.bodies[0]["cache_prompt"], false);
    assert_eq!(s.bodies[0]["top_k"], 20);
    assert_eq!(s.bodies[0]["seed"], 7);
}
