//! `button.toml` in the workspace, with the environment and the command line over it.
//! Secrets are never in it: it names the environment variable that holds the key.

use std::path::Path;

use serde::Deserialize;

use crate::llm::http::{ClientConfig, Endpoint};
use crate::pipeline::RunConfig;

pub const FILE: &str = "button.toml";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub llm: LlmSection,
    #[serde(default)]
    pub run: RunSection,
    #[serde(default)]
    pub sim: SimSection,
    #[serde(default)]
    pub tui: TuiSection,
    /// Key overrides for the TUI: action id = a key or a list of keys.
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, KeyList>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuiSection {
    /// dark (the default), light, high-contrast, or a theme of the workspace's themes/
    pub theme: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            KeyList::One(k) => vec![k.clone()],
            KeyList::Many(v) => v.clone(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSection {
    pub endpoint: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<EndpointEntry>,
    pub model: Option<String>,
    #[serde(default = "default_key_env")]
    pub api_key_env: String,
    #[serde(default = "yes")]
    pub stream: bool,
    #[serde(default)]
    pub concurrency: Concurrency,
    #[serde(default = "default_connect")]
    pub connect_timeout_s: u64,
    #[serde(default = "default_read")]
    pub read_timeout_s: u64,
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    #[serde(default = "default_max_reply")]
    pub max_reply_bytes: usize,
    #[serde(default = "default_deadline")]
    pub deadline_s: u64,
    /// Calls in a row that find the endpoint down (no connection, or no answer in time)
    /// before the run pauses and says so.
    #[serde(default = "default_breaker")]
    pub outage_after: u32,
    /// Whether JSON steps send their reply's JSON Schema (`response_format`).
    #[serde(default)]
    pub structured_output: crate::llm::StructuredOutput,
    /// Fields added to every request body, for what a server takes beyond the `OpenAI` API
    /// (llama.cpp's `cache_prompt`, vLLM's `top_k`, ...).
    #[serde(default)]
    pub extra_body: serde_json::Map<String, serde_json::Value>,
}

/// LLM calls in flight at once: a number, or `"auto"` (start low, follow the server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    Fixed(usize),
    Auto,
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency::Fixed(16)
    }
}

impl Concurrency {
    /// Where the limit starts: `auto` starts low.
    pub const AUTO_START: usize = 4;

    pub fn start(self) -> usize {
        match self {
            Concurrency::Fixed(n) => n,
            Concurrency::Auto => Self::AUTO_START,
        }
    }
}

