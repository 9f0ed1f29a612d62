//! One test per lint rule: each fixture in tests/fixtures/lint breaks exactly its rule
//! (tests/fixtures/lint/make.py writes them).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use button::formats::Format;
use button::lint::{Code, Finding};
use button::ops::{self, FormatChoice};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint").join(format!("{name}.jsonl"))
}

fn findings(path: &Path) -> Vec<(u64, Finding)> {
    let mut out = Vec::new();
    ops::lint_file(path, FormatChoice::Named(Format::Button), |line, fs| {
        out.extend(fs.iter().cloned().map(|f| (line, f)));
        Ok(())
    })
    .unwrap();
    out
}

fn assert_only(name: &str, code: &str) {
    let found = findings(&fixture(name));
    let codes: BTreeSet<&str> = found.iter().map(|(_, f)| f.code.id()).collect();
    assert_eq!(codes, BTreeSet::from([code]), "{name}: {found:#?}");
    assert!(found.iter().all(|(line, _)| *line == 1));
    let c = Code::from_id(code).unwrap();
    assert_eq!(found[0].1.code.severity(), c.severity());
}

#[test]
fn the_clean_fixture_has_no_finding() {
    assert!(findings(&fixture("clean")).is_empty());
}

#[test]
fn every_rule_has_a_fixture() {
    for c in Code::ALL {
        if *c == Code::TooLong {
            continue; // a 64 MiB line is made at test time, see below
        }
        let name = format!("{}-{}", c.id(), c.name());
        assert!(fixture(&name).exists(), "no fixture for {name}");
    }
}

macro_rules! rule_tests {
    ($($test:ident: $code:literal, $name:literal;)*) => {
        $(#[test] fn $test() { assert_only(concat!($code, "-", $name), $code); })*
    };
}

rule_tests! {
    l01_not_utf8: "L01", "not-utf8";
    l02_not_json: "L02", "not-json";
    l04_no_messages: "L04", "no-messages";
    l05_unknown_role: "L05", "unknown-role";
    l06_malformed: "L06", "malformed";
    e01_unknown_function: "E01", "unknown-function";
    e02_arguments_not_object: "E02", "arguments-not-object";
    e03_missing_argument: "E03", "missing-argument";
    e04_wrong_type: "E04", "wrong-type";
    e05_unknown_argument: "E05", "unknown-argument";
    e06_result_mismatch: "E06", "result-mismatch";
    e07_parallel_when_off: "E07", "parallel-when-off";
    e08_no_final: "E08", "no-final";
    e09_after_final: "E09", "after-final";
    e10_empty_message: "E10", "empty-message";
    e11_role_order: "E11", "role-order";
    e12_bad_tool_list: "E12", "bad-tool-list";
    e13_placeholder_final: "E13", "placeholder-final";
    w01_uncalled_function: "W01", "uncalled-function";
    w02_repeated_call: "W02", "repeated-call";
    w03_final_ignores_results: "W03", "final-ignores-results";
    w04_too_few_calls: "W04", "too-few-calls";
}

#[test]
fn l03_a_line_over_64_mib_is_reported_and_the_next_line_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("L03-line-too-long.jsonl");
    let clean = std::fs::read(fixture("clean")).unwrap();
    let mut data = Vec::with_capacity(66 << 20);
    data.extend_from_slice(br#"{"messages": [{"role": "user", "content": ""#);
    data.resize(data.len() + (65 << 20), b'a');
    data.extend_from_slice(b"\"}]}\n");
    data.extend_from_slice(&clean);
    std::fs::write(&path, &data).unwrap();
    let found = findings(&path);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 1);
    assert_eq!(found[0].1.code, Code::TooLong);
    assert!(found[0].1.message.contains("64 MiB"));
}

#[test]
fn pointers_name_the_message_and_field() {
    let found = findings(&fixture("E04-wrong-type"));
    let f = &found[0].1;
    assert_eq!(f.message_index, Some(2));
    assert_eq!(f.field.as_deref(), Some("calls[0].arguments.days"));
    assert_eq!(f.pointer(), "messages[2].calls[0].arguments.days");
}
