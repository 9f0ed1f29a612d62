//! Diffs of edits: a line diff for text, a semantic one for function schemas (functions
//! and parameters added or removed, `required` changed, types changed).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::model::FunctionDef;

/// Hunks: runs of unchanged lines longer than twice `context` are cut to `context` lines
/// on each side of a change, the rest said in one line ("… 12 unchanged lines …").
pub fn hunks(lines: Vec<(Tag, String)>, context: usize) -> Vec<(Tag, String)> {
    let n = lines.len();
    let changed: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| l.0 != Tag::Same).map(|(i, _)| i).collect();
    if changed.is_empty() {
        return if n > 2 * context { vec![(Tag::Same, format!("… {n} lines, all unchanged …"))] } else { lines };
    }
    let near = |i: usize| changed.iter().any(|c| c.abs_diff(i) <= context);
    let mut out = Vec::new();
    let mut skipped = 0;
    for (i, l) in lines.into_iter().enumerate() {
        if l.0 != Tag::Same || near(i) {
            if skipped > 0 {
                out.push((Tag::Same, format!("… {skipped} unchanged line{} …", if skipped == 1 { "" } else { "s" })));
                skipped = 0;
            }
            out.push(l);
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        out.push((Tag::Same, format!("… {skipped} unchanged line{} …", if skipped == 1 { "" } else { "s" })));
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    Same,
    Removed,
    Added,
}

/// The lines of `old` and `new`, each kept, removed or added. A last line without its
/// newline is the same line as with it (no spurious change).
pub fn line_diff(old: &str, new: &str) -> Vec<(Tag, String)> {
    let ended = |s: &str| if s.is_empty() || s.ends_with('\n') { s.to_string() } else { format!("{s}\n") };
    let (old, new) = (ended(old), ended(new));
    TextDiff::from_lines(&old, &new)
        .iter_all_changes()
        .map(|c| {
            let tag = match c.tag() {
                ChangeTag::Equal => Tag::Same,
                ChangeTag::Delete => Tag::Removed,
                ChangeTag::Insert => Tag::Added,
            };
            (tag, c.value().trim_end_matches('\n').to_string())
        })
        .collect()
}

fn functions_in(v: &Value) -> Vec<FunctionDef> {
    // A tool list, or groups by sub-task.
    let items: Vec<Value> = match v {
        Value::Array(a) if a.iter().all(|g| g.get("functions").is_some()) && !a.is_empty() => {
            a.iter().flat_map(|g| g["functions"].as_array().cloned().unwrap_or_default()).collect()
        }
        Value::Array(a) => a.clone(),
        _ => Vec::new(),
    };
    items.iter().filter_map(|f| FunctionDef::from_owned(f.clone().into()).ok()).collect()
}

fn param_types(f: &FunctionDef) -> BTreeMap<String, String> {
    f.properties()
        .map(|p| {
            p.iter()
                .map(|(k, v)| {
                    (k.to_string(), v.get("type").map_or("any".into(), |t| t.to_string().trim_matches('"').to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What changed between two sets of function schemas, one sentence a change.
pub fn schema_diff(old: &Value, new: &Value) -> Vec<(Tag, String)> {
    let (a, b) = (functions_in(old), functions_in(new));
    let names = |fs: &[FunctionDef]| fs.iter().map(|f| f.name.clone()).collect::<BTreeSet<_>>();
    let (na, nb) = (names(&a), names(&b));
    let mut out = Vec::new();
    for n in na.difference(&nb) {
        out.push((Tag::Removed, format!("function {n} removed")));
    }
    for n in nb.difference(&na) {
        out.push((Tag::Added, format!("function {n} added")));
    }
    for n in na.intersection(&nb) {
        let fa = a.iter().find(|f| &f.name == n).expect("in a");
        let fb = b.iter().find(|f| &f.name == n).expect("in b");
        let (ta, tb) = (param_types(fa), param_types(fb));
        for p in ta.keys().filter(|p| !tb.contains_key(*p)) {
            out.push((Tag::Removed, format!("{n}: parameter {p} removed")));
        }
        for (p, t) in tb.iter().filter(|(p, _)| !ta.contains_key(*p)) {
            out.push((Tag::Added, format!("{n}: parameter {p} ({t}) added")));
        }
        for (p, t) in &tb {
            if let Some(old_t) = ta.get(p).filter(|o| *o != t) {
                out.push((Tag::Added, format!("{n}: parameter {p} type {old_t} -> {t}")));
            }
        }
        let ra: BTreeSet<&str> = fa.required().collect();
        let rb: BTreeSet<&str> = fb.required().collect();
        if ra != rb {
            out.push((Tag::Added, format!("{n}: required {ra:?} -> {rb:?}")));
        }
        if fa.description != fb.description {
            out.push((Tag::Added, format!("{n}: description changed")));
        }
    }
    if out.is_empty() {
        out.push((Tag::Same, "no change to the functions".into()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_diff_shows_hunks_with_context_and_no_change_where_only_the_last_newline_differs() {
        let old: String = (1..=20).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n") + "\n";
        let new = old.replace("line 10\n", "line ten\n");
        let d = hunks(line_diff(&old, new.trim_end()), 2);
        let text: Vec<String> = d
            .iter()
            .map(|(t, s)| {
                format!(
                    "{}{s}",
                    match t {
                        Tag::Same => " ",
                        Tag::Removed => "-",
                        Tag::Added => "+",
                    }
                )
            })
            .collect();
        assert_eq!(
            text,
            [
                " … 7 unchanged lines …",
                " line 8",
                " line 9",
                "-line 10",
                "+line ten",
                " line 11",
                " line 12",
                " … 8 unchanged lines …"
            ]
        );
        assert_eq!(hunks(line_diff("a\nb", "a\nb\n"), 3), [(Tag::Same, "a".into()), (Tag::Same, "b".into())]);
    }

    #[test]
    fn schema_diff_names_each_change() {
        let old = json!([{"name": "f", "description": "d", "parameters": {"type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}},
            {"name": "g", "description": "d", "parameters": {"type": "object", "properties": {}}}]);
        let new = json!([{"sub_task": "s", "functions": [{"name": "f", "description": "d2", "parameters": {"type": "object",
            "properties": {"a": {"type": "number"}, "c": {"type": "string"}}, "required": ["a", "c"]}},
            {"name": "h", "description": "d", "parameters": {"type": "object", "properties": {}}}]}]);
        let d: Vec<String> = schema_diff(&old, &new).into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            d,
            [
                "function g removed",
                "function h added",
                "f: parameter b removed",
                "f: parameter c (string) added",
                "f: parameter a type string -> number",
                "f: required {\"a\"} -> {\"a\", \"c\"}",
                "f: description changed",
            ]
        );
    }

    #[test]
    fn line_diff_marks_lines() {
        let d = line_diff("a\nb\nc", "a\nB\nc");
        assert_eq!(
            d,
            vec![
                (Tag::Same, "a".into()),
                (Tag::Removed, "b".into()),
                (Tag::Added, "B".into()),
                (Tag::Same, "c".into())
            ]
        );
    }
}
