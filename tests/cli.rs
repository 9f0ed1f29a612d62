//! The real binary: output formats, exit codes, and one plain sentence for each bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn button(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_button")).args(args).current_dir(cwd).output().unwrap()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lint")
        .join(format!("{name}.jsonl"))
        .display()
        .to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One line, starting "error: ", naming the file, no panic or backtrace.
fn assert_one_sentence(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{err} should say {needle}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
}

#[test]
fn bad_inputs_get_one_plain_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("empty.jsonl"), "").unwrap();
    std::fs::write(d.join("blank.jsonl"), "\n\n  \n").unwrap();
    std::fs::write(d.join("mystery.jsonl"), "{\"rows\": 1}\n").unwrap();
    std::fs::create_dir(d.join("folder")).unwrap();
    for cmd in ["import", "lint", "stats"] {
        assert_one_sentence(&button(&[cmd, "missing.jsonl"], d), "missing.jsonl: no such file");
        assert_one_sentence(&button(&[cmd, "folder"], d), "folder is a directory");
        assert_one_sentence(&button(&[cmd, "empty.jsonl"], d), "empty.jsonl is empty");
        assert_one_sentence(&button(&[cmd, "blank.jsonl"], d), "blank.jsonl is empty");
        assert_one_sentence(&button(&[cmd, "mystery.jsonl"], d), "cannot tell the format of mystery.jsonl");
    }
    assert!(!d.join("button.db").exists(), "a failed import creates no workspace");
    assert_one_sentence(&button(&["export", "--format", "button", "--out", "x.jsonl"], d), "no workspace in .");
    assert_one_sentence(&button(&["stats"], d), "no workspace");
    let o = button(&["import", "x.jsonl", "--format", "csv"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown format \"csv\""), "{}", stderr(&o));
}

#[test]
fn lint_prints_file_line_code_severity_message_and_exits_by_severity() {
    let dir = tempfile::tempdir().unwrap();
    let o = button(&["lint", &fixture("clean")], dir.path());
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).ends_with(
            "2 trajectories (button format), 0 unreadable lines; 0 errors on 0 lines, 0 warnings on 0 lines\n"
        ),
        "{}",
        stdout(&o)
    );

    let o = button(&["lint", &fixture("E04-wrong-type")], dir.path());
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let first = out.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "{}:1: E04 error get_weather: argument days is a string, the schema wants integer (at messages[2].calls[0].arguments.days)",
            fixture("E04-wrong-type")
        )
    );
    assert!(
        out.lines().last().unwrap().ends_with("1 errors on 1 lines, 0 warnings on 0 lines; E04 wrong-type 1"),
        "{out}"
    );

    // Warnings alone do not fail.
    assert_eq!(button(&["lint", &fixture("W02-repeated-call")], dir.path()).status.code(), Some(0));
}

#[test]
fn lint_json_is_one_json_document() {
    let dir = tempfile::tempdir().unwrap();
    let o = button(&["lint", "--json", &fixture("E01-unknown-function")], dir.path());
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["code"], "E01");
    assert_eq!(v["findings"][0]["line"], 1);
    assert_eq!(v["findings"][0]["message_index"], 2);
    assert_eq!(v["findings"][0]["field"], "calls[1].name");
    assert_eq!(v["summary"]["errors"], 1);
    assert_eq!(v["summary"]["by_code"]["E01"], 1);
}

#[test]
fn lint_rules_lists_every_code() {
    let o = button(&["lint", "--rules"], Path::new("."));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), button::lint::Code::ALL.len());
    assert!(out.contains("W03 final-ignores-results"));
}

