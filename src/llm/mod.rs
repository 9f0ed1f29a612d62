//! The OpenAI-compatible client: the request and reply types, the errors, and `http`, which
//! talks to any endpoint that speaks the chat completions API. It knows nothing of the
//! simulator; `backend` chooses between the two.

pub mod http;

use crate::domain::Step;
use serde::{Deserialize, Serialize};

/// Whether JSON replies are constrained by a JSON Schema (`response_format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StructuredOutput {
    /// Sent; dropped for good (and said so) the first time the endpoint rejects it.
    #[default]
    Auto,
    On,
    Off,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: impl Into<String>) -> ChatMessage {
        ChatMessage { role: role.to_string(), content: content.into() }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub step: Step,
    pub sample_id: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<serde_json::Value>,
    /// Sent as the request's `seed`, so servers that honour it reproduce a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The reply's length bound for this step (the client's own setting wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

impl ChatRequest {
    /// What identifies a request's answer: model, step, sample and prompt. A resumed run asks
    /// the same thing for the same sample, so this keys the reuse of finished calls.
    pub fn hash(&self, model: &str) -> String {
        let mut h = blake3::Hasher::new();
        h.update(model.as_bytes());
        h.update(b"\0");
        h.update(self.step.id().as_bytes());
        h.update(b"\0");
        h.update(self.sample_id.as_bytes());
        if let Some(seed) = self.seed {
            h.update(b"\0seed");
            h.update(&seed.to_le_bytes());
        }
        if let Some(f) = &self.response_format {
            h.update(b"\0format");
            h.update(f.to_string().as_bytes());
        }
        for m in &self.messages {
            h.update(b"\0");
            h.update(m.role.as_bytes());
            h.update(b"\0");
            h.update(m.content.as_bytes());
        }
        h.finalize().to_hex().as_str()[..32].to_string()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChatReply {
    pub content: String,
    pub usage: Usage,
    pub finish_reason: String,
    pub attempts: u32,
    pub endpoint: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    #[error("{endpoint} answered {status}: {message}")]
    Status { endpoint: String, status: u16, message: String },
    #[error("cannot reach {endpoint}: {message}")]
    Connect { endpoint: String, message: String },
    #[error("{endpoint} sent nothing for {secs} s")]
    Timeout { endpoint: String, secs: u64 },
    #[error("the reply from {endpoint} stopped early: {message}")]
    Truncated { endpoint: String, message: String },
    #[error("the reply from {endpoint} is not what the API promises: {message}")]
    Protocol { endpoint: String, message: String },
    #[error("the reply from {endpoint} is over the {} MiB limit (max_reply_bytes in button.toml)", limit >> 20)]
    TooLarge { endpoint: String, limit: usize },
    #[error("the call took over its deadline of {secs} s (deadline_s in button.toml)")]
    Deadline { secs: u64 },
    #[error("cancelled")]
    Cancelled,
}

impl LlmError {
    /// The reason code a failed sample carries.
    pub fn reason(&self) -> &'static str {
        match self {
            LlmError::Status { status: 429, .. } => "rate_limited",
            LlmError::Status { status, .. } if *status >= 500 => "server_error",
            LlmError::Status { .. } => "request_rejected",
            LlmError::Connect { .. } => "unreachable",
            LlmError::Timeout { .. } => "timeout",
            LlmError::Truncated { .. } => "truncated",
            LlmError::Protocol { .. } => "protocol",
            LlmError::TooLarge { .. } => "reply_too_large",
            LlmError::Deadline { .. } => "deadline",
            LlmError::Cancelled => "cancelled",
        }
    }

    /// The same error with its server-given text passed through `f` (to scrub it).
    #[must_use]
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> LlmError {
        match self {
            LlmError::Status { endpoint, status, message } => {
                LlmError::Status { endpoint, status, message: f(message) }
            }
            LlmError::Connect { endpoint, message } => LlmError::Connect { endpoint, message: f(message) },
            LlmError::Truncated { endpoint, message } => LlmError::Truncated { endpoint, message: f(message) },
            LlmError::Protocol { endpoint, message } => LlmError::Protocol { endpoint, message: f(message) },
            other => other,
        }
    }

    /// The endpoint looks down (nothing answers, or nothing in time), as opposed to a
    /// reply that was wrong: what the run's circuit breaker counts.
    pub fn is_outage(&self) -> bool {
        matches!(self, LlmError::Connect { .. } | LlmError::Timeout { .. })
    }

    /// 429, 408, 5xx, connection trouble, timeouts and cut streams are worth another try;
    /// other 4xx are not.
    pub fn retryable(&self) -> bool {
        match self {
            LlmError::Status { status, .. } => *status == 429 || *status == 408 || *status >= 500,
            LlmError::Connect { .. } | LlmError::Timeout { .. } | LlmError::Truncated { .. } => true,
            // A reply too large would be as large again; a call past its deadline has had
            // its time.
            LlmError::Protocol { .. } | LlmError::TooLarge { .. } | LlmError::Deadline { .. } | LlmError::Cancelled => {
                false
            }
        }
    }
}

/// The first line of `text`, cut to `max` characters.
pub fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

/// What a call reports while it runs, for the progress display and the TUI.
#[derive(Clone, Debug, PartialEq)]
pub enum CallProgress {
    /// The call got its slot under the concurrency limit and goes out now.
    Sent,
    Streaming {
        chars: usize,
    },
    Retrying {
        attempt: u32,
        wait_ms: u64,
        error: String,
    },
    /// Something the client decided that a person should know (structured outputs turned
    /// off for an endpoint that rejects them).
    Notice(String),
}

pub type ProgressFn<'a> = &'a (dyn Fn(CallProgress) + Send + Sync);
