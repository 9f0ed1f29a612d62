//! The layouts people already have, read from rows in their published shapes
//! (tests/fixtures/layouts): Hermes function-calling, xLAM/APIGen, raw glaive v2.

use std::path::Path;

use button::formats::{Format, detect_line};
use button::lint::{Code, Layout, lint};
use button::model::{Message, Trajectory};
use serde_json::json;

fn lines(name: &str) -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layouts").join(name);
    std::fs::read_to_string(p).unwrap().lines().map(String::from).collect()
}

fn read(line: &str) -> Trajectory {
    let f = detect_line(line).expect("the layout is told by content");
    f.parse_line(line).unwrap_or_else(|e| panic!("{f}: {e:?}")).trajectory
}

fn calls(m: &Message) -> Vec<(String, serde_json::Value)> {
    match m {
        Message::Assistant { calls, .. } => {
            calls.iter().map(|c| (c.name.clone(), c.arguments.clone().into())).collect()
        }
        _ => vec![],
    }
}

#[test]
fn hermes_reads_python_literal_tools_calls_in_tags_and_tool_responses() {
    let rows = lines("hermes.jsonl");
    for r in &rows {
        assert_eq!(detect_line(r), Some(Format::Hermes));
    }
    let t = read(&rows[0]);
    assert_eq!(t.system, None, "the tag-protocol prompt is not kept once its tools are read");
    assert_eq!(t.tools.len(), 2);
    let news = &t.tools[1];
    assert_eq!(news.name, "get_news");
    // Nothing in the schema is dropped: defaults (a Python False), minimum, additionalProperties.
    assert_eq!(news.parameters["properties"]["include_opinion"]["default"], json!(false));
    assert_eq!(news.parameters["properties"]["limit"]["minimum"], json!(1));
    assert_eq!(news.parameters["additionalProperties"], json!(false));
    assert_eq!(news.parameters["required"], json!(["company"]));
    assert_eq!(t.messages.len(), 4);
    assert_eq!(
        calls(&t.messages[1]),
        vec![
            ("get_stock_price".to_string(), json!({"company": "Apple"})),
            ("get_news".to_string(), json!({"company": "Apple", "limit": 2, "include_opinion": false})),
        ]
    );
    let Message::Tool { results } = &t.messages[2] else { panic!("{:?}", t.messages[2]) };
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].name, "get_stock_price");
    assert_eq!(results[0].results, json!({"company": "Apple", "stock_price": 150.75}));
    assert_eq!(results[1].arguments, json!({"company": "Apple", "limit": 2, "include_opinion": false}));
    let Message::Assistant { final_answer: Some(answer), .. } = &t.messages[3] else { panic!() };
    assert!(answer.starts_with("Apple trades at $150.75"));
    assert!(lint(&t, &[], &Layout::default()).iter().all(|f| f.code.severity() != button::lint::Severity::Error));

    let single = read(&rows[1]);
    assert_eq!(single.tools[0].parameters["properties"]["stream_quality"]["enum"], json!(["720p", "1080p", "4k"]));
    assert_eq!(
        calls(&single.messages[1]),
        vec![("get_camera_live_feed".to_string(), json!({"camera_id": "front_door", "stream_quality": "1080p"}))]
    );

    // Hermes 2 Pro's template: JSON tools one after another, a thought before the call.
    let pro = read(&rows[2]);
    assert_eq!(pro.tools.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["get_stock_price", "get_news"]);
    let Message::Assistant { thought, .. } = &pro.messages[1] else { panic!() };
    assert_eq!(thought, "Let me look that up.");

    let err = Format::Hermes.parse_line(&rows[3]).unwrap_err();
    assert_eq!(err.code, Code::Malformed);
    assert!(err.message.contains("<tool_call> 1 can't be read"), "{}", err.message);
    assert_eq!(err.message_index, Some(2));
}