#[test]
fn import_stats_verdict_undo_export_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut data = std::fs::read_to_string(fixture("clean")).unwrap();
    data.push_str(&std::fs::read_to_string(fixture("E07-parallel-when-off")).unwrap());
    data.push_str("not json\n");
    std::fs::write(d.join("in.jsonl"), &data).unwrap();

    let o = button(&["--workspace", "ws", "import", "in.jsonl"], d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("in.jsonl:4: L02 the line is not JSON"), "{}", stderr(&o));
    let summary = stdout(&o);
    assert!(summary.starts_with("imported 3 samples from in.jsonl (button format, JSON Lines) in "), "{summary}");
    assert!(summary.trim_end().ends_with("1 lines skipped: 1 not-json (L02)"), "{summary}");

    let o = button(&["--workspace", "ws", "import", "in.jsonl"], d);
    assert!(stdout(&o).contains("imported 0 samples") && stdout(&o).contains("3 already in the workspace"));

    let o = button(&["--workspace", "ws", "stats"], d);
    let stats = stdout(&o);
    assert!(stats.contains("samples     3\n"), "{stats}");
    assert!(stats.contains("status      pending 3\n"), "{stats}");
    assert!(stats.contains("parallel    1 of 3 trajectories have parallel calls (33.3%)"), "{stats}");
    assert!(stats.contains("lint        2 of 3 trajectories clean (66.7%)"), "{stats}");
    assert!(stats.contains("E07 parallel-when-off"), "{stats}");

    let o = button(&["stats", "in.jsonl"], d);
    assert!(stdout(&o).contains("unreadable  1 lines"), "{}", stdout(&o));

    let ws = Path::new(d).join("ws");
    let store = button::store::Store::open(&ws, false).unwrap();
    let mut ids = Vec::new();
    store
        .for_each_sample(button::store::StatusFilter::All, |s| {
            ids.push(s.sample.id);
            Ok(())
        })
        .unwrap();
    drop(store);
    let o = button(&["--workspace", "ws", "verdict", &ids[0], "accept"], d);
    assert_eq!(stdout(&o).trim(), format!("{}: accepted", ids[0]));
    button(&["--workspace", "ws", "verdict", &ids[2], "reject", "--reason", "bad-arguments", "--note", "two calls"], d);
    let o = button(&["--workspace", "ws", "undo"], d);
    assert!(stdout(&o).contains("(verdict rejected)"), "{}", stdout(&o));
    let o = button(&["--workspace", "ws", "verdict", "tnope", "accept"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sample tnope is not in the workspace"));

    for f in ["button", "openai", "sharegpt"] {
        let out = format!("out.{f}.jsonl");
        let o = button(&["--workspace", "ws", "export", "--format", f, "--out", &out], d);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).starts_with("exported 1 accepted samples"), "{}", stderr(&o));
        let written: PathBuf = d.join(&out);
        assert_eq!(std::fs::read_to_string(&written).unwrap().lines().count(), 1);
        // What we export, lint reads back without an error.
        assert_eq!(button(&["lint", &out], d).status.code(), Some(0), "{f}");
    }
    let o = button(&["--workspace", "ws", "export", "--format", "button", "--out", "-", "--status", "all"], d);
    assert_eq!(stdout(&o).lines().count(), 3);
}

#[test]
fn model_text_never_reaches_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let line = std::fs::read_to_string(fixture("E01-unknown-function"))
        .unwrap()
        .replace("book_hotel", "book\\\\u001b[2Jhotel");
    std::fs::write(dir.path().join("esc.jsonl"), line).unwrap();
    let o = button(&["lint", "esc.jsonl"], dir.path());
    let out = stdout(&o);
    assert!(!out.contains('\u{1b}'), "{out:?}");
    assert!(out.contains("book\\e[2Jhotel"), "{out}");
}

#[test]
fn run_says_in_one_sentence_why_it_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let o = button(&["run", "--headless", "--endpoint", &url, "--model", "m"], d);
    assert_one_sentence(&o, "cannot reach http://127.0.0.1:");
    let o = button(&["run", "--headless", "--endpoint", "ftp://x", "--model", "m"], d);
    assert_one_sentence(&o, "must start with http:// or https://");
    let o = Command::new(env!("CARGO_BIN_EXE_button"))
        .args(["run", "--headless", "--endpoint", &url])
        .env_remove("BUTTON_MODEL")
        .current_dir(d)
        .output()
        .unwrap();
    assert_one_sentence(&o, "no model named");
    std::fs::write(d.join("button.toml"), "[run]\nsamplez = 3\n").unwrap();
    assert_one_sentence(&button(&["run", "--headless"], d), "button.toml:2: unknown field `samplez`");
}

#[test]
fn init_writes_a_commented_config_once_and_run_uses_the_simulator_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = button(&["--workspace", "ws", "init"], d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(d.join("ws/button.toml")).unwrap().contains("# No endpoint: the offline simulator")
    );
    assert_one_sentence(&button(&["--workspace", "ws", "init"], d), "exists already");

    let o = Command::new(env!("CARGO_BIN_EXE_button"))
        .args(["--workspace", "ws", "run", "--headless", "--samples", "12", "--seed", "2"])
        .env_remove("OPENAI_BASE_URL")
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("the replies are SIMULATED"), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("run finished: 12 samples this run ("), "{out}");
    assert!(out.trim_end().ends_with("replies were simulated"), "{out}");
    let again = Command::new(env!("CARGO_BIN_EXE_button"))
        .args(["--workspace", "ws", "run", "--headless", "--samples", "12", "--seed", "2"])
        .env_remove("OPENAI_BASE_URL")
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(stdout(&again).trim(), "the workspace already holds 12 ended samples for seed 2: nothing to do");
}

