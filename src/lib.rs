//! button: generate multi-turn function-calling data with the BUTTON method, and curate it.

pub mod backend;
pub mod compress;
pub mod config;
pub mod domain;
pub mod formats;
pub mod headless;
pub mod inspect;
pub mod json;
pub mod launch;
pub mod lint;
pub mod llm;
pub mod log;
pub mod model;
pub mod ops;
pub mod parse;
pub mod pipeline;
pub mod progress;
pub mod prompts;
pub mod rng;
pub mod serve;
pub mod sim;
pub mod sources;
pub mod store;
pub mod text;
pub mod tui;
