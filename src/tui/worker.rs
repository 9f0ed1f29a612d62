//! The store side of the TUI: a thread with its own connection runs the store effects, so a
//! key never waits on the disk. Between requests it builds the search index in the
//! background. `execute` is the same code the tests call directly.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::app::{Detail, Msg, StoreFx};
use crate::lint::{self, Layout};
use crate::model::{Message, Origin};
use crate::store::{CallRow, StatusFilter, Store};

/// Rows indexed per background step: small enough that a request waits at most a few ms.
const INDEX_CHUNK: usize = 500;

/// How often the workspace is checked for other processes' commits.
const CHANGE_POLL: Duration = Duration::from_secs(1);

/// Runs one store effect: what it answers.
pub fn execute(store: &mut Store, effect: StoreFx) -> Vec<Msg> {
    match effect {
        StoreFx::LoadRows => {
            let mut rows = Vec::new();
            match store.list(StatusFilter::All, |r| rows.push(r)) {
                Ok(()) => vec![Msg::Rows(rows)],
                Err(e) => vec![Msg::Error(format!("cannot read the samples: {e}"))],
            }
        }
        StoreFx::LoadSample(id) => match load_detail(store, &id) {
            Ok(d) => vec![Msg::Sample(Box::new(d))],
            Err(crate::store::StoreError::NoSample(id)) => vec![Msg::SampleMissing(id)],
            Err(e) => vec![Msg::Error(format!("cannot read sample {id}: {e}"))],
        },
        StoreFx::Search(query) => {
            // Samples written since the index was last brought up to date (a run in
            // flight writes some every second) are indexed first, when they are few.
            let mut unindexed = store.unindexed_count().unwrap_or(0);
            if unindexed > 0 && unindexed <= 4 * INDEX_CHUNK as u64 {
                while let Ok(n) = store.index_pending(INDEX_CHUNK) {
                    if n == 0 {
                        break;
                    }
                }
                unindexed = store.unindexed_count().unwrap_or(0);
            }
            let rowids = store.search(&query).map_err(|e| format!("search failed: {e}"));
            vec![Msg::SearchResult { query, rowids, unindexed }]
        }
        StoreFx::SetReview { id, review } => match store.set_review(&id, review) {
            Ok(_) => row_msg(store, &id),
            Err(e) => {
                // The row shows the verdict already: read the list again so it shows the truth.
                let mut out = vec![Msg::Error(format!("the verdict on {id} was not saved: {e}"))];
                out.extend(execute(store, StoreFx::LoadRows));
                out
            }
        },
        e @ (StoreFx::Undo | StoreFx::Redo) => {
            let redo = e == StoreFx::Redo;
            match if redo { store.redo() } else { store.undo() } {
                Ok(entry) => {
                    let mut out = Vec::new();
                    match &entry {
                        Some(e) if matches!(e.action, crate::store::Action::Verdicts { .. }) => {
                            out.extend(execute(store, StoreFx::LoadRows));
                        }
                        Some(e) => out.extend(row_msg(store, &e.sample_id)),
                        None => {}
                    }
                    out.push(Msg::Undone { redo, entry });
                    out
                }
                Err(err) => vec![Msg::Error(format!("{} failed: {err}", if redo { "redo" } else { "undo" }))],
            }
        }
        StoreFx::SetReviews { ids, review } => match store.set_reviews(&ids, review) {
            Ok(_) => execute(store, StoreFx::LoadRows),
            Err(err) => {
                let mut out = vec![Msg::Error(format!("the verdicts of {} samples were not saved: {err}", ids.len()))];
                out.extend(execute(store, StoreFx::LoadRows));
                out
            }
        },
        StoreFx::LoadLog => vec![Msg::Log(
            crate::log::tail(store.dir(), 2000).map_err(|e| format!("cannot read the workspace log: {e}")),
        )],
        StoreFx::LoadGroups(by) => vec![Msg::Groups {
            by,
            groups: store.groups(by).map_err(|e| format!("cannot read the {}: {e}", by.title().to_lowercase())),
        }],
        StoreFx::LoadHistory(id) => match store.history(&id) {
            Ok(items) => vec![Msg::History { id, items }],
            Err(err) => vec![Msg::Error(format!("cannot read the history of {id}: {err}"))],
        },
        StoreFx::RestoreBefore { id, seq } => match store.restore_before(&id, seq) {
            Ok(_) => {
                let mut out = row_msg(store, &id);
                out.push(Msg::Toast(format!("{id} is back as it was before edit #{seq} (u takes it back)")));
                out.extend(execute(store, StoreFx::LoadSample(id)));
                out
            }
            Err(err) => vec![Msg::Error(format!("cannot put {id} back as it was before edit #{seq}: {err}"))],
        },
        StoreFx::Restore { id, version } => match store.restore(&id, version) {
            Ok(_) => {
                let mut out = row_msg(store, &id);
                out.push(Msg::Toast(format!(
                    "{id}: version #{version} is back; what it held is kept (u takes it back)"
                )));
                out.extend(execute(store, StoreFx::LoadSample(id)));
                out
            }
            Err(err) => vec![Msg::Error(format!("cannot restore version #{version} of {id}: {err}"))],
        },
        StoreFx::Edit { id, path, value } => match store.edit_field(&id, &path, value) {
            Ok((_, cleared)) => {
                let mut out = row_msg(store, &id);
                let stale = match out.first() {
                    Some(Msg::Row(r)) => r.summary.stale,
                    _ => crate::domain::Parts::NONE,
                };
                let cleared = cleared
                    .map(|v| format!("; its {} verdict is cleared: review it again", v.as_str()))
                    .unwrap_or_default();
                out.push(Msg::Toast(if stale.is_empty() {
                    format!("saved {path} (the original is kept; u undoes){cleared}")
                } else {
                    format!("saved {path}; stale now: {stale} (g makes them again){cleared}")
                }));
                out.extend(execute(store, StoreFx::LoadSample(id)));
                out
            }
            Err(e) => vec![Msg::Error(format!("the edit of {path} was not saved: {e}"))],
        },
        StoreFx::NextUndo { redo } => match if redo { store.next_redo() } else { store.next_undo() } {
            Ok(entry) => vec![Msg::NextUndo { redo, entry }],
            Err(err) => vec![Msg::Error(format!("{} failed: {err}", if redo { "redo" } else { "undo" }))],
        },
        StoreFx::ClearReviews(ids) => match store.clear_reviews(&ids) {
            Ok(0) => Vec::new(),
            Ok(n) => {
                let mut out: Vec<Msg> = ids.iter().flat_map(|id| row_msg(store, id)).collect();
                out.push(Msg::Toast(format!(
                    "{n} verdict{} cleared: what is made again is reviewed again (u brings {} back)",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "it" } else { "them" }
                )));
                out
            }
            Err(e) => vec![Msg::Error(format!("the verdicts were not cleared: {e}"))],
        },
        StoreFx::DropVersion { id, version } => match store.delete_version(version) {
            Ok(()) => execute(store, StoreFx::LoadSample(id)),
            Err(e) => vec![Msg::Error(format!("cannot drop version #{version}: {e}"))],
        },
        StoreFx::LoadTemplate(step) => match crate::prompts::source(store.dir(), step) {
            Ok((text, _)) => vec![Msg::Template { step, text }],
            Err(e) => vec![Msg::Error(e.to_string())],
        },
        StoreFx::SaveTemplate { step, text } => {
            let dir = store.dir().join("prompts");
            let path = dir.join(crate::prompts::file_name(step));
            let written = std::fs::create_dir_all(&dir).and_then(|()| {
                let tmp = path.with_extension("jinja.tmp-save");
                std::fs::write(&tmp, &text)?;
                std::fs::rename(&tmp, &path)
            });
            match written {
                Ok(()) => vec![Msg::Toast(format!(
                    "saved prompts/{} (version {}); r in a call of this step asks it again",
                    crate::prompts::file_name(step),
                    crate::prompts::version(&text)
                ))],
                Err(e) => vec![Msg::Error(format!("cannot write {}: {e}", path.display()))],
            }
        }
        StoreFx::LoadRerun { old } => match store.latest_rerun_of(old) {
            Ok(Some(new)) => vec![Msg::Rerun { old, new: Ok(Box::new(new)) }],
            Ok(None) => vec![Msg::Rerun { old, new: Err(format!("call #{old} was not asked again")) }],
            Err(e) => vec![Msg::Rerun { old, new: Err(format!("cannot read the call asked again: {e}")) }],
        },
    }
}

