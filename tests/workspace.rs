//! The workspace: import, export, verdicts, edits, undo across restarts, bad input,
//! migrations, and kill -9 in the middle of an import.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use button::formats::Format;
use button::formats::trainers::Target;
use button::lint::Code;
use button::model::{Message, RejectReason, Review, Verdict};
use button::ops::{self, FormatChoice};
use button::store::{Action, StatusFilter, Store, StoreError};
use serde_json::{Value, json};

fn clean_lines() -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint/clean.jsonl");
    std::fs::read_to_string(p).unwrap().lines().map(String::from).collect()
}

/// `n` distinct clean trajectories (the user's question numbered).
fn distinct_lines(n: usize) -> Vec<String> {
    let base: Value = serde_json::from_str(&clean_lines()[0]).unwrap();
    (0..n)
        .map(|i| {
            let mut v = base.clone();
            v["messages"][1]["content"] = Value::String(format!("Question {i}: what should I pack for Oslo?"));
            v.to_string()
        })
        .collect()
}

fn write_file(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn import(store: &mut Store, path: &Path) -> ops::ImportReport {
    ops::import(store, path, FormatChoice::Auto).unwrap()
}

fn ids(store: &Store, status: StatusFilter) -> Vec<String> {
    let mut out = Vec::new();
    store
        .for_each_sample(status, |s| {
            out.push(s.sample.id);
            Ok(())
        })
        .unwrap();
    out
}

fn review(verdict: Verdict) -> Review {
    Review { verdict, reasons: vec![], note: String::new(), at: 1 }
}

#[test]
fn import_then_export_gives_back_the_same_trajectories() {
    let dir = tempfile::tempdir().unwrap();
    let lines = distinct_lines(5);
    let input = write_file(dir.path(), "in.jsonl", &lines);
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    let r = import(&mut store, &input);
    assert_eq!((r.imported, r.already_present, r.skipped.len()), (5, 0, 0));
    let out = dir.path().join("out.jsonl");
    let rep = ops::export(&store, Format::Button, &out, StatusFilter::All).unwrap();
    assert_eq!(rep.written, 5);
    let exported = std::fs::read_to_string(&out).unwrap();
    for (a, b) in lines.iter().zip(exported.lines()) {
        let ta = Format::Button.parse_line(a).unwrap().trajectory;
        let tb = Format::Button.parse_line(b).unwrap().trajectory;
        assert_eq!(ta, tb);
    }
    // Written by us, read by us, written again: the same bytes.
    let mut store2 = Store::open(&dir.path().join("ws2"), true).unwrap();
    import(&mut store2, &out);
    let out2 = dir.path().join("out2.jsonl");
    ops::export(&store2, Format::Button, &out2, StatusFilter::All).unwrap();
    assert_eq!(exported, std::fs::read_to_string(&out2).unwrap());
}

#[test]
fn bad_lines_are_reported_skipped_and_the_rest_imported_and_the_input_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let good = distinct_lines(3);
    let mut data: Vec<u8> = Vec::new();
    data.extend_from_slice(good[0].as_bytes());
    data.extend_from_slice(b"\n{this is not json\n");
    data.extend_from_slice(b"{\"messages\": [{\"role\": \"user\", \"content\": \"caf\xff\"}]}\n");
    data.extend_from_slice(good[1].as_bytes());
    data.extend_from_slice(b"\n{\"messages\": []}\n{\"id\": 7}\n");
    data.extend_from_slice(b"{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}\n\n");
    data.extend_from_slice(br#"{"messages": [{"role": "user", "content": ""#);
    data.resize(data.len() + (65 << 20), b'x');
    data.extend_from_slice(b"\"}]}\n");
    data.extend_from_slice(good[2].as_bytes());
    data.push(b'\n');
    let input = dir.path().join("mixed.jsonl");
    std::fs::write(&input, &data).unwrap();
    let before = blake3::hash(&std::fs::read(&input).unwrap());

    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    let r = ops::import(&mut store, &input, FormatChoice::Named(Format::Button)).unwrap();
    assert_eq!(r.imported, 3);
    let skipped: Vec<(u64, Code)> = r.skipped.iter().map(|(l, f)| (*l, f.code)).collect();
    assert_eq!(
        skipped,
        vec![
            (2, Code::NotJson),
            (3, Code::NotUtf8),
            (5, Code::NoMessages),
            (6, Code::NoMessages),
            (7, Code::UnknownRole),
            (9, Code::TooLong),
        ]
    );
    assert_eq!(r.lines_read, 10);
    assert_eq!(blake3::hash(&std::fs::read(&input).unwrap()), before, "the input file is never modified");

    // Again: nothing new, nothing twice.
    let r2 = ops::import(&mut store, &input, FormatChoice::Named(Format::Button)).unwrap();
    assert_eq!((r2.imported, r2.already_present), (0, 3));
    assert_eq!(store.sample_count().unwrap(), 3);
}

#[test]
fn verdicts_are_undone_newest_first_without_limit_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let input = write_file(dir.path(), "in.jsonl", &distinct_lines(4));
    let all = {
        let mut store = Store::open(&ws, true).unwrap();
        import(&mut store, &input);
        ids(&store, StatusFilter::All)
    };
    {
        let mut store = Store::open(&ws, false).unwrap();
        store.set_review(&all[0], Some(review(Verdict::Accepted))).unwrap();
        let rejected = Review {
            verdict: Verdict::Rejected,
            reasons: vec![RejectReason::BadArguments, RejectReason::Other],
            note: "days should be 3".into(),
            at: 2,
        };
        store.set_review(&all[1], Some(rejected.clone())).unwrap();
        store.set_review(&all[2], Some(review(Verdict::Flagged))).unwrap();
        store.set_review(&all[0], Some(review(Verdict::Rejected))).unwrap();
        assert_eq!(store.review(&all[1]).unwrap(), Some(rejected));
    }
    let status = |ws: &Path| {
        let store = Store::open(ws, false).unwrap();
        [StatusFilter::Accepted, StatusFilter::Rejected, StatusFilter::Pending].map(|s| ids(&store, s).len())
    };
    assert_eq!(status(&ws), [0, 2, 2]);
    // Each undo in a fresh process-like session: the journal is the memory.
    let expect = [[1, 1, 2], [1, 1, 2], [1, 0, 3], [0, 0, 4]];
    for (i, want) in expect.iter().enumerate() {
        let mut store = Store::open(&ws, false).unwrap();
        let undone = store.undo().unwrap().unwrap();
        assert!(matches!(undone.action, Action::Verdict { .. }));
        drop(store);
        assert_eq!(&status(&ws), want, "after undo {}", i + 1);
    }
    let mut store = Store::open(&ws, false).unwrap();
    assert_eq!(store.undo().unwrap(), None, "nothing left to undo");
    // The journal keeps every action and every undo.
    let journal = store.journal().unwrap();
    assert_eq!(journal.len(), 8);
    assert!(journal[..4].iter().all(|e| e.undone_by.is_some()));
}