#[test]
fn xlam_reads_one_turn_of_parallel_answers_with_python_types_and_optional_marks() {
    let rows = lines("xlam.jsonl");
    for r in &rows {
        assert_eq!(detect_line(r), Some(Format::Xlam));
    }
    let t = read(&rows[0]);
    assert_eq!(t.parallel, Some(true), "two answers are parallel calls");
    assert_eq!(t.messages.len(), 2);
    let p = &t.tools[0].parameters;
    assert_eq!(p["properties"]["type"]["type"], "string");
    assert_eq!(p["properties"]["type"]["default"], "game");
    assert_eq!(calls(&t.messages[1]).len(), 2);

    let t = read(&rows[1]);
    let by_name = |n: &str| t.tools.iter().find(|f| f.name == n).unwrap().parameters.clone();
    assert_eq!(
        by_name("binary_search")["properties"]["arr"],
        json!({"description": "The sorted list of integers.", "type": "array", "items": {"type": "integer"}})
    );
    assert_eq!(by_name("split_list")["properties"]["lst"]["type"], "array");
    let date = by_name("format_date");
    assert_eq!(date["required"], json!(["date", "input_format"]), "`, optional` marks the optional ones");
    assert_eq!(date["properties"]["output_format"]["type"], "string");
    assert_eq!(date["properties"]["output_format"]["default"], "%Y-%m-%d");
    assert_eq!(calls(&t.messages[1])[0].1, json!({"lst": [10, 20, 30, 40, 50, 60], "chunk_size": 4}));
    // Single-turn data: no results, no final answer, and lint says so.
    let codes: Vec<Code> = lint(&t, &[], &Layout::default()).iter().map(|f| f.code).collect();
    assert!(codes.contains(&Code::from_id("E08").unwrap()), "{codes:?}");

    let err = Format::Xlam.parse_line(&rows[2]).unwrap_err();
    assert!(err.message.contains("\"answers\" is not a JSON string of a list"), "{}", err.message);
}

#[test]
fn glaive_reads_the_chat_text_with_its_quoted_arguments() {
    let rows = lines("glaive.jsonl");
    for r in &rows {
        assert_eq!(detect_line(r), Some(Format::Glaive));
    }
    let t = read(&rows[0]);
    assert_eq!(t.system, None, "the sentence that introduces the functions is not kept");
    assert_eq!(t.tools.len(), 1);
    assert_eq!(t.tools[0].parameters["required"], json!(["country"]));
    let roles: Vec<&str> = t.messages.iter().map(Message::role).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant", "user", "assistant", "tool", "assistant"]);
    assert_eq!(calls(&t.messages[1]), vec![("get_news_headlines".to_string(), json!({"country": "United States"}))]);
    let Message::Tool { results } = &t.messages[2] else { panic!() };
    assert_eq!(results[0].name, "get_news_headlines");
    assert_eq!(results[0].results["headlines"][3], "NASA's Perseverance rover collects first Mars rock sample");
    let Message::User { content } = &t.messages[0] else { panic!() };
    assert_eq!(content, "Can you tell me the latest news headlines for the United States?");
    let Message::Assistant { final_answer: Some(last), .. } = &t.messages[7] else { panic!() };
    assert!(last.starts_with("Here are the latest news headlines for France:") && !last.contains("<|endoftext|>"));

    // Two functions one after another; an apostrophe inside the quoted arguments.
    let t = read(&rows[1]);
    assert_eq!(t.tools.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["create_note", "create_todo"]);
    assert_eq!(t.tools[1].parameters["properties"]["due_date"]["format"], "date");
    assert_eq!(calls(&t.messages[1])[0].1, json!({"title": "Shopping", "content": "I'm out of milk"}));

    let t = read(&rows[2]);
    assert_eq!(t.system.as_deref(), Some("You are a helpful assistant, with no access to external functions."));
    assert!(t.tools.is_empty());
    assert_eq!(t.messages.len(), 2);

    // A row's own intro is kept whole, even when it introduces the functions as glaive's does.
    let own = "You are Ada, a travel agent with access to the following functions. Use them if required -";
    let line = json!({"system": json_field(&rows[0], "system").replacen(
        "You are a helpful assistant with access to the following functions. Use them if required -", own, 1),
        "chat": json_field(&rows[0], "chat")})
    .to_string();
    let t = read(&line);
    assert_eq!(t.system.as_deref(), Some(own));
    assert_eq!(t.tools.len(), 1);
}

fn json_field(line: &str, key: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line).unwrap()[key].as_str().unwrap().to_string()
}

