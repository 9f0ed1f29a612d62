//! Import -> export round trips, for each format and across them.

use std::path::Path;

use button::formats::button::{SYSTEM_TEMPLATE, parallel_sentence};
use button::formats::{Format, detect_line};
use button::model::{Message, Trajectory};
use serde_json::{Value, json};

fn clean_lines() -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint/clean.jsonl");
    std::fs::read_to_string(p).unwrap().lines().map(String::from).collect()
}

fn parse(f: Format, line: &str) -> Trajectory {
    f.parse_line(line).unwrap_or_else(|e| panic!("{f}: {e:?} in {line}")).trajectory
}

/// A trajectory with parallel calls, a question back to the user, and object-schema tools.
fn rich() -> Trajectory {
    let line = json!({"messages": [
        {"role": "system", "content": SYSTEM_TEMPLATE
            .replace("{tool_list}", "{\"name\": \"find_flights\", \"description\": \"Flights between cities.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"from\": {\"type\": \"string\"}, \"to\": {\"type\": \"string\"}}, \"required\": [\"from\", \"to\"], \"additionalProperties\": false}, \"responses\": {\"flights\": {\"type\": \"array\"}}}\n{\"name\": \"convert\", \"description\": \"Currency.\", \"parameters\": {\"amount\": {\"type\": \"number\"}, \"to\": {\"type\": \"string\"}}, \"required\": [\"amount\"]}")
            .replace("{parallel}", parallel_sentence(true))},
        {"role": "user", "content": "Cheapest flight Lima to Quito, in euros?"},
        {"role": "assistant", "content": "Which date do you want to fly?"},
        {"role": "user", "content": "The 3rd of May."},
        {"role": "assistant", "content": "Two searches at once. <call>[{\"name\": \"find_flights\", \"arguments\": {\"from\": \"Lima\", \"to\": \"Quito\"}}, {\"name\": \"find_flights\", \"arguments\": {\"to\": \"Quito\", \"from\": \"Cusco\"}}]</call>"},
        {"role": "tool", "content": "[{\"name\": \"find_flights\", \"arguments\": {\"from\": \"Lima\", \"to\": \"Quito\"}, \"results\": {\"flights\": [{\"price\": 210, \"currency\": \"USD\"}]}}, {\"name\": \"find_flights\", \"arguments\": {\"to\": \"Quito\", \"from\": \"Cusco\"}, \"results\": {\"flights\": []}}]"},
        {"role": "assistant", "content": "Convert. <call>[{\"name\": \"convert\", \"arguments\": {\"amount\": 210, \"to\": \"EUR\"}}]</call>"},
        {"role": "tool", "content": "[{\"name\": \"convert\", \"arguments\": {\"amount\": 210, \"to\": \"EUR\"}, \"results\": 193.2}]"},
        {"role": "assistant", "content": "All done. <final>The cheapest is 210 USD, about 193.2 EUR.</final>"}
    ]})
    .to_string();
    parse(Format::Button, &line)
}

fn samples() -> Vec<Trajectory> {
    let mut v: Vec<Trajectory> = clean_lines().iter().map(|l| parse(Format::Button, l)).collect();
    v.push(rich());
    // A record's own system prompt, which every layout has room for.
    let mut own = rich();
    own.system = Some("You are the travel desk of Hotel Quito. Prices are in USD unless asked.".into());
    v.push(own);
    v
}

/// What every format can carry: everything but the function responses, the final turn's
/// thought, and call ids (which only `OpenAI` has).
fn portable(t: &Trajectory) -> Trajectory {
    let mut t = t.clone();
    for f in &mut t.tools {
        f.responses = None;
    }
    for m in &mut t.messages {
        match m {
            Message::Assistant { thought, final_answer: Some(_), calls } if calls.is_empty() => thought.clear(),
            Message::Assistant { calls, .. } => calls.iter_mut().for_each(|c| c.id = None),
            Message::Tool { results } => results.iter_mut().for_each(|r| r.id = None),
            Message::User { .. } => {}
        }
    }
    t
}