#[test]
fn changed_content_loses_its_verdict_and_undo_brings_both_back() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "in.jsonl", &distinct_lines(2));
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    import(&mut store, &input);
    let all = ids(&store, StatusFilter::All);
    let (a, b) = (&all[0], &all[1]);
    store.set_review(a, Some(review(Verdict::Accepted))).unwrap();
    store.set_review(b, Some(review(Verdict::Rejected))).unwrap();
    // An edit of a reviewed sample clears its verdict in the same transaction.
    store.edit_field(a, "/trajectory/messages/0/content", json!("Edited.")).unwrap();
    assert_eq!(store.review(a).unwrap(), None);
    assert!(ids(&store, StatusFilter::Accepted).is_empty(), "an export of accepted samples leaves it out");
    // Samples about to be made again lose theirs, each journaled.
    assert_eq!(store.clear_reviews(&[a.clone(), b.clone()]).unwrap(), 1);
    assert_eq!(store.review(b).unwrap(), None);
    store.undo().unwrap();
    assert_eq!(store.review(b).unwrap().map(|r| r.verdict), Some(Verdict::Rejected));
    // Undoing the edit brings back the text and the verdict together.
    store.undo().unwrap();
    assert_eq!(store.review(a).unwrap().map(|r| r.verdict), Some(Verdict::Accepted));
    let t = store.sample(a).unwrap().sample.trajectory.unwrap();
    assert_ne!(t.messages[0], Message::User { content: "Edited.".into() });
}

#[test]
fn an_edit_keeps_the_original_and_undo_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "in.jsonl", &distinct_lines(1));
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    import(&mut store, &input);
    let id = ids(&store, StatusFilter::All).remove(0);
    let path = "/trajectory/messages/0/content";
    store.edit_field(&id, path, json!("What should I pack for Bergen?")).unwrap();
    store.edit_field(&id, path, json!("What should I pack for Tromsø?")).unwrap();
    let s = store.sample(&id).unwrap().sample;
    assert_eq!(s.edits.len(), 1);
    assert_eq!(s.edits[0].original, json!("Question 0: what should I pack for Oslo?"));
    assert_eq!(s.edits[0].edited, json!("What should I pack for Tromsø?"));
    let t = s.trajectory.unwrap();
    assert_eq!(t.messages[0], Message::User { content: "What should I pack for Tromsø?".into() });

    // An edit that breaks a rule shows in the stored lint columns.
    store.edit_field(&id, "/trajectory/messages/1/calls/0/arguments/days", json!("three")).unwrap();
    let stats = ops::stats_workspace(&store).unwrap();
    assert_eq!(stats.by_lint_code.get(&Code::WrongType), Some(&1));

    store.undo().unwrap();
    store.undo().unwrap();
    let s = store.sample(&id).unwrap().sample;
    assert_eq!(s.edits[0].edited, json!("What should I pack for Bergen?"));
    store.undo().unwrap();
    let s = store.sample(&id).unwrap().sample;
    assert!(s.edits.is_empty(), "back to the original: no edit left");
    assert!(ops::stats_workspace(&store).unwrap().by_lint_code.is_empty());
    let err = store.edit_field(&id, "/trajectory/nowhere/3", json!(1)).unwrap_err();
    assert!(matches!(err, StoreError::NoField(..)), "{err}");
}

