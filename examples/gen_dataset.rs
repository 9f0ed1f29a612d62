//! Writes a `BUTTONInstruct` file of N lint-clean trajectories for the benchmarks:
//! each with a system prompt listing 2-3 functions, 2-4 calls and their results.
//!
//!     cargo run --release --example gen_dataset -- 100000 bench-data/button-100k.jsonl
//!
//! Deterministic: the same N gives the same file.

use std::io::{BufWriter, Write};

use button::formats::Format;
use button::json;
use button::json::Value;
use button::model::{Call, FunctionDef, Message, ToolResult, Trajectory};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const CITIES: &[&str] =
    &["Lisbon", "Osaka", "Toronto", "Nairobi", "Lyon", "Austin", "Hanoi", "Bergen", "Cusco", "Perth"];
const ITEMS: &[&str] = &["running shoes", "a desk lamp", "green tea", "a road bike", "wool socks", "a phone case"];
const NAMES: &[&str] = &["Ana", "Kenji", "Priya", "Tomas", "Lea", "Omar", "Sofia", "Yusuf"];

fn function(name: &str, desc: &str, params: Value, required: &[&str], responses: Value) -> FunctionDef {
    FunctionDef::from_value(&json!({
        "name": name, "description": desc, "parameters": params, "required": required, "responses": responses
    }))
    .expect("generator functions are valid")
}

fn trajectory(rng: &mut Rng, i: usize) -> Trajectory {
    let city = rng.pick(CITIES);
    let item = rng.pick(ITEMS);
    let who = rng.pick(NAMES);
    let budget = 20 + rng.below(400);
    let parallel = rng.below(3) > 0;
    let search = function(
        "search_products",
        "Searches the stores of a city for products matching a query; returns matches with prices.",
        json!({"query": {"type": "string", "description": "What to look for"},
               "city": {"type": "string", "description": "City"},
               "max_price": {"type": "number", "description": "Price cap"}}),
        &["query", "city"],
        json!({"products": {"type": "array", "description": "Matches"}}),
    );
    let weather = function(
        "get_weather_forecast",
        "Returns the weather forecast for a city for the coming days.",
        json!({"city": {"type": "string", "description": "City"},
               "days": {"type": "integer", "description": "Days ahead"}}),
        &["city"],
        json!({"forecast": {"type": "array", "description": "Per day"}}),
    );
    let delivery = function(
        "estimate_delivery",
        "Estimates when an order from a store would arrive, and the fee.",
        json!({"store": {"type": "string", "description": "Store name as returned by a search"},
               "city": {"type": "string", "description": "Delivery city"}}),
        &["store", "city"],
        json!({"eta_days": {"type": "integer"}, "fee": {"type": "number"}}),
    );
    let three = rng.below(2) == 0;
    let mut tools = vec![search.clone(), weather.clone()];
    if three {
        tools.push(delivery.clone());
    }
    let store = format!("{} Outfitters {}", city, i % 97);
    let price = (budget as f64 * 0.8).round();
    let days = 1 + rng.below(3);
    let search_call = Call {
        name: search.name.clone(),
        arguments: json!({"query": item, "city": city, "max_price": budget}),
        id: None,
    };
    let weather_call = Call { name: weather.name.clone(), arguments: json!({"city": city, "days": days}), id: None };
    let search_result = json!({"products": [{"name": format!("{item} (model {})", i % 13), "price": price, "store": store},
        {"name": format!("{item} basic"), "price": price - 5.0, "store": format!("{city} Market")}]});
    let weather_result = json!({"forecast": (0..days).map(|d| json!({"day": d + 1, "high": 14 + (i + d) % 15, "low": 5 + d})).collect::<Vec<_>>()});
    let mut messages = vec![Message::User {
        content: format!(
            "Hi, I'm {who}, in {city} for {days} days. I want {item} for at most {budget} dollars, and the weather, to plan when to shop."
        ),
    }];
    let plan = "Plan: 1. search the stores for the item within budget; 2. get the forecast; 3. combine both.";
    if parallel {
        messages.push(Message::Assistant {
            thought: format!("{who} wants {item} in {city} under {budget} and the forecast for {days} days. {plan} The search and the forecast do not depend on each other, so I call both at once."),
            calls: vec![search_call.clone(), weather_call.clone()],
            final_answer: None,
        });
        messages.push(Message::Tool {
            results: vec![
                ToolResult {
                    name: search_call.name.clone(),
                    arguments: search_call.arguments.clone(),
                    results: search_result,
                    id: None,
                },
                ToolResult {
                    name: weather_call.name.clone(),
                    arguments: weather_call.arguments.clone(),
                    results: weather_result,
                    id: None,
                },
            ],
        });
    } else {
        messages.push(Message::Assistant {
            thought: format!(
                "{who} wants {item} in {city} under {budget} and the forecast for {days} days. {plan} First the search."
            ),
            calls: vec![search_call.clone()],
            final_answer: None,
        });
        messages.push(Message::Tool {
            results: vec![ToolResult {
                name: search_call.name.clone(),
                arguments: search_call.arguments.clone(),
                results: search_result,
                id: None,
            }],
        });
        messages.push(Message::Assistant {
            thought: format!("The search found {item} at {store} for {price}. Next, the forecast for {city}."),
            calls: vec![weather_call.clone()],
            final_answer: None,
        });
        messages.push(Message::Tool {
            results: vec![ToolResult {
                name: weather_call.name.clone(),
                arguments: weather_call.arguments.clone(),
                results: weather_result,
                id: None,
            }],
        });
    }
    if three {
        let call = Call { name: delivery.name.clone(), arguments: json!({"store": store, "city": city}), id: None };
        messages.push(Message::Assistant {
            thought: format!("Now I check how quickly {store} can deliver in {city}, in case of rain."),
            calls: vec![call.clone()],
            final_answer: None,
        });
        messages.push(Message::Tool {
            results: vec![ToolResult {
                name: call.name,
                arguments: call.arguments,
                results: json!({"eta_days": 2, "fee": 4.5}),
                id: None,
            }],
        });
    }
    messages.push(Message::Assistant {
        thought: "I have everything I need to answer.".into(),
        calls: vec![],
        final_answer: Some(format!(
            "{store} has {item} for {price} dollars, within your budget of {budget}. The forecast for {city} shows light rain then clearing, so the first dry afternoon is the best time to go{}.",
            if three { "; delivery would take 2 days for a 4.5 fee" } else { "" }
        )),
    });
    Trajectory { tools, parallel: Some(parallel), system: None, messages }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let out = args.next().unwrap_or_else(|| "bench-data/button-100k.jsonl".into());
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir).expect("create the output folder");
    }
    let mut w = BufWriter::new(std::fs::File::create(&out).expect("create the output file"));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..n {
        let t = trajectory(&mut rng, i);
        w.write_all(Format::Button.write_line(&t).as_bytes()).unwrap();
        w.write_all(b"\n").unwrap();
    }
    w.flush().unwrap();
    eprintln!("wrote {n} trajectories to {out}");
}