#[test]
fn each_format_round_trips_without_loss_and_byte_for_byte_on_its_own_output() {
    for t in samples() {
        for f in Format::WRITTEN {
            let line = f.write_line(&t);
            assert_eq!(detect_line(&line), Some(f), "{f} output is detected as {f}");
            let back = parse(f, &line);
            let line2 = f.write_line(&back);
            assert_eq!(line, line2, "{f}: writing what was read gives the same bytes");
            assert_eq!(parse(f, &line2), back);
            if f == Format::Button {
                assert_eq!(back, t, "BUTTON keeps everything");
            } else {
                assert_eq!(portable(&back), portable(&t), "{f} keeps all it can carry");
            }
        }
    }
}

#[test]
fn crossing_formats_keeps_the_dialogue() {
    for t in samples() {
        for a in Format::WRITTEN {
            for b in Format::WRITTEN {
                let via = parse(b, &b.write_line(&parse(a, &a.write_line(&t))));
                assert_eq!(portable(&via), portable(&t), "{a} -> {b}");
            }
        }
    }
}

#[test]
fn button_reads_pretty_tool_lists_json_arrays_and_the_systems_role() {
    let tools = json!([
        {"name": "a", "description": "A.", "parameters": {"x": {"type": "string"}}, "required": ["x"]},
        {"name": "b", "description": "B.", "parameters": {}, "required": []}
    ]);
    let as_array = serde_json::to_string_pretty(&tools).unwrap();
    let one_after_another: String =
        tools.as_array().unwrap().iter().map(|f| serde_json::to_string_pretty(f).unwrap() + "\n").collect();
    let mut seen = Vec::new();
    for list in [as_array, one_after_another] {
        let system = SYSTEM_TEMPLATE.replace("{tool_list}", &list).replace("{parallel}", parallel_sentence(false));
        let line = json!({"messages": [{"role": "systems", "content": system},
            {"role": "user", "content": "hi"}, {"role": "assistant", "content": "<final>hello</final>"}]})
        .to_string();
        let t = parse(Format::Button, &line);
        assert_eq!(t.system, None, "the template is recognised whatever the tool list's layout");
        assert_eq!(t.parallel, Some(false));
        assert_eq!(t.tools.len(), 2);
        seen.push(t);
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn openai_reads_string_arguments_content_parts_and_matches_results_by_id() {
    let line = json!({
        "messages": [
            {"role": "system", "content": "You book rooms."},
            {"role": "user", "content": [{"type": "text", "text": "Room in Rome "}, {"type": "text", "text": "for two"}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{\"city\": \"Rome\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "price", "arguments": "{\"city\": \"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "c2", "content": "{\"eur\": 90}"},
            {"role": "tool", "tool_call_id": "c1", "content": "not json at all"},
            {"role": "assistant", "content": "Hotel Roma, 90 EUR."}
        ],
        "tools": [{"type": "function", "function": {"name": "search", "description": "", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                  {"type": "function", "function": {"name": "price", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "parallel_tool_calls": true
    })
    .to_string();
    let t = parse(Format::OpenAi, &line);
    assert_eq!(t.system.as_deref(), Some("You book rooms."));
    assert_eq!(t.messages[0], Message::User { content: "Room in Rome for two".into() });
    let Message::Tool { results } = &t.messages[2] else { panic!("{:?}", t.messages[2]) };
    assert_eq!(results[0].name, "price");
    assert_eq!(results[0].results, json!({"eur": 90}));
    assert_eq!(results[1].name, "search");
    assert_eq!(results[1].results, Value::String("not json at all".into()));
    assert!(matches!(&t.messages[3], Message::Assistant { final_answer: Some(f), .. } if f == "Hotel Roma, 90 EUR."));
    let again = parse(Format::OpenAi, &Format::OpenAi.write_line(&t));
    assert_eq!(again, t);
}

#[test]
fn sharegpt_keeps_thoughts_beside_values_and_splits_parallel_observations() {
    let t = rich();
    let line = Format::ShareGpt.write_line(&t);
    let v: Value = serde_json::from_str(&line).unwrap();
    assert!(v["tools"].is_string(), "LLaMA-Factory wants tools as a JSON string");
    let turns = v["conversations"].as_array().unwrap();
    let froms: Vec<&str> = turns.iter().map(|t| t["from"].as_str().unwrap()).collect();
    assert_eq!(froms, ["human", "gpt", "human", "function_call", "observation", "function_call", "observation", "gpt"]);
    assert_eq!(turns[3]["thought"], "Two searches at once.");
    let back = parse(Format::ShareGpt, &line);
    let Message::Tool { results } = &back.messages[4] else { panic!() };
    assert_eq!(results.len(), 2);
    assert_eq!(results[1].results, json!({"flights": []}));
}

#[test]
fn detect_tells_the_three_formats_apart_and_says_none_when_it_cannot() {
    assert_eq!(detect_line(r#"{"conversations": []}"#), Some(Format::ShareGpt));
    assert_eq!(detect_line(r#"{"messages": [], "tools": []}"#), Some(Format::OpenAi));
    assert_eq!(detect_line(r#"{"messages": [{"role": "systems", "content": "x"}]}"#), Some(Format::Button));
    assert_eq!(detect_line(r#"{"messages": [{"role": "user", "content": "x"}]}"#), None);
    assert_eq!(detect_line("not json"), None);
}

#[test]
fn openai_tool_messages_answer_the_call_ids_written_when_only_results_had_ids() {
    // LLaMA-Factory v1: `tool_call` parts without ids, tool messages with their own.
    let line = json!({"messages": [
        {"role": "user", "content": [{"type": "text", "value": "Areas for r=1 and r=2?"}]},
        {"role": "assistant", "content": [
            {"type": "reasoning", "value": "Two calls."},
            {"type": "tool_call", "value": "{\"name\": \"area\", \"arguments\": {\"r\": 1}}"},
            {"type": "tool_call", "value": "{\"name\": \"area\", \"arguments\": {\"r\": 2}}"}]},
        {"role": "tool", "tool_call_id": "call_xyz", "content": "3.14"},
        {"role": "tool", "tool_call_id": "call_abc", "content": "12.57"},
        {"role": "assistant", "content": "3.14 and 12.57."}
    ], "tools": "[{\"name\": \"area\", \"parameters\": {\"type\": \"object\", \"properties\": {\"r\": {\"type\": \"number\"}}}}]"})
    .to_string();
    let t = parse(Format::OpenAi, &line);
    let out: Value = serde_json::from_str(&Format::OpenAi.write_line(&t)).unwrap();
    let msgs = out["messages"].as_array().unwrap();
    let ids: Vec<&str> = msgs[1]["tool_calls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    let answered: Vec<&str> =
        msgs.iter().filter(|m| m["role"] == "tool").map(|m| m["tool_call_id"].as_str().unwrap()).collect();
    assert_eq!(answered, ids, "each result answers the call at its place");
    assert_eq!(msgs[1]["content"], "Two calls.");
}

#[test]
fn openai_reads_legacy_function_call_messages_and_functions() {
    let line = json!({
        "functions": [{"name": "get_weather", "description": "Weather.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}},
            {"role": "function", "name": "get_weather", "content": "{\"temp\": 3}"},
            {"role": "assistant", "content": "3 °C in Oslo."}
        ]
    })
    .to_string();
    assert_eq!(detect_line(&line), Some(Format::OpenAi));
    let t = parse(Format::OpenAi, &line);
    assert_eq!(t.tools.len(), 1);
    let Message::Assistant { calls, .. } = &t.messages[1] else { panic!("{:?}", t.messages[1]) };
    assert_eq!(calls.len(), 1, "the legacy call is read, not dropped");
    assert_eq!(calls[0].name, "get_weather");
    assert_eq!(calls[0].arguments, json!({"city": "Oslo"}));
    let Message::Tool { results } = &t.messages[2] else { panic!() };
    assert_eq!((results[0].name.as_str(), &results[0].results), ("get_weather", &button::json!({"temp": 3})));
}