#[test]
fn export_takes_accepted_by_default_and_writes_provenance_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "in.jsonl", &distinct_lines(3));
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    import(&mut store, &input);
    let all = ids(&store, StatusFilter::All);
    store.set_review(&all[1], Some(review(Verdict::Accepted))).unwrap();
    store.set_review(&all[2], Some(review(Verdict::Rejected))).unwrap();
    let out = dir.path().join("accepted.openai.jsonl");
    // What a killed export left: its temporary files, of a process that is gone.
    let dead = dir.path().join("accepted.openai.jsonl.tmp-4194303");
    std::fs::write(&dead, "half").unwrap();
    let rep = ops::export(&store, Format::OpenAi, &out, StatusFilter::Accepted).unwrap();
    assert_eq!(rep.written, 1);
    assert!(!dead.exists(), "the killed export's temporary file is cleaned up");
    // The provenance is named by the hash of the output it describes.
    let prov_path = rep.provenance.unwrap();
    assert_eq!(prov_path, ops::provenance_path(&out, &ops::output_hash(&std::fs::read(&out).unwrap())));
    let prov = std::fs::read_to_string(&prov_path).unwrap();
    let p: Value = serde_json::from_str(prov.lines().next().unwrap()).unwrap();
    assert_eq!(p["sample_id"], json!(all[1]));
    assert_eq!(p["line"], json!(1));
    assert_eq!(p["review"]["verdict"], json!("accepted"));
    assert_eq!(p["origin"]["kind"], json!("imported"));
    assert_eq!(p["final_thought"], json!("I have both answers."));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left behind");
    // A new export replaces the output, and the old provenance goes with the old output.
    let rep = ops::export(&store, Format::OpenAi, &out, StatusFilter::All).unwrap();
    assert_eq!(rep.written, 3);
    assert!(!prov_path.exists());
    let provs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".provenance.jsonl"))
        .collect();
    assert_eq!(provs.len(), 1);
    assert_eq!(std::fs::read_to_string(rep.provenance.unwrap()).unwrap().lines().count(), 3);
}

#[test]
fn migrations_run_once_and_a_newer_workspace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let store = Store::open(&ws, true).unwrap();
    assert_eq!(store.schema_version().unwrap(), 8);
    drop(store);
    let store = Store::open(&ws, false).unwrap();
    assert_eq!(store.schema_version().unwrap(), 8);
    store.conn().pragma_update(None, "user_version", 99).unwrap();
    drop(store);
    let err = Store::open(&ws, false).err().unwrap();
    assert!(err.to_string().contains("newer button"), "{err}");
    let missing = Store::open(&dir.path().join("nope"), false).err().unwrap();
    assert!(missing.to_string().contains("no workspace"), "{missing}");
}

#[test]
fn kill_9_during_an_import_loses_nothing_committed_and_a_rerun_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let total = 60_000;
    let input = write_file(dir.path(), "big.jsonl", &distinct_lines(total));

    // A verdict committed before the import starts must survive the kill.
    let first = write_file(dir.path(), "first.jsonl", &distinct_lines(1));
    let accepted_id = {
        let mut store = Store::open(&ws, true).unwrap();
        import(&mut store, &first);
        let id = ids(&store, StatusFilter::All).remove(0);
        store.set_review(&id, Some(review(Verdict::Accepted))).unwrap();
        id
    };

    let mut child = Command::new(env!("CARGO_BIN_EXE_button"))
        .arg("--workspace")
        .arg(&ws)
        .arg("import")
        .arg(&input)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A second connection reads while the importer writes, and sees the count grow.
    let reader = Store::open(&ws, false).unwrap();
    let deadline = Instant::now() + Duration::from_mins(2);
    let mut seen = Vec::new();
    loop {
        let n = reader.sample_count().unwrap();
        seen.push(n);
        if n > 5_000 || Instant::now() > deadline {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the import ended ({status}) before it could be killed: make the file bigger");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    drop(reader);

    let mut store = Store::open(&ws, false).unwrap();
    assert!(store.integrity_ok().unwrap());
    let after_kill = store.sample_count().unwrap();
    assert!(after_kill > 1 && after_kill < total as u64 + 1, "killed part way: {after_kill}");
    assert_eq!(store.review(&accepted_id).unwrap().map(|r| r.verdict), Some(Verdict::Accepted));
    // Whole samples only: every stored sample decodes.
    assert_eq!(ids(&store, StatusFilter::All).len() as u64, after_kill);

    let r = import(&mut store, &input);
    assert_eq!(r.imported + r.already_present, total as u64);
    assert_eq!(r.already_present, after_kill, "what the killed import committed is not imported twice");
    assert_eq!(store.sample_count().unwrap(), total as u64);
    let mut by_status = BTreeMap::new();
    store.list(StatusFilter::All, |r| *by_status.entry(r.verdict).or_insert(0) += 1).unwrap();
    assert_eq!(by_status.get(&Some(button::domain::Verdict::Accepted)), Some(&1));
}

#[test]
fn the_search_index_finds_words_and_prefixes_and_follows_edits() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "in.jsonl", &distinct_lines(3));
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    import(&mut store, &input);
    assert_eq!(store.unindexed_count().unwrap(), 3);
    // Not indexed yet: not found (the TUI says how many are left).
    assert!(store.search("pack").unwrap().is_empty());
    assert_eq!(store.index_pending(2).unwrap(), 2);
    assert_eq!(store.index_pending(100).unwrap(), 1);
    assert_eq!(store.unindexed_count().unwrap(), 0);
    assert_eq!(store.search("PACK").unwrap().len(), 3);
    assert_eq!(store.search("pac").unwrap().len(), 3, "a word is also a prefix");
    assert!(store.search("zzqqxx").unwrap().is_empty());
    assert!(store.search("  ").unwrap().is_empty());
    let id = ids(&store, StatusFilter::All).remove(0);
    store.edit_field(&id, "/trajectory/messages/0/content", json!("Anything for the Tromsø café?")).unwrap();
    assert_eq!(store.unindexed_count().unwrap(), 1, "an edit puts the sample back in the queue");
    store.index_pending(10).unwrap();
    let rowid = store.row(&id).unwrap().rowid;
    assert_eq!(store.search("tromsø").unwrap(), vec![rowid]);
    assert_eq!(store.search("cafe").unwrap(), vec![rowid], "diacritics are folded");
}