#[test]
fn prompts_check_reports_a_broken_override_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = button(&["prompts", "--check"], d);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("all 10 templates render"));
    std::fs::create_dir(d.join("prompts")).unwrap();
    std::fs::write(d.join("prompts/user_agent.jinja"), "Task: {{ task }}\n{{ persona }}\n").unwrap();
    let o = button(&["prompts", "--check"], d);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("prompts/user_agent.jinja:2: undefined value"), "{}", stderr(&o));
    assert!(stdout(&o).contains("user_agent"));
}

#[test]
fn the_tui_without_a_terminal_says_so_before_doing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Output captured: not a terminal.
    assert_one_sentence(&button(&[], d), "the TUI needs a terminal");
    assert_one_sentence(&button(&["run"], d), "the TUI needs a terminal");
    assert_one_sentence(&button(&["review", &fixture("clean")], d), "the TUI needs a terminal");
    assert!(!d.join("button.db").exists(), "nothing imported, no workspace made");
}

#[test]
fn lint_json_stays_one_json_document_when_it_fails() {
    let dir = tempfile::tempdir().unwrap();
    let o = button(&["lint", "--json", "missing.jsonl"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)));
    assert!(v["error"].as_str().unwrap().contains("missing.jsonl"), "{v}");
    assert!(stderr(&o).starts_with("error: "));
}

#[test]
fn a_byte_order_mark_is_read_past_and_noted() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(std::fs::read(fixture("clean")).unwrap());
    std::fs::write(dir.path().join("bom.jsonl"), &bytes).unwrap();
    let o = button(&["lint", "bom.jsonl"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("0 unreadable lines; 0 errors"), "{}", stdout(&o));
    assert!(stderr(&o).contains("bom.jsonl starts with a UTF-8 byte-order mark"), "{}", stderr(&o));
    let o = button(&["--workspace", "ws", "import", "bom.jsonl"], dir.path());
    assert!(stdout(&o).contains("imported 2 samples") && stdout(&o).contains("no line skipped"), "{}", stdout(&o));
}

#[test]
fn a_dash_reads_standard_input() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(fixture("E01-unknown-function")).unwrap();
    for args in [vec!["lint", "-"], vec!["--workspace", "ws", "import", "-"], vec!["stats", "-"]] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_button"))
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(&data).unwrap();
        let o = c.wait_with_output().unwrap();
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert_ne!(o.status.code(), Some(2), "{args:?}: {all}");
        assert!(all.contains("<stdin>") || args[0] == "stats", "{args:?}: {all}");
        assert!(
            all.contains("1 trajectories") || all.contains("imported 1") || all.contains("1 samples"),
            "{args:?}: {all}"
        );
    }
    // The samples read from standard input say so, not the name of its temporary copy.
    let listed = stdout(&button(&["--workspace", "ws", "list"], dir.path()));
    assert!(listed.contains("<stdin>:1") && !listed.contains("button-input-"), "{listed}");
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("button-input-"))
        .filter(|e| e.file_name().to_string_lossy().contains(&format!("-{}-", std::process::id())))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_file_name_with_escapes_is_shown_sanitized() {
    let dir = tempfile::tempdir().unwrap();
    let evil = "evil\x1b]0;pwned\x07.jsonl";
    std::fs::copy(fixture("E01-unknown-function"), dir.path().join(evil)).unwrap();
    for args in [vec!["lint", evil], vec!["--workspace", "ws", "import", evil]] {
        let o = button(&args, dir.path());
        let all = [o.stdout.clone(), o.stderr.clone()].concat();
        assert!(!all.contains(&0x1b) && !all.contains(&0x07), "{args:?}: {}", String::from_utf8_lossy(&all));
        assert!(String::from_utf8_lossy(&all).contains("evil"), "{args:?}");
    }
}