fn row_msg(store: &Store, id: &str) -> Vec<Msg> {
    match store.row(id) {
        Ok(r) => vec![Msg::Row(r)],
        Err(e) => vec![Msg::Error(format!("cannot read sample {id}: {e}"))],
    }
}

pub fn load_detail(store: &Store, id: &str) -> crate::store::Result<Detail> {
    let stored = store.sample(id)?;
    let calls: Vec<CallRow> = store.calls_for(id)?.into_iter().filter(|c| c.error.is_none()).collect();
    let sample = stored.sample;
    let versions = store.versions(id)?;
    let (findings, turn_calls) = match &sample.trajectory {
        Some(t) => {
            let findings = lint::lint(t, &sample.functions, &Layout::offset(0, t.messages.len()));
            let turn_calls = if matches!(sample.origin, Origin::Imported { .. }) {
                vec![None; t.messages.len()]
            } else {
                // The dialogue was made (again) after the newest regeneration or retry kept
                // the version before it.
                let since = versions.iter().filter(|v| v.2 == "previous" || v.2 == "failed").map(|v| v.1).max();
                match_turns(&t.messages, &calls, since.unwrap_or(0))
            };
            (findings, turn_calls)
        }
        None => (Vec::new(), Vec::new()),
    };
    let versions = versions.into_iter().map(|(v, _, kind, s)| (v, kind, s)).collect();
    Ok(Detail { id: id.to_string(), sample, review: stored.review, calls, findings, turn_calls, versions })
}