fn fixture_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// The records of a fixture as text, one a line, decompressed.
fn decompressed_lines(rel: &str) -> Vec<String> {
    let mut text = String::new();
    let (mut r, _) = button::formats::container::open(std::fs::File::open(fixture_path(rel)).unwrap()).unwrap();
    std::io::Read::read_to_string(&mut r, &mut text).unwrap();
    text.lines().map(String::from).filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn an_untouched_sample_exported_in_its_own_layout_is_its_source_record_byte_for_byte() {
    for (rel, format) in [
        ("lint/clean.jsonl", Format::Button),
        ("layouts/hermes.jsonl", Format::Hermes),
        ("llamafactory/reason_tool_use_demo_50.jsonl.gz", Format::OpenAi),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
        let report = import(&mut store, &fixture_path(rel));
        let skipped: Vec<u64> = report.skipped.iter().map(|(l, _)| *l).collect();
        let repeated: Vec<u64> = report.repeats.iter().map(|(l, _)| *l).collect();
        let out = dir.path().join("out.jsonl");
        ops::export(&store, format, &out, StatusFilter::All).unwrap();
        let expected: Vec<String> = decompressed_lines(rel)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !skipped.contains(&(*i as u64 + 1)) && !repeated.contains(&(*i as u64 + 1)))
            .map(|(_, l)| l)
            .collect();
        let written: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(String::from).collect();
        assert!(!written.is_empty());
        assert_eq!(written, expected, "{rel}");
    }

    // An array's elements come out one a line, without the blanks between tokens.
    let rel = "llamafactory/glaive_toolcall_en_demo.json.gz";
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    import(&mut store, &fixture_path(rel));
    let out = dir.path().join("out.jsonl");
    ops::export(&store, Format::ShareGpt, &out, StatusFilter::All).unwrap();
    let mut seen = std::collections::HashSet::new();
    let expected: Vec<String> = decompressed_lines(rel)
        .iter()
        .map(|l| serde_json::to_string(&serde_json::from_str::<Value>(l).unwrap()).unwrap())
        .filter(|l| seen.insert(l.clone()))
        .collect();
    let written: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(String::from).collect();
    assert_eq!(written.len(), 265);
    assert_eq!(written, expected);
}

#[test]
fn an_edited_sample_is_written_anew_and_undoing_the_edit_brings_the_source_record_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    let src = fixture_path("layouts/hermes.jsonl");
    import(&mut store, &src);
    let source: Vec<String> = decompressed_lines("layouts/hermes.jsonl");
    let first = ids(&store, StatusFilter::All)[0].clone();
    store.edit_field(&first, "/trajectory/messages/0/content", json!("What's Apple trading at?")).unwrap();
    let out = dir.path().join("out.jsonl");
    ops::export(&store, Format::Hermes, &out, StatusFilter::All).unwrap();
    let written: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(String::from).collect();
    assert_ne!(written[0], source[0], "the edited sample is written from its dialogue");
    assert!(written[0].contains("What's Apple trading at?"));
    assert_eq!(written[1..], source[1..3], "the others are their source records");
    // In another layout, nothing is the source record.
    ops::export(&store, Format::OpenAi, &out, StatusFilter::All).unwrap();
    let openai = std::fs::read_to_string(&out).unwrap();
    assert!(openai.lines().all(|l| l.contains("\"parallel_tool_calls\":")));
    assert!(!openai.lines().any(|l| source.contains(&l.to_string())));

    store.undo().unwrap();
    ops::export(&store, Format::Hermes, &out, StatusFilter::All).unwrap();
    let written: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(String::from).collect();
    assert_eq!(written[..], source[..3]);
}

