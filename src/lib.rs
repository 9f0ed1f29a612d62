//! button: generate multi-turn function-calling data with the BUTTON method, and curate it.

pub mod formats;
pub mod lint;
pub mod model;
pub mod ops;
pub mod store;
pub mod text;
pub mod parse;
pub mod llm;
pub mod prompts;
pub mod sim;
