//! Scenario sources: the built-in seed list, a text file (one scenario a line), or chat logs
//! (glaive-function-calling-v2 rows with `system` and `chat`, or OpenAI-style `messages`)
//! whose scenario `scenario_extract` asks the LLM for.

use std::path::Path;

use serde_json::Value;

use crate::pipeline::ScenarioSource;

pub fn builtin() -> Vec<ScenarioSource> {
    crate::sim::seed_scenarios().into_iter().map(ScenarioSource::Text).collect()
}

/// Reads a scenario file: JSON Lines chat logs when its first line is a JSON object, else
/// one scenario a line (`#` starts a comment).
pub fn from_file(path: &Path) -> Result<Vec<ScenarioSource>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    let out: Vec<ScenarioSource> = if first.is_some_and(|l| l.starts_with('{')) {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: not a JSON chat log: {e}", path.display(), i + 1))?;
            let transcript = transcript(&v)
                .ok_or_else(|| format!("{}:{}: no \"chat\" or \"messages\" in the row", path.display(), i + 1))?;
            out.push(ScenarioSource::ChatLog(transcript));
        }
        out
    } else {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| ScenarioSource::Text(l.to_string()))
            .collect()
    };
    if out.is_empty() {
        return Err(format!("{} holds no scenario", path.display()));
    }
    Ok(out)
}

fn transcript(v: &Value) -> Option<String> {
    if let Some(chat) = v.get("chat").and_then(Value::as_str) {
        return Some(chat.trim().to_string());
    }
    let msgs = v.get("messages")?.as_array()?;
    let lines: Vec<String> = msgs
        .iter()
        .filter_map(|m| {
            let role = m.get("role").and_then(Value::as_str)?;
            let content = m.get("content").and_then(Value::as_str).unwrap_or("");
            (role != "system").then(|| format!("{role}: {content}"))
        })
        .collect();
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_and_both_chat_log_kinds_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("s.txt");
        std::fs::write(&t, "# mine\nrenting a kayak\n\nbuying a sofa\n").unwrap();
        assert_eq!(from_file(&t).unwrap().len(), 2);
        let j = dir.path().join("c.jsonl");
        std::fs::write(&j, "{\"system\": \"SYSTEM: tools\", \"chat\": \"USER: book a cab\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"find a vet\"}]}\n").unwrap();
        let s = from_file(&j).unwrap();
        assert!(matches!(&s[0], ScenarioSource::ChatLog(c) if c == "USER: book a cab"));
        assert!(matches!(&s[1], ScenarioSource::ChatLog(c) if c == "user: find a vet"));
        std::fs::write(&j, "{\"rows\": 1}\n").unwrap();
        assert!(from_file(&j).unwrap_err().contains("c.jsonl:1: no \"chat\" or \"messages\""));
        assert!(builtin().len() >= 100);
    }
}