#[test]
fn a_conversion_to_button_always_carries_the_template_with_the_tools_and_passes_lint() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    for rel in ["llamafactory/reason_tool_use_demo_50.jsonl.gz", "layouts/glaive.jsonl", "layouts/xlam.jsonl"] {
        import(&mut store, &fixture_path(rel));
    }
    let out = dir.path().join("out.button.jsonl");
    let written = ops::export(&store, Format::Button, &out, StatusFilter::All).unwrap().written;
    let mut no_e01 = 0;
    ops::lint_file(&out, FormatChoice::Named(Format::Button), |_, findings| {
        assert!(findings.iter().all(|f| f.code != Code::from_id("E01").unwrap()), "{findings:?}");
        no_e01 += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(no_e01, written);
    // Each line's system message is the template with its tools, a sample's own prompt before it.
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let system = v["messages"][0]["content"].as_str().unwrap();
        assert!(system.contains(button::formats::button::SYSTEM_TEMPLATE.split("{tool_list}").next().unwrap()));
    }
    // Read back, the tools and the sample's own system prompt are what they were.
    let back: Vec<_> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| Format::Button.parse_line(l).unwrap().trajectory)
        .collect();
    let mut before = Vec::new();
    store
        .for_each_sample(StatusFilter::All, |s| {
            before.push(s.sample.trajectory.unwrap());
            Ok(())
        })
        .unwrap();
    for (a, b) in before.iter().zip(&back) {
        assert_eq!(a.tools, b.tools);
        assert_eq!(a.system, b.system);
    }
}

#[test]
fn an_edited_tool_list_reaches_a_system_prompt_of_the_samples_own_that_lists_the_tools() {
    // A BUTTON line whose system prompt is not the template but lists the tools in `<tool>`
    // (a hand-written prompt): it is kept as it was, and so is its list until the tools are
    // edited; from then on every export lists the tools as edited.
    let mut v: Value = serde_json::from_str(&clean_lines()[0]).unwrap();
    let template = v["messages"][0]["content"].as_str().unwrap().to_string();
    let (list, _) = template.split_once("</tool>").unwrap();
    let list = &list[list.find("<tool>").unwrap()..];
    let own = format!(
        "You plan trips. Use these tools:\n{list}</tool>\nPut calls in <call></call>, the answer in <final></final>."
    );
    v["messages"][0]["content"] = json!(own);
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "own.jsonl", &[v.to_string()]);
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    import(&mut store, &file);
    let id = ids(&store, StatusFilter::All)[0].clone();
    let before = store.sample(&id).unwrap().sample.trajectory.unwrap();
    assert_eq!(before.system.as_deref(), Some(own.as_str()));
    assert_eq!(before.tools.len(), 2);

    // Not edited: the prompt is written as it was read, in every layout.
    let out = dir.path().join("out.jsonl");
    for f in [Format::OpenAi, Format::ShareGpt, Format::Hermes] {
        ops::export(&store, f, &out, StatusFilter::All).unwrap();
        let line = std::fs::read_to_string(&out).unwrap();
        assert_eq!(f.parse_line(line.trim_end()).unwrap().trajectory.system.as_deref(), Some(own.as_str()), "{f:?}");
    }
    let written: Value = serde_json::from_str(&Format::Button.write_line(&before)).unwrap();
    assert_eq!(written["messages"][0]["content"], json!(own));

    let mut tools = serde_json::to_value(&before.tools).unwrap();
    tools[0]["description"] = json!("Forecast for a city, by day.");
    store.edit_field(&id, "/trajectory/tools", tools).unwrap();
    let edited = store.sample(&id).unwrap().sample.trajectory.unwrap();
    assert_eq!(edited.tools[0].description, "Forecast for a city, by day.");

    for f in [Format::Button, Format::OpenAi, Format::ShareGpt, Format::Hermes] {
        ops::export(&store, f, &out, StatusFilter::All).unwrap();
        let line = std::fs::read_to_string(&out).unwrap();
        let back = f.parse_line(line.trim_end()).unwrap().trajectory;
        // (Only BUTTON's tool list holds what a function returns.)
        let without_responses = |tools: &[button::model::FunctionDef]| {
            tools.iter().map(|t| (t.name.clone(), t.description.clone(), t.parameters.clone())).collect::<Vec<_>>()
        };
        assert_eq!(without_responses(&back.tools), without_responses(&edited.tools), "{f:?}: {line}");
        if f == Format::Button {
            assert_eq!(back.tools, edited.tools);
        }
        let system = back.system.unwrap();
        assert!(system.starts_with("You plan trips. Use these tools:\n<tool>\n"), "{f:?}: {system}");
        assert!(
            system.contains("Forecast for a city, by day.") && !system.contains("Forecast for a city.\""),
            "{f:?}: {system}"
        );
        assert!(
            system.ends_with("</tool>\nPut calls in <call></call>, the answer in <final></final>."),
            "{f:?}: {system}"
        );
    }
    for target in [Target::OpenAi, Target::Trl, Target::LlamaFactory, Target::LlamaFactoryOpenAi] {
        ops::export_as(&store, ops::ExportAs::For(target), &out, StatusFilter::All).unwrap();
        let line = std::fs::read_to_string(&out).unwrap();
        assert!(line.contains("You plan trips. Use these tools:"), "{target:?}: {line}");
        assert!(
            !line.contains("Forecast for a city.") && line.contains("Forecast for a city, by day."),
            "{target:?}: {line}"
        );
    }

    // The edit undone: the BUTTON export is the source line again, and the others write the
    // prompt as it was read.
    store.undo().unwrap();
    ops::export(&store, Format::Button, &out, StatusFilter::All).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), v.to_string() + "\n");
    ops::export(&store, Format::OpenAi, &out, StatusFilter::All).unwrap();
    let line = std::fs::read_to_string(&out).unwrap();
    assert_eq!(Format::OpenAi.parse_line(line.trim_end()).unwrap().trajectory.system.as_deref(), Some(own.as_str()));
}