/// LLaMA-Factory's own tool-call demo (tests/fixtures/llamafactory): a JSON array, read
/// plain, gzip-compressed and zstd-compressed, chosen by its bytes.
#[test]
fn llama_factorys_json_array_demo_imports_plain_and_compressed() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let gz = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llamafactory/glaive_toolcall_en_demo.json.gz");
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()).read_to_end(&mut json).unwrap();
    assert!(json.starts_with(b"[\n"));
    let plain = dir.path().join("demo.json");
    std::fs::write(&plain, &json).unwrap();
    let zst = dir.path().join("demo.data");
    std::fs::File::create(&zst).unwrap().write_all(&zstd::stream::encode_all(&json[..], 3).unwrap()).unwrap();
    for (k, (file, container)) in [
        (plain.display().to_string(), "JSON array"),
        (gz.display().to_string(), "gzip-compressed JSON array"),
        (zst.display().to_string(), "zstd-compressed JSON array"),
    ]
    .into_iter()
    .enumerate()
    {
        let ws = dir.path().join(format!("ws-{k}"));
        let ws = ws.display().to_string();
        let o = button(&["--workspace", &ws, "import", &file], dir.path());
        assert!(o.status.success(), "{}", stderr(&o));
        // 300 rows, 35 of them repeats of another row.
        let said = stderr(&o) + &stdout(&o);
        assert!(
            said.contains(&format!("imported 265 samples from {file} (sharegpt format, {container})"))
                && said.contains("; 35 repeats of earlier records in the file;")
                && !said.contains("already in the workspace")
                && said.contains("no item skipped"),
            "{said}"
        );
        let o = button(&["lint", &file], dir.path());
        assert!(stdout(&o).contains("300 trajectories (sharegpt format), 0 unreadable lines"), "{}", stdout(&o));
    }
    // A record that isn't JSON is skipped and named by its place in the array.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "[{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, {\"from\": \"gpt\", \"value\": \"hello\"}]},\n tru]").unwrap();
    let o = button(&["lint", &broken.display().to_string()], dir.path());
    assert!(stdout(&o).contains("broken.json:2: L02"), "{}", stdout(&o));
}

/// LLaMA-Factory's reason demo (v1 content parts, tools as a JSON string, `type: dict`
/// schemas, parallel results in one message), read as it means.
#[test]
fn llama_factorys_v1_reason_demo_reads_parts_string_tools_and_dict_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let gz = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llamafactory/reason_tool_use_demo_50.jsonl.gz");
    let gz = gz.display().to_string();
    let o = button(&["--workspace", "ws", "import", &gz], dir.path());
    assert!(stdout(&o).contains("imported 50 samples") && stdout(&o).contains("no line skipped"), "{}", stdout(&o));
    // What lint finds is in the data (11 dialogues end on calls nobody answered), not in
    // the reading: no argument is checked against a mangled schema, no result is unmatched.
    let o = button(&["lint", &gz, "--json"], dir.path());
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: std::collections::BTreeSet<&str> =
        report["findings"].as_array().unwrap().iter().filter_map(|f| f["code"].as_str()).collect();
    assert!(codes.iter().all(|c| ["E08", "W01", "W03", "W04"].contains(c)), "{codes:?}");
    let o = button(&["--workspace", "ws", "list"], dir.path());
    let first = stdout(&o).lines().next().unwrap().split_whitespace().next().unwrap().to_string();
    let shown: Value =
        serde_json::from_slice(&button(&["--workspace", "ws", "show", &first], dir.path()).stdout).unwrap();
    let tools = shown["trajectory"]["tools"].as_array().unwrap();
    assert!(tools.iter().all(|t| t["parameters"]["type"] == "object"), "{tools:?}");
    // The reasoning before a call is the assistant's thought, kept.
    let reasoned = shown["trajectory"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["role"] == "assistant" && m["thought"].as_str().is_some_and(|t| t.len() > 40));
    assert!(reasoned, "{shown}");
    // A BFCL-style tool of the file: its properties kept, Python types as JSON Schema's,
    // `required` from beside the parameters.
    let list = stdout(&button(&["--workspace", "ws", "list"], dir.path()));
    let device = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|id| {
            serde_json::from_slice::<Value>(&button(&["--workspace", "ws", "show", id], dir.path()).stdout).unwrap()
        })
        .flat_map(|s| s["trajectory"]["tools"].as_array().cloned().unwrap_or_default())
        .find(|t| t["name"] == "get_device_asset_by_identifier")
        .expect("the tool is in the file");
    assert_eq!(device["parameters"]["properties"]["identifier"]["type"], "string");
    assert_eq!(device["parameters"]["required"], serde_json::json!(["identifier"]));
    assert_eq!(
        device["parameters"]["properties"]["identifier"]["default"], "71491234-A",
        "nothing of the schema dropped"
    );
}