impl std::str::FromStr for Concurrency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "auto" => Ok(Concurrency::Auto),
            n => match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Concurrency::Fixed(n)),
                _ => Err(format!("concurrency is \"auto\" or a number of at least 1, not {n:?}")),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(i64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) if n >= 1 => Ok(Concurrency::Fixed(n as usize)),
            Raw::N(n) => Err(serde::de::Error::custom(format!("concurrency must be at least 1, not {n}"))),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointEntry {
    pub url: String,
    #[serde(default = "one")]
    pub weight: u32,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Re-asks per step after a reply that can't be used.
    pub reasks: Option<u32>,
    /// Calls a generated trajectory must make before its final answer.
    pub min_calls: Option<usize>,
    pub samples: Option<usize>,
    pub seed: Option<u64>,
    pub parallel: Option<bool>,
    pub turn_limit: Option<usize>,
    pub parallel_mix: Option<f64>,
    pub atomic_per_scenario: Option<usize>,
    pub dedupe_threshold: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSection {
    #[serde(default = "default_malformed")]
    pub malformed_rate: f64,
    /// In the TUI the simulator answers after this long, so a run can be watched.
    #[serde(default = "default_sim_latency")]
    pub latency_ms: u64,
}

fn default_key_env() -> String {
    "OPENAI_API_KEY".into()
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_connect() -> u64 {
    10
}
fn default_read() -> u64 {
    120
}
fn default_attempts() -> u32 {
    6
}
fn default_max_reply() -> usize {
    crate::llm::http::DEFAULT_MAX_REPLY_BYTES
}
fn default_deadline() -> u64 {
    600
}
fn default_breaker() -> u32 {
    8
}
fn default_sim_latency() -> u64 {
    150
}
fn default_malformed() -> f64 {
    0.02
}

impl Default for LlmSection {
    fn default() -> Self {
        toml::from_str("").expect("the defaults parse")
    }
}

impl Default for SimSection {
    fn default() -> Self {
        SimSection { malformed_rate: default_malformed(), latency_ms: default_sim_latency() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

impl Config {
    /// The workspace's `button.toml`, or the defaults when there is none.
    pub fn load(workspace: &Path) -> Result<Config, ConfigError> {
        let path = workspace.join(FILE);
        if !path.exists() {
            return Ok(Config::default());
        }
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read(file.clone(), e))?;
        Config::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        // toml's own Display quotes the offending line, which may hold a secret someone put
        // there by mistake (`api_key = "sk-..."`): say where and what, never the line.
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            file: match e.span() {
                Some(span) => format!("{file}:{}", text[..span.start.min(text.len())].matches('\n').count() + 1),
                None => file.to_string(),
            },
            message: e.message().trim().to_string(),
        })?;
        let bad = |m: &str| Err(ConfigError::Invalid { file: file.to_string(), message: m.to_string() });
        if cfg.llm.max_reply_bytes < 1024 {
            return bad("[llm] max_reply_bytes must be at least 1024");
        }
        if cfg.llm.deadline_s == 0 || cfg.llm.outage_after == 0 {
            return bad("[llm] deadline_s and outage_after must be at least 1");
        }
        if let Some(k) = cfg.llm.extra_body.keys().find(|k| crate::llm::http::BODY_FIELDS.contains(&k.as_str())) {
            return bad(&format!("[llm] extra_body can't set {k:?}: button sets it (use its own setting)"));
        }
        if let Some(m) = cfg.run.parallel_mix
            && !(0.0..=1.0).contains(&m)
        {
            return bad("[run] parallel_mix must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&cfg.sim.malformed_rate) {
            return bad("[sim] malformed_rate must be between 0 and 1");
        }
        Ok(cfg)
    }

    /// The endpoints, from the file or `OPENAI_BASE_URL`; empty means the simulator.
    pub fn endpoints(&self, env_base_url: Option<String>) -> Vec<Endpoint> {
        let mut out: Vec<Endpoint> =
            self.llm.endpoints.iter().map(|e| Endpoint { url: e.url.clone(), weight: e.weight }).collect();
        if let Some(u) = &self.llm.endpoint {
            out.insert(0, Endpoint { url: u.clone(), weight: 1 });
        }
        if out.is_empty()
            && let Some(u) = env_base_url.filter(|u| !u.is_empty())
        {
            out.push(Endpoint { url: u, weight: 1 });
        }
        out
    }

    pub fn client_config(&self, endpoints: Vec<Endpoint>, model: String, api_key: Option<String>) -> ClientConfig {
        ClientConfig {
            endpoints,
            model,
            api_key,
            stream: self.llm.stream,
            concurrency: self.llm.concurrency.start(),
            adaptive: self.llm.concurrency == Concurrency::Auto,
            structured_output: self.llm.structured_output,
            connect_timeout: std::time::Duration::from_secs(self.llm.connect_timeout_s),
            read_timeout: std::time::Duration::from_secs(self.llm.read_timeout_s),
            max_attempts: self.llm.max_attempts,
            temperature: self.llm.temperature.or(Some(0.7)),
            max_tokens: self.llm.max_tokens,
            max_reply_bytes: self.llm.max_reply_bytes,
            deadline: std::time::Duration::from_secs(self.llm.deadline_s),
            extra_body: self.llm.extra_body.clone(),
            ..ClientConfig::default()
        }
    }

    pub fn run_config(&self) -> RunConfig {
        let d = RunConfig::default();
        let r = &self.run;
        RunConfig {
            samples: r.samples.unwrap_or(d.samples),
            seed: r.seed.unwrap_or(d.seed),
            parallel: r.parallel.unwrap_or(d.parallel),
            turn_limit: r.turn_limit.unwrap_or(d.turn_limit),
            parallel_mix: r.parallel_mix.unwrap_or(d.parallel_mix),
            atomic_per_scenario: r.atomic_per_scenario.unwrap_or(d.atomic_per_scenario),
            dedupe_threshold: r.dedupe_threshold.unwrap_or(d.dedupe_threshold),
            outage_after: self.llm.outage_after,
            retry_failed: false,
            reasks: r.reasks.unwrap_or(d.reasks),
            min_calls: r.min_calls.unwrap_or(d.min_calls),
            structured_output: self.llm.structured_output,
            active_samples: d.active_samples,
        }
    }
}

/// What `button init` writes: every setting, commented, with its default.
pub const TEMPLATE: &str = r#"# button.toml: settings for this workspace. Every line is optional; the values shown
# are the defaults. The command line wins over this file.

[llm]
# No endpoint: the offline simulator answers (replies are simulated, and say so).
# Any OpenAI-compatible server: vLLM, llama.cpp, Ollama, a hosted API. OPENAI_BASE_URL
# is used when no endpoint is set here.
# endpoint = "http://127.0.0.1:8080/v1"
# Several servers, calls spread by weight:
# endpoints = [{ url = "http://gpu1:8000/v1", weight = 2 }, { url = "http://gpu2:8000/v1", weight = 1 }]
# model = "Qwen2.5-7B-Instruct"          # or BUTTON_MODEL
# The environment variable holding the API key (never written anywhere by button).
api_key_env = "OPENAI_API_KEY"
stream = true
concurrency = 16               # or "auto": start at 4, raise while replies come back in time,
                              # cut by a quarter on a 429 or a timeout
connect_timeout_s = 10
read_timeout_s = 120
max_attempts = 6
max_reply_bytes = 8388608     # a longer reply fails its call (it is not retried)
deadline_s = 600              # the longest one call may take, retries included
outage_after = 8              # calls in a row finding the endpoint down pause the run
# temperature = 0.7
# max_tokens = 2048            # default: per step (4096 for functions, 1024 for dialogue turns, 512 for lines)
structured_output = "auto"    # JSON steps send their reply's JSON Schema (response_format); "auto" turns
                              # it off, and says so, when the endpoint rejects it; "on"; "off"
# extra_body = { cache_prompt = false }   # fields added to every request (llama.cpp: a run
                              # reproduces with the same seed only without its prompt cache)

[run]
# samples = 20                # the target number of samples for this seed
# seed = 0
# parallel = true             # allow parallel calls in dialogues
# turn_limit = 8              # assistant turns before a dialogue fails with turn_limit
# parallel_mix = 0.5          # share of parallel-then-sequential compositions
# atomic_per_scenario = 2
# dedupe_threshold = 0.8      # word-overlap similarity above which scenarios are duplicates
# reasks = 2                  # a reply that can't be used is asked again this often before the sample fails
# min_calls = 2               # calls a generated dialogue makes before its final answer

[sim]
malformed_rate = 0.02         # share of deliberately malformed simulated replies
latency_ms = 150              # in the TUI, each simulated reply takes this long (headless: at once)

[tui]
# theme = "dark"              # dark, light, high-contrast, or themes/NAME.toml of this workspace

[keys]
# accept = "a"                # any action of the TUI (? lists them) = a key or a list of keys
# reject = ["x", "ctrl-x"]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_template_parses_to_the_defaults() {
        let c = Config::parse(TEMPLATE, "button.toml").unwrap();
        assert!(c.llm.endpoint.is_none());
        assert_eq!(c.llm.concurrency, Concurrency::Fixed(16));
        assert_eq!(c.run_config().reasks, 2);
        assert_eq!(c.llm.structured_output, crate::llm::StructuredOutput::Auto);
        assert!(c.llm.extra_body.is_empty());
        let extra = Config::parse("[llm]\nextra_body = { cache_prompt = false, top_k = 20 }\n", "f").unwrap();
        assert_eq!(extra.llm.extra_body["cache_prompt"], serde_json::json!(false));
        assert_eq!(extra.client_config(vec![], "m".into(), None).extra_body["top_k"], serde_json::json!(20));
        let e = Config::parse("[llm]\nextra_body = { seed = 1 }\n", "f").unwrap_err().to_string();
        assert!(e.contains("extra_body can't set \"seed\": button sets it"), "{e}");
        let auto = Config::parse("[llm]\nconcurrency = \"auto\"\n", "f").unwrap();
        assert_eq!(auto.llm.concurrency, Concurrency::Auto);
        let e = Config::parse("[llm]\nconcurrency = \"lots\"\n", "f").unwrap_err().to_string();
        assert!(e.contains("\"auto\" or a number"), "{e}");
        let e = Config::parse("[llm]\nconcurrency = 0\n", "f").unwrap_err().to_string();
        assert!(e.contains("at least 1"), "{e}");
        assert_eq!(c.run_config().turn_limit, 8);
        assert!((c.sim.malformed_rate - 0.02).abs() < 1e-12);
    }

    #[test]
    fn bad_settings_say_which_file_and_what() {
        let e = Config::parse("[llm]\nconcurency = 4\n", "ws/button.toml").unwrap_err().to_string();
        assert!(e.starts_with("ws/button.toml:2: ") && e.contains("concurency"), "{e}");
        // A key written into the file by mistake is refused without being echoed.
        let e = Config::parse("[llm]\napi_key = \"sk-very-secret-123\"\n", "b.toml").unwrap_err().to_string();
        assert!(e.starts_with("b.toml:2: ") && e.contains("api_key"), "{e}");
        assert!(!e.contains("sk-very-secret-123"), "the secret was echoed: {e}");
        let e = Config::parse("[llm]\nmodel = \"sk-very-secret-123\n", "b.toml").unwrap_err().to_string();
        assert!(!e.contains("sk-very-secret-123"), "the secret was echoed: {e}");
        let e = Config::parse("[run]\nparallel_mix = 2.0\n", "b.toml").unwrap_err().to_string();
        assert!(e.contains("parallel_mix must be between 0 and 1"), "{e}");
    }

    #[test]
    fn endpoints_come_from_the_file_then_the_environment() {
        let c =
            Config::parse("[llm]\nendpoints = [{url = \"http://a/v1\", weight = 3}, {url = \"http://b/v1\"}]\n", "f")
                .unwrap();
        let e = c.endpoints(Some("http://env/v1".into()));
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].weight, e[1].weight), (3, 1));
        assert_eq!(Config::default().endpoints(Some("http://env/v1".into()))[0].url, "http://env/v1");
        assert!(Config::default().endpoints(None).is_empty());
    }
}