#[test]
fn redo_does_again_what_undo_undid_until_something_new_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "in.jsonl", &distinct_lines(2));
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    store.set_client("session-a");
    import(&mut store, &input);
    let all = ids(&store, StatusFilter::All);
    let (a, b) = (&all[0], &all[1]);
    let path = "/trajectory/messages/0/content";
    store.set_review(a, Some(review(Verdict::Accepted))).unwrap();
    store.edit_field(b, path, json!("Edited once.")).unwrap();
    assert_eq!(store.redo().unwrap(), None, "nothing undone yet");
    store.undo().unwrap();
    store.undo().unwrap();
    assert_eq!(store.review(a).unwrap(), None);
    let text = |s: &Store| match &s.sample(b).unwrap().sample.trajectory.unwrap().messages[0] {
        Message::User { content } => content.clone(),
        m => panic!("{m:?}"),
    };
    assert_ne!(text(&store), "Edited once.");
    // Newest undo first: the verdict, then the edit.
    assert_eq!(store.next_redo().unwrap().unwrap().sample_id, *a);
    let redone = store.redo().unwrap().unwrap();
    assert!(matches!(redone.action, Action::Verdict { .. }));
    assert_eq!(store.review(a).unwrap().map(|r| r.verdict), Some(Verdict::Accepted));
    store.redo().unwrap().unwrap();
    assert_eq!(text(&store), "Edited once.");
    assert_eq!(store.redo().unwrap(), None, "both done again");
    // What was done again is undone in turn, and done again once more.
    store.undo().unwrap();
    assert_ne!(text(&store), "Edited once.");
    store.redo().unwrap();
    assert_eq!(text(&store), "Edited once.");
    // Something new after an undo ends what can be redone.
    store.undo().unwrap();
    store.set_review(b, Some(review(Verdict::Flagged))).unwrap();
    assert_eq!(store.redo().unwrap(), None);
    // Another session's undo is not this one's to redo.
    store.undo().unwrap();
    let mut other = Store::open(&dir.path().join("ws"), false).unwrap();
    other.set_client("session-b");
    assert_eq!(other.redo().unwrap(), None);
}

#[test]
fn a_verdict_for_many_samples_is_one_step_to_undo() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "in.jsonl", &distinct_lines(4));
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    import(&mut store, &input);
    let all = ids(&store, StatusFilter::All);
    store.set_review(&all[0], Some(review(Verdict::Rejected))).unwrap();
    store.set_reviews(&all[..3], Some(review(Verdict::Accepted))).unwrap();
    assert_eq!(ids(&store, StatusFilter::Accepted), all[..3].to_vec());
    let e = store.journal().unwrap().pop().unwrap();
    assert_eq!((e.sample_id.as_str(), e.action.describe().as_str()), ("(3 samples)", "verdict accepted of 3 samples"));
    store.undo().unwrap();
    assert_eq!(ids(&store, StatusFilter::Accepted), Vec::<String>::new());
    assert_eq!(ids(&store, StatusFilter::Rejected), vec![all[0].clone()], "each one's verdict came back");
    store.redo().unwrap();
    assert_eq!(ids(&store, StatusFilter::Accepted).len(), 3);
}

#[test]
fn a_kept_version_is_restored_as_one_step_that_undo_takes_back() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "in.jsonl", &distinct_lines(1));
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    import(&mut store, &input);
    let id = ids(&store, StatusFilter::All).remove(0);
    let original = store.sample(&id).unwrap().sample;
    let version = store.add_version(&original, "previous").unwrap();
    // The sample changes a lot (as a regeneration would), and is accepted.
    store.edit_field(&id, "/trajectory/messages/0/content", json!("Something else.")).unwrap();
    store.edit_field(&id, "/trajectory/messages/1/calls/0/arguments/days", json!("three")).unwrap();
    store.set_review(&id, Some(review(Verdict::Accepted))).unwrap();
    let changed = store.sample(&id).unwrap().sample;
    let errors = store.row(&id).unwrap().summary.lint_errors;
    assert!(errors > 0);

    store.restore(&id, version).unwrap();
    assert_eq!(store.sample(&id).unwrap().sample, original);
    assert_eq!(store.row(&id).unwrap().summary.lint_errors, 0, "the listed columns follow the content");
    assert_eq!(store.review(&id).unwrap(), None, "what was accepted is not there any more");
    let kinds: Vec<String> = store.versions(&id).unwrap().into_iter().map(|v| v.2).collect();
    assert_eq!(kinds, ["replaced", "previous"], "what it held is kept too");
    store.undo().unwrap();
    assert_eq!(store.sample(&id).unwrap().sample, changed);
    assert_eq!(store.review(&id).unwrap().map(|r| r.verdict), Some(Verdict::Accepted));
    assert_eq!(store.row(&id).unwrap().summary.lint_errors, errors);
    store.redo().unwrap();
    assert_eq!(store.sample(&id).unwrap().sample, original);
    // A version of another sample, or none, is refused with its number.
    let err = store.restore(&id, 999).unwrap_err();
    assert_eq!(err.to_string(), format!("sample {id} has no kept version #999"));
}