#[test]
fn unreadable_records_are_named_with_their_place_and_what_they_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // An array (pretty-printed, as LLaMA-Factory writes them): element 1 repeats 0,
    // element 2 has a turn with no value.
    let good =
        serde_json::json!({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."}]});
    let bad = serde_json::json!({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt"}]});
    let text = serde_json::to_string_pretty(&serde_json::json!([good, good, bad])).unwrap();
    std::fs::write(d.join("data.json"), &text).unwrap();
    let o = button(&["--workspace", "ws", "import", "data.json"], d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    // Where each element opens: its brace, indented two spaces.
    let starts: Vec<usize> = text.lines().enumerate().filter(|(_, l)| *l == "  {").map(|(i, _)| i + 1).collect();
    assert_eq!(starts.len(), 3);
    let bad_line = starts[2];
    assert!(
        err.contains(&format!("data.json[2] (line {bad_line}): L06 the gpt turn has no value (at messages[1])")),
        "{err}"
    );
    assert!(err.contains("    it reads: {\"from\":\"gpt\"}"), "{err}");
    assert!(
        err.contains(&format!(
            "note: data.json[1] (line {}) repeats data.json[0] (line {}); imported once",
            starts[1], starts[0]
        )),
        "{err}"
    );
    let summary = stdout(&o);
    assert!(
        summary.contains("imported 1 samples") && summary.contains("; 1 repeats of earlier records in the file"),
        "{summary}"
    );
    assert!(!summary.contains("already in the workspace"), "{summary}");

    // Nothing readable: exit 2, said once, and `review` does not open the TUI.
    std::fs::write(d.join("broken.jsonl"), "{\"messages\": 3}\n{\"messages\": []}\n").unwrap();
    let o = button(&["--workspace", "ws", "import", "--format", "button", "broken.jsonl"], d);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("error: nothing was imported: every record of broken.jsonl was skipped"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("broken.jsonl:1: "), "{}", stderr(&o));
    // `script` gives the binary a terminal; with one it would open the TUI and wait.
    let bin = env!("CARGO_BIN_EXE_button");
    let o = Command::new("timeout")
        .args([
            "20",
            "script",
            "-qec",
            &format!("{bin} --workspace ws review --format button broken.jsonl"),
            "/dev/null",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stdout(&o).contains("nothing was imported"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("\x1b[?1049h"), "the TUI's screen was never entered");
}

#[test]
fn export_for_a_trainer_writes_its_layout_and_llamafactorys_dataset_info_entry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = button(&["--workspace", "ws", "run", "--headless", "--samples", "6", "--seed", "3"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::create_dir(d.join("data")).unwrap();
    // LLaMA-Factory's data folder already lists other datasets: they stay.
    std::fs::write(d.join("data/dataset_info.json"), r#"{"alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}}"#)
        .unwrap();
    for t in ["llamafactory", "llamafactory-openai", "trl", "openai"] {
        let out = format!("data/mine-{t}.jsonl");
        let o = button(&["--workspace", "ws", "export", "--for", t, "--status", "all", "--out", &out], d);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains(&format!("(for {t})")), "{}", stderr(&o));
        assert_eq!(stderr(&o).contains("entry written to data/dataset_info.json"), t.starts_with("llamafactory"));
    }
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("data/dataset_info.json")).unwrap()).unwrap();
    assert_eq!(info["alpaca_en_demo"]["file_name"], "alpaca_en_demo.json");
    assert_eq!(info["mine-llamafactory"]["file_name"], "mine-llamafactory.jsonl");
    assert_eq!(info["mine-llamafactory"]["formatting"], "sharegpt");
    assert_eq!(info["mine-llamafactory"]["columns"]["system"], "system");
    assert_eq!(info["mine-llamafactory-openai"]["formatting"], "openai");
    assert_eq!(info["mine-llamafactory-openai"]["tags"]["function_tag"], "function_call");

    let first = |t: &str| -> Value {
        let text = std::fs::read_to_string(d.join(format!("data/mine-{t}.jsonl"))).unwrap();
        serde_json::from_str(text.lines().next().unwrap()).unwrap()
    };
    // LLaMA-Factory: every value a string; a call turn with a thought in its tool-call words.
    let lf = first("llamafactory");
    assert!(lf["tools"].is_string() && lf["system"].is_string());
    let call = lf["conversations"].as_array().unwrap().iter().find(|t| t["from"] == "function_call").unwrap();
    let value = call["value"].as_str().unwrap();
    let (thought, rest) = value.split_once("\n<tool_call>").expect("thought, then the calls");
    assert!(!thought.is_empty());
    let calls: Value = serde_json::from_str(rest.strip_suffix("</tool_call>").unwrap()).unwrap();
    let one = if calls.is_array() { calls[0].clone() } else { calls };
    assert!(one["arguments"].is_object(), "{one}");
    let lfo = first("llamafactory-openai");
    assert!(
        lfo["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.as_object().unwrap().len() == 2 && m["content"].is_string())
    );
    // TRL: argument objects, tools as a JSON string, thought in content.
    let trl = first("trl");
    assert!(trl["tools"].is_string());
    let m = trl["messages"].as_array().unwrap().iter().find(|m| m.get("tool_calls").is_some()).unwrap();
    assert!(m["tool_calls"][0]["function"]["arguments"].is_object());
    assert!(!m["content"].as_str().unwrap().is_empty());
    // The OpenAI fine-tuning API: arguments as JSON text, parallel_tool_calls said.
    let api = first("openai");
    let m = api["messages"].as_array().unwrap().iter().find(|m| m.get("tool_calls").is_some()).unwrap();
    assert!(m["tool_calls"][0]["function"]["arguments"].is_string());
    assert!(api["parallel_tool_calls"].is_boolean());

    // A dataset_info.json that is not an object of datasets is never overwritten.
    std::fs::write(d.join("data/dataset_info.json"), "[1, 2]").unwrap();
    let o = button(&["--workspace", "ws", "export", "--for", "llamafactory", "--out", "data/x.jsonl"], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("data/dataset_info.json is not a JSON object of datasets"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(d.join("data/dataset_info.json")).unwrap(), "[1, 2]");
    assert!(!d.join("data/x.jsonl").exists(), "nothing is written when the entry can't be");
    // Layouts only read, and a missing folder, get one sentence.
    let o = button(&["--workspace", "ws", "export", "--format", "xlam", "--out", "x.jsonl"], d);
    assert_one_sentence(&o, "xlam is a layout button reads but does not write");
    let o = button(&["--workspace", "ws", "export", "--for", "trl", "--out", "nowhere/x.jsonl"], d);
    assert_one_sentence(&o, "cannot write nowhere/x.jsonl: the folder nowhere does not exist");
}

#[test]
fn the_workspace_log_keeps_runs_verdicts_undos_and_errors_and_button_log_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = button(&["--workspace", "ws", "log"], d);
    assert_one_sentence(&o, "ws is not a workspace (no button.db): there is no log to show");
    let o = button(&["--workspace", "ws", "run", "--headless", "--samples", "3"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = stdout(&button(&["--workspace", "ws", "list"], d)).split_whitespace().next().unwrap().to_string();
    button(&["--workspace", "ws", "verdict", &id, "accept"], d);
    button(&["--workspace", "ws", "undo"], d);
    let o = button(&["--workspace", "ws", "verdict", "tnope", "accept"], d);
    assert_eq!(o.status.code(), Some(2));
    let o = button(&["--workspace", "ws", "log", "--lines", "100"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = stdout(&o);
    assert!(
        log.lines().next().unwrap().ends_with("INFO command: run"),
        "the first run, which made the workspace: {log}"
    );
    for needle in [
        "INFO run started: 3 samples to make, 0 already done seed=0",
        "INFO run ended: 3 started, 3 complete, 0 failed, 0 stopped",
        &format!("INFO verdict: accepted sample=\"{id}\" seq=1"),
        &format!("INFO undo of #1 (verdict) sample={id} seq=2"),
        "ERROR command verdict failed: sample tnope is not in the workspace",
        "INFO command: log",
    ] {
        assert!(log.contains(needle), "{needle:?} in\n{log}");
    }
    let o = button(&["--workspace", "ws", "log", "--lines", "2"], d);
    assert_eq!(stdout(&o).lines().count(), 2);
    assert!(std::fs::read_to_string(d.join("ws/button.log")).unwrap().lines().count() > 8);
}
