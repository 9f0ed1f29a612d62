//! What a run needs, from button.toml, the environment and the command line: the backend
//! (an HTTP client, probed, or the offline simulator), the run's settings, the scenarios and
//! the prompts. Shared by `button run --headless` and the TUI.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::backend::Backend;
use crate::config::Config;
use crate::llm::http::{Client, Endpoint};
use crate::pipeline::{RunConfig, ScenarioSource};
use crate::prompts::Prompts;

/// What the command line may set over button.toml.
#[derive(Clone, Debug, Default)]
pub struct RunArgs {
    pub samples: Option<usize>,
    /// A fixed limit of calls in flight over button.toml's.
    pub concurrency: Option<usize>,
    /// `--concurrency auto`: the limit follows the server.
    pub auto_concurrency: bool,
    pub endpoint: Option<String>,
    pub model: Option<String>,
    pub seed: Option<u64>,
    pub parallel: Option<bool>,
    pub stream: Option<bool>,
    pub scenarios: Option<PathBuf>,
    /// Make this seed's failed samples again, keeping each failed attempt as a version.
    pub retry_failed: bool,
}

pub struct Prepared {
    pub backend: Backend,
    pub run: RunConfig,
    pub sources: Vec<ScenarioSource>,
    pub prompts: Prompts,
    /// LLM calls in flight at once.
    pub concurrency: usize,
}

/// The run's settings and whether it will be simulated, without touching the network.
pub fn settings(cfg: &Config, a: &RunArgs) -> (RunConfig, Vec<Endpoint>) {
    let mut run = cfg.run_config();
    if let Some(n) = a.samples {
        run.samples = n;
    }
    if let Some(s) = a.seed {
        run.seed = s;
    }
    if let Some(p) = a.parallel {
        run.parallel = p;
    }
    run.retry_failed = a.retry_failed;
    if let Some(c) = a.concurrency {
        run.active_samples = run.active_samples.max(c * 8);
    }
    let endpoints = match &a.endpoint {
        Some(url) => vec![Endpoint { url: url.clone(), weight: 1 }],
        None => cfg.endpoints(std::env::var("OPENAI_BASE_URL").ok()),
    };
    (run, endpoints)
}

/// Everything a run needs; with an endpoint, the endpoint is probed first.
/// `paced`: the simulator answers after `[sim] latency_ms` (the TUI), or at once (headless).
pub async fn prepare(ws: &Path, cfg: &Config, a: &RunArgs, paced: bool) -> Result<Prepared> {
    let (run, endpoints) = settings(cfg, a);
    let sources = match &a.scenarios {
        Some(p) => crate::sources::from_file(p).map_err(anyhow::Error::msg)?,
        None => crate::sources::builtin(),
    };
    let prompts = Prompts::load(Some(ws))?;
    let (backend, concurrency) = if endpoints.is_empty() {
        let sim = crate::sim::Simulator { seed: run.seed, malformed_rate: cfg.sim.malformed_rate };
        let concurrency = a.concurrency.unwrap_or(cfg.llm.concurrency.start()).max(1);
        if paced {
            (Backend::Paced(Box::new(crate::backend::Paced::new(sim, cfg.sim.latency_ms, concurrency))), concurrency)
        } else {
            (Backend::Sim(sim), concurrency)
        }
    } else {
        let model = a
            .model
            .clone()
            .or(cfg.llm.model.clone())
            .or_else(|| std::env::var("BUTTON_MODEL").ok())
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!("no model named: pass --model, set [llm] model in button.toml, or BUTTON_MODEL")
            })?;
        let key = std::env::var(&cfg.llm.api_key_env).ok().filter(|k| !k.is_empty());
        let mut cc = cfg.client_config(endpoints, model, key);
        if let Some(c) = a.concurrency {
            cc.concurrency = c.max(1);
            cc.adaptive = false;
        } else if a.auto_concurrency {
            cc.concurrency = crate::config::Concurrency::AUTO_START;
            cc.adaptive = true;
        }
        if let Some(s) = a.stream {
            cc.stream = s;
        }
        let concurrency = cc.concurrency;
        let client = Client::new(cc)?;
        client.probe().await?;
        (Backend::Http(Box::new(client)), concurrency)
    };
    Ok(Prepared { backend, run, sources, prompts, concurrency })
}