#[test]
fn the_sample_as_it_was_before_an_edit_comes_back_in_one_step_even_after_a_regeneration() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "in.jsonl", &distinct_lines(1));
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    import(&mut store, &input);
    let id = ids(&store, StatusFilter::All).remove(0);
    let original = store.sample(&id).unwrap().sample;
    let (q, days) = ("/trajectory/messages/0/content", "/trajectory/messages/1/calls/0/arguments/days");
    let first = store.edit_field(&id, q, json!("Pack for Bergen?")).unwrap().0;
    std::thread::sleep(Duration::from_millis(3));
    store.edit_field(&id, days, json!(9)).unwrap();
    let both = store.sample(&id).unwrap().sample;
    std::thread::sleep(Duration::from_millis(3));
    // A regeneration: the sample as it was is kept, then its content is made anew.
    store.add_version(&both, "previous").unwrap();
    std::thread::sleep(Duration::from_millis(3));
    store.edit_field(&id, q, json!("Made again.")).unwrap();

    let history = store.history(&id).unwrap();
    let kinds: Vec<String> = history
        .iter()
        .map(|h| match h {
            button::store::HistoryItem::Journal(e) => e.action.describe(),
            button::store::HistoryItem::Version { kind, .. } => kind.clone(),
        })
        .collect();
    assert_eq!(kinds, [format!("edit of {q}"), "previous".into(), format!("edit of {days}"), format!("edit of {q}")]);

    store.restore_before(&id, first).unwrap();
    let back = store.sample(&id).unwrap().sample;
    assert_eq!(back.trajectory, original.trajectory, "both edits before the regeneration taken back");
    assert!(back.edits.is_empty(), "{:?}", back.edits);
    store.undo().unwrap();
    assert_eq!(
        store.sample(&id).unwrap().sample.trajectory.unwrap().messages[0],
        Message::User { content: "Made again.".into() }
    );
    let err = store.restore_before(&id, 9999).unwrap_err();
    assert_eq!(err.to_string(), format!("sample {id} has no edit #9999 in the journal"));
}

/// `n` distinct clean trajectories varied enough for zstd to learn a dictionary from (it
/// gives up on `distinct_lines`, which differ in a number only).
fn trip_lines(n: usize) -> Vec<String> {
    let base: Value = serde_json::from_str(&clean_lines()[0]).unwrap();
    (0..n)
        .map(|i| {
            let mut v = base.clone();
            v["messages"][1]["content"] = Value::String(format!("Trip {i}: which coat for Bergen in week {}?", i % 52));
            v.to_string()
        })
        .collect()
}

/// How many zstd dictionaries the workspace holds.
fn dictionaries_held(store: &Store) -> i64 {
    store.conn().query_row("SELECT count(*) FROM dictionaries", [], |r| r.get(0)).unwrap()
}

/// The zstd id a stored frame names as its dictionary (None: it has none).
fn frame_dictionary(data: &[u8]) -> Option<u32> {
    zstd::zstd_safe::get_dict_id_from_frame(data).map(std::num::NonZero::get)
}

