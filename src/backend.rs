//! Where replies come from: an OpenAI-compatible endpoint, the offline simulator, or the
//! simulator paced like a server. The pipeline asks a `Backend`; the client (`llm`) and the
//! simulator (`sim`) know nothing of each other.

use tokio_util::sync::CancellationToken;

use crate::llm::http::Limiter;
use crate::llm::{CallProgress, ChatReply, ChatRequest, LlmError, ProgressFn};
use crate::sim::Simulator;

/// Where replies come from.
pub enum Backend {
    Http(Box<crate::llm::http::Client>),
    Sim(Simulator),
    /// The simulator answering like a server would: each reply after `latency_ms`, with at
    /// most `concurrency` in flight (resizable). The TUI uses it so a run can be watched.
    Paced(Box<Paced>),
}

pub struct Paced {
    pub sim: Simulator,
    pub latency_ms: u64,
    limiter: Limiter,
}

impl Paced {
    pub fn new(sim: Simulator, latency_ms: u64, concurrency: usize) -> Paced {
        Paced { sim, latency_ms, limiter: Limiter::new(concurrency) }
    }
}

impl Backend {
    pub async fn complete(
        &self,
        req: &ChatRequest,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
    ) -> Result<ChatReply, LlmError> {
        match self {
            Backend::Http(c) => c.complete(req, cancel, progress).await,
            Backend::Sim(s) => {
                if cancel.is_cancelled() {
                    return Err(LlmError::Cancelled);
                }
                progress(CallProgress::Sent);
                Ok(s.complete(req))
            }
            Backend::Paced(p) => {
                let _permit = p.limiter.slot(cancel, progress).await?;
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_millis(p.latency_ms)) => {}
                    () = cancel.cancelled() => return Err(LlmError::Cancelled),
                }
                Ok(p.sim.complete(req))
            }
        }
    }

    pub fn is_simulated(&self) -> bool {
        matches!(self, Backend::Sim(_) | Backend::Paced(_))
    }

    pub fn model(&self) -> &str {
        match self {
            Backend::Http(c) => c.model(),
            Backend::Sim(_) | Backend::Paced(_) => "simulator",
        }
    }

    /// Why the adaptive concurrency limit last changed; empty when it is fixed.
    pub fn concurrency_note(&self) -> String {
        match self {
            Backend::Http(c) => c.concurrency_note(),
            Backend::Sim(_) | Backend::Paced(_) => String::new(),
        }
    }

    /// Holds the calls not sent yet (the run is paused: only calls already sent finish), or
    /// lets them go. The instant simulator has nothing waiting to hold.
    pub fn hold(&self, held: bool) {
        match self {
            Backend::Http(c) => c.hold(held),
            Backend::Paced(p) => p.limiter.hold(held),
            Backend::Sim(_) => {}
        }
    }

    pub fn set_concurrency(&self, n: usize) {
        match self {
            Backend::Http(c) => c.set_concurrency(n),
            Backend::Paced(p) => p.limiter.resize(n),
            Backend::Sim(_) => {}
        }
    }

    /// LLM calls in flight at most; None when unlimited (the instant simulator).
    pub fn concurrency(&self) -> Option<usize> {
        match self {
            Backend::Http(c) => Some(c.concurrency()),
            Backend::Paced(p) => Some(p.limiter.size()),
            Backend::Sim(_) => None,
        }
    }
}