/// Whether a call's parsed result is what this message (or one tool result of it) holds.
fn made(call: &CallRow, m: &Message, result: Option<&crate::json::Value>) -> bool {
    let Some(parsed) = call.parse_result.as_deref().and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
    else {
        return false;
    };
    match m {
        Message::User { content } => parsed.as_str() == Some(content.as_str()),
        Message::Assistant { calls, final_answer, .. } => {
            let same_calls = parsed.get("calls").map(|c| c == &serde_json::to_value(calls).unwrap_or_default());
            let same_final =
                parsed.get("final_answer").map(|f| f == &serde_json::to_value(final_answer).unwrap_or_default());
            same_calls == Some(true) && same_final != Some(false)
        }
        Message::Tool { .. } => result.is_some_and(|r| *r == parsed),
    }
}

/// Which call made each message: the newest call of the message's agent whose parsed result
/// is the message (so a kept fork or a regenerated dialogue points at its own calls); when
/// none matches (a turn edited by hand), the n-th call of that agent for the n-th such
/// message among the calls made since `since` (the dialogue's newest making: never a call of
/// a generation a regeneration replaced).
fn match_turns(messages: &[Message], calls: &[CallRow], since: i64) -> Vec<Option<usize>> {
    let pool = |step: &str, from: i64| {
        calls
            .iter()
            .enumerate()
            .filter(|(_, c)| c.step == step && c.started_at >= from)
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
    };
    let (users, assistants, tools) = (pool("user_agent", 0), pool("assistant_agent", 0), pool("tool_agent", 0));
    let (fresh_users, fresh_assistants, fresh_tools) =
        (pool("user_agent", since), pool("assistant_agent", since), pool("tool_agent", since));
    let (mut u, mut a) = (0, 0);
    let mut used = vec![false; calls.len()];
    let newest_made = |pool: &[usize], m: &Message, r: Option<&crate::json::Value>, used: &[bool]| {
        pool.iter().rev().copied().find(|i| !used[*i] && made(&calls[*i], m, r))
    };
    messages
        .iter()
        .map(|m| {
            let hit = match m {
                Message::User { .. } => {
                    u += 1;
                    newest_made(&users, m, None, &used).or(fresh_users.get(u - 1).copied())
                }
                Message::Assistant { .. } => {
                    a += 1;
                    newest_made(&assistants, m, None, &used).or(fresh_assistants.get(a - 1).copied())
                }
                Message::Tool { results } => {
                    let mut first = None;
                    for r in results {
                        let hit = newest_made(&tools, m, Some(&r.results), &used)
                            .or_else(|| fresh_tools.iter().copied().find(|i| !used[*i]));
                        if let Some(i) = hit {
                            used[i] = true;
                            first = first.or(Some(i));
                        }
                    }
                    return first;
                }
            };
            if let Some(i) = hit {
                used[i] = true;
            }
            hit
        })
        .collect()
}

/// The worker thread's loop: runs requests (only the newest sample load and search of a
/// burst), and indexes in the background while idle.
pub fn run(mut store: Store, rx: Receiver<StoreFx>, tx: tokio::sync::mpsc::UnboundedSender<Msg>) {
    let mut index_left = store.unindexed_count().unwrap_or(0);
    let _ = tx.send(Msg::Indexed { remaining: index_left });
    let mut seen_version = store.data_version().unwrap_or(0);
    let mut checked = std::time::Instant::now();
    loop {
        // Commits by other connections (other processes, this one's run) change the data
        // version: the TUI is told, about once a second.
        if checked.elapsed() >= CHANGE_POLL {
            checked = std::time::Instant::now();
            if let Ok(v) = store.data_version()
                && v != seen_version
            {
                seen_version = v;
                index_left = store.unindexed_count().unwrap_or(index_left);
                if tx.send(Msg::StoreChanged).is_err() {
                    return;
                }
            }
        }
        let wait = if index_left > 0 { Duration::from_millis(5) } else { CHANGE_POLL };
        let first = match rx.recv_timeout(wait) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) if index_left == 0 => continue,
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let Some(first) = first else {
            match store.index_pending(INDEX_CHUNK) {
                Ok(_) => {
                    index_left = store.unindexed_count().unwrap_or(0);
                    let _ = tx.send(Msg::Indexed { remaining: index_left });
                }
                Err(e) => {
                    let _ = tx.send(Msg::Error(format!("the search index could not be built: {e}")));
                    index_left = 0;
                }
            }
            continue;
        };
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let last_load = batch.iter().rposition(|e| matches!(e, StoreFx::LoadSample(_)));
        let last_search = batch.iter().rposition(|e| matches!(e, StoreFx::Search(_)));
        let last_rows = batch.iter().rposition(|e| matches!(e, StoreFx::LoadRows));
        for (i, e) in batch.into_iter().enumerate() {
            let superseded = match e {
                StoreFx::LoadSample(_) => Some(i) != last_load,
                StoreFx::Search(_) => Some(i) != last_search,
                StoreFx::LoadRows => Some(i) != last_rows,
                _ => false,
            };
            if superseded {
                continue;
            }
            for m in execute(&mut store, e) {
                if tx.send(m).is_err() {
                    return;
                }
            }
        }
        index_left = store.unindexed_count().unwrap_or(0);
    }
}