#[test]
fn an_import_is_compressed_with_a_dictionary_the_workspace_keeps_and_any_process_reads() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    // 20,000 records: more than the other worker can compress while one trains on the first
    // 1,000, since the in-order sink holds it back.
    let lines = trip_lines(20_000);
    let input = write_file(dir.path(), "in.jsonl", &lines);
    // A reader opened before the import (as the TUI may be), in a process that has never
    // seen the dictionary: the import runs in another process.
    let mut reader = Store::open(&ws, true).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_button"))
        .arg("--workspace")
        .arg(&ws)
        .arg("import")
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let dicts: Vec<(u32, Vec<u8>, String)> = {
        let mut stmt = reader.conn().prepare("SELECT id, data, source FROM dictionaries").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(dicts.len(), 1, "one dictionary for one import");
    let (dict_id, bytes, source) = &dicts[0];
    assert_eq!(zstd::zstd_safe::get_dict_id_from_dict(bytes).map(std::num::NonZero::get), Some(*dict_id));
    assert!(source.contains("in.jsonl's first 1000 lines"), "{source}");
    let frames: Vec<(String, i64, Option<u32>, Option<u32>)> = {
        let mut stmt = reader
            .conn()
            .prepare("SELECT id, CAST(substr(source, instr(source, ':') + 1) AS INTEGER), data, raw FROM samples")
            .unwrap();
        stmt.query_map([], |r| {
            let data: Vec<u8> = r.get(2)?;
            let raw: Vec<u8> = r.get(3)?;
            Ok((r.get(0)?, r.get(1)?, frame_dictionary(&data), frame_dictionary(&raw)))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    assert_eq!(frames.len(), 20_000);
    for (id, line, data, raw) in &frames {
        assert_eq!(data, raw, "{id}: the record and its sample are packed alike");
        assert!(data.is_none() || data == &Some(*dict_id), "{id}: {data:?}");
        // The records it learnt from were packed before it existed; every one after them
        // waited for it (the worker not training it does not go on without it).
        assert_eq!(data.is_some(), *line > 1000, "{id} (line {line}): {data:?}");
    }
    let with_dict = frames.iter().filter(|f| f.2.is_some()).count();
    assert_eq!(with_dict, 19_000, "of 20,000 samples, those after line 1,000 use the dictionary");

    // The reader loads the dictionary when a frame asks for it: everything exports as it came.
    let export = dir.path().join("out.jsonl");
    ops::export(&reader, Format::Button, &export, StatusFilter::All).unwrap();
    assert!(std::fs::read(&export).unwrap() == std::fs::read(&input).unwrap(), "the export is the input byte for byte");

    // An edit, a verdict and their undos on a sample packed with the dictionary.
    let (last, ..) = frames.iter().rev().find(|f| f.2.is_some()).unwrap().clone();
    reader.edit_field(&last, "/trajectory/messages/0/content", json!("Which coat for Tromsø?")).unwrap();
    reader.set_review(&last, Some(review(Verdict::Accepted))).unwrap();
    assert_eq!(reader.review(&last).unwrap().map(|r| r.verdict), Some(Verdict::Accepted));
    ops::export(&reader, Format::Button, &export, StatusFilter::Accepted).unwrap();
    assert!(std::fs::read_to_string(&export).unwrap().contains("Which coat for Tromsø?"));
    reader.undo().unwrap().unwrap();
    reader.undo().unwrap().unwrap();
    ops::export(&reader, Format::Button, &export, StatusFilter::All).unwrap();
    assert!(std::fs::read(&export).unwrap() == std::fs::read(&input).unwrap(), "undone, the export is the input again");

    // A workspace that lost its dictionary says which sample can't be read and why.
    reader.conn().execute("DELETE FROM dictionaries", []).unwrap();
    drop(reader);
    let out =
        Command::new(env!("CARGO_BIN_EXE_button")).arg("--workspace").arg(&ws).arg("show").arg(&last).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("sample {last} holds unreadable data: it is compressed with zstd dictionary {dict_id}, which the workspace does not hold")),
        "{err}"
    );
}

#[test]
fn a_small_import_makes_no_dictionary() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    // 999 lines: fewer than the dictionary learns from (of records zstd can learn from:
    // it gives up on `distinct_lines`).
    import(&mut store, &write_file(dir.path(), "in.jsonl", &trip_lines(999)));
    assert_eq!(dictionaries_held(&store), 0);
    let named: i64 = {
        let mut stmt = store.conn().prepare("SELECT data FROM samples").unwrap();
        stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
            .filter(|d| frame_dictionary(d.as_ref().unwrap()).is_some())
            .count() as i64
    };
    assert_eq!(named, 0);
}

#[test]
fn an_import_whose_dictionary_clashes_with_a_held_one_stops_and_writes_nothing_of_that_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    let lines = trip_lines(6_000);
    import(&mut store, &write_file(dir.path(), "a.jsonl", &lines[..3_000]));
    assert_eq!(dictionaries_held(&store), 1);
    let before = ids(&store, StatusFilter::All).len();
    // Another dictionary under the same id: the odds are 2^-31, so it is made by hand.
    store.conn().execute("UPDATE dictionaries SET data = x'00'", []).unwrap();
    // The same first 1,000 records at the same path (the samples name it) learn the same
    // dictionary; the rest are new samples.
    let mut second = lines[..1_000].to_vec();
    second.extend_from_slice(&lines[3_000..]);
    let err = ops::import(&mut store, &write_file(dir.path(), "a.jsonl", &second), FormatChoice::Auto).unwrap_err();
    assert!(err.to_string().contains("holds another zstd dictionary with id"), "{err}");
    // The dictionary is ready before the record of line 1,000 reaches the writer, so the
    // first batch carries it and stops there: nothing new is written.
    let after = ids(&store, StatusFilter::All);
    assert_eq!(after.len(), before);
    for id in &after {
        store.sample(id).unwrap();
    }
}

#[test]
fn a_dictionary_no_sample_uses_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("ws"), true).unwrap();
    // Exactly the 1,000 lines it learns from: trained, but every record was packed before.
    import(&mut store, &write_file(dir.path(), "in.jsonl", &trip_lines(1_000)));
    assert_eq!(dictionaries_held(&store), 0);
    assert_eq!(ids(&store, StatusFilter::All).len(), 1_000);
}