#[test]
fn sharegpt_takes_function_call_objects_and_lists_and_tool_as_observation() {
    let line = json!({"conversations": [
        {"from": "human", "value": "Weather in Oslo and Bergen?"},
        {"from": "function_call", "value": [{"name": "weather", "arguments": {"city": "Oslo"}}, {"name": "weather", "arguments": "{\"city\": \"Bergen\"}"}]},
        {"from": "tool", "value": "[{\"temp\": 3}, {\"temp\": 6}]"},
        {"from": "function_call", "value": {"name": "weather", "arguments": {"city": "Tromsø"}}},
        {"from": "observation", "value": {"temp": -4}},
        {"from": "gpt", "value": "Oslo 3 °C, Bergen 6 °C, Tromsø -4 °C."}
    ], "tools": "[{\"name\": \"weather\", \"description\": \"Weather.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}]"})
    .to_string();
    let t = Format::ShareGpt.parse_line(&line).unwrap().trajectory;
    assert_eq!(calls(&t.messages[1]).len(), 2);
    assert_eq!(calls(&t.messages[1])[1].1, json!({"city": "Bergen"}));
    let Message::Tool { results } = &t.messages[2] else { panic!() };
    assert_eq!(results[1].results, json!({"temp": 6}));
    assert_eq!(calls(&t.messages[3]), vec![("weather".to_string(), json!({"city": "Tromsø"}))]);
    let Message::Tool { results } = &t.messages[4] else { panic!() };
    assert_eq!(results[0].results, json!({"temp": -4}));
}

#[test]
fn hermes_keeps_a_records_own_system_prompt_and_drops_each_protocol_sentence() {
    let rows = lines("hermes.jsonl");
    let mut t = read(&rows[0]);
    t.system = Some("You are the booking desk of Tromsø Travel.".into());
    let line = Format::Hermes.write_line(&t);
    let back = read(&line);
    assert_eq!(back.system, t.system, "{line}");
    assert_eq!(back.tools, t.tools);
    // The protocol's opening sentence given twice (as a hand-joined prompt may): both go, and
    // the prompt's own words stay.
    let mut v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let system = v["conversations"][0]["value"].as_str().unwrap().to_string();
    let (own, protocol) = system.split_once("\n\n").unwrap();
    let opening = &protocol[..protocol.find("\n<tools>").unwrap()];
    v["conversations"][0]["value"] = json!(format!("{opening}\n{own}\n\n{protocol}"));
    assert_eq!(read(&v.to_string()).system, t.system);
    // Another wording of the protocol (Hermes 2 Pro's, the fixture's third row) after a
    // paragraph of the record's own: the protocol goes, the paragraph stays.
    let mut v: serde_json::Value = serde_json::from_str(&rows[2]).unwrap();
    let protocol = v["conversations"][0]["value"].as_str().unwrap().to_string();
    assert!(protocol.contains("pydantic") || protocol.contains("Here are the available tools"), "{protocol}");
    assert_eq!(read(&v.to_string()).system, None);
    v["conversations"][0]["value"] = json!(format!("You are the booking desk of Tromsø Travel.\n\n{protocol}"));
    let own = read(&v.to_string());
    assert_eq!(own.system, t.system);
    assert_eq!(own.tools, read(&rows[2]).tools);
    // Without its tools the protocol is still the protocol, not a prompt of the record's own.
    t.system = None;
    t.tools.clear();
    assert_eq!(read(&Format::Hermes.write_line(&t)).system, None);
}

#[test]
fn hermes_adds_a_tools_field_to_its_system_prompts_tools_once_each() {
    let rows = lines("hermes.jsonl");
    let mut v: serde_json::Value = serde_json::from_str(&rows[1]).unwrap();
    v["tools"] = json!([
        {"type": "function", "function": {"name": "get_camera_live_feed", "description": "Again.", "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "pan_camera", "description": "Pans.", "parameters": {"type": "object", "properties": {"degrees": {"type": "integer"}}}}}
    ]);
    let t = Format::Hermes.parse_line(&v.to_string()).unwrap().trajectory;
    let names: Vec<&str> = t.tools.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["get_camera_live_feed", "pan_camera"]);
    assert_eq!(
        t.tools[0].description, "Retrieves the live feed from a specified security camera.",
        "the system prompt's own"
    );
}

#[test]
fn every_reader_answers_a_cut_or_garbled_record_with_a_finding_never_a_panic() {
    let mut records: Vec<String> = Vec::new();
    for f in ["hermes.jsonl", "xlam.jsonl", "glaive.jsonl"] {
        records.extend(lines(f));
    }
    let mut findings = 0;
    for r in &records {
        let cuts: Vec<usize> = (0..r.len()).step_by(5).filter(|&i| r.is_char_boundary(i)).collect();
        for cut in cuts {
            for text in [r[..cut].to_string(), r.replacen('"', "'", cut % 7 + 1)] {
                for f in Format::ALL {
                    if f.parse_line(&text).is_err() {
                        findings += 1;
                    }
                }
                let _ = detect_line(&text);
            }
        }
    }
    assert!(findings > 1000, "cut records are refused with a finding: {findings}");
}
