//! The offline simulator: a Backend that answers every step in the shapes of SPEC §2 with
//! plausible, varied content, deterministic from a seed and the request. It reads only what
//! a real model would read (the prompt), so it works the same in-process and behind
//! `button sim-serve`. A configurable share of replies is malformed, to exercise failures.

use serde_json::{Map, Value, json};

use crate::llm::{ChatMessage, ChatReply, ChatRequest, Step, Usage};
use crate::parse;

#[derive(Clone, Debug)]
pub struct Simulator {
    pub seed: u64,
    /// Share of replies (0..1) that are deliberately malformed.
    pub malformed_rate: f64,
}

impl Default for Simulator {
    fn default() -> Self {
        Simulator { seed: 0, malformed_rate: 0.02 }
    }
}

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() % 1_000_000) as f64 / 1_000_000.0 < p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn hash64(parts: &[&str]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(b"\0");
    }
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

const CITIES: &[&str] = &[
    "Lisbon", "Osaka", "Toronto", "Nairobi", "Lyon", "Austin", "Hanoi", "Bergen", "Cusco", "Perth", "Krakow", "Seville",
];
const DATES: &[&str] =
    &["3 May", "12 June", "21 July", "8 August", "15 September", "2 October", "19 November", "6 December"];
const NAMES: &[&str] = &[
    "Ana Souza",
    "Kenji Mori",
    "Priya Nair",
    "Tomas Novak",
    "Lea Martin",
    "Omar Haddad",
    "Sofia Rossi",
    "Yusuf Demir",
];
const ITEMS: &[&str] = &[
    "running shoes",
    "a desk lamp",
    "a rain jacket",
    "a road bike helmet",
    "noise-cancelling headphones",
    "a cast-iron pan",
];
const CUISINES: &[&str] = &["Thai", "Lebanese", "Mexican", "Japanese", "Ethiopian", "Italian"];
const CURRENCIES: &[&str] = &["EUR", "JPY", "CAD", "GBP", "AUD", "CHF"];
const BOOKS: &[&str] =
    &["The Left Hand of Darkness", "Pachinko", "The Overstory", "Middlemarch", "Kindred", "The Remains of the Day"];

const EXPAND_VERBS: &[&str] = &[
    "planning",
    "booking",
    "comparing",
    "cancelling",
    "rescheduling",
    "reviewing",
    "organising",
    "budgeting for",
    "finding",
    "sharing",
    "paying for",
    "tracking",
    "choosing",
    "renewing",
    "returning",
    "upgrading",
    "splitting the cost of",
    "recommending",
    "preparing for",
    "checking the status of",
    "looking up reviews of",
    "getting a refund for",
    "arranging transport to",
    "inviting friends to",
    "asking for advice on",
];
const EXPAND_SUBJECTS: &[&str] = &[
    "a cooking class",
    "a city bike tour",
    "a dentist visit",
    "a train journey",
    "a hotel stay",
    "a concert",
    "a museum pass",
    "a car rental",
    "a gym membership",
    "a language course",
    "a phone plan",
    "an electricity contract",
    "a flat viewing",
    "a moving van",
    "a wedding venue",
    "a birthday cake",
    "a camping trip",
    "a ski pass",
    "a ferry crossing",
    "a parcel delivery",
    "a pet sitter",
    "a yoga retreat",
    "a coworking desk",
    "a football match",
    "a theatre show",
    "a guided hike",
    "a wine tasting",
    "a photography workshop",
    "a laptop repair",
    "a haircut",
    "a tax return",
    "a savings account",
    "a travel insurance policy",
    "a visa appointment",
    "a vaccination",
    "a school trip",
    "a charity run",
    "a boat rental",
    "a spa day",
    "a flight upgrade",
    "a restaurant booking",
    "a grocery order",
    "a furniture delivery",
    "a plumber visit",
    "a bike service",
    "a dog grooming",
    "a piano lesson",
    "a film night",
    "a book club meeting",
    "a garden makeover",
    "a kayak rental",
    "a tennis court",
    "a driving lesson",
    "an airport transfer",
    "a museum tour",
    "a cinema ticket",
    "a concert livestream",
    "a picnic in the park",
    "a family reunion",
    "a team offsite",
];

struct Func {
    name: &'static str,
    description: &'static str,
    /// (name, type, description, required)
    params: &'static [(&'static str, &'static str, &'static str, bool)],
    /// (name, type, description)
    responses: &'static [(&'static str, &'static str, &'static str)],
}

impl Func {
    fn to_value(&self) -> Value {
        let mut props = Map::new();
        let mut required = Vec::new();
        for (name, ty, desc, req) in self.params {
            props.insert((*name).into(), json!({"type": ty, "description": desc}));
            if *req {
                required.push(json!(name));
            }
        }
        let mut responses = Map::new();
        for (name, ty, desc) in self.responses {
            responses.insert((*name).into(), json!({"type": ty, "description": desc}));
        }
        json!({"name": self.name, "description": self.description, "parameters": props, "required": required, "responses": responses})
    }
}

struct Domain {
    keywords: &'static [&'static str],
    scenarios: &'static [&'static str],
    atomic: &'static str,
    atomic_fn: Func,
    parallel: &'static str,
    parallel_fn: Func,
    subsequent: &'static str,
    /// None: the subsequent sub-task is reasoning the assistant does itself.
    subsequent_fn: Option<Func>,
    sequential: &'static str,
    parallel_sequential: &'static str,
}

const DOMAINS: &[Domain] = &[
    Domain {
        keywords: &["flight", "trip", "travel", "airport"],
        scenarios: &[
            "planning a weekend trip abroad",
            "booking a flight for a conference",
            "comparing airfares for a family visit",
        ],
        atomic: "Find the cheapest flight from {city} to {city2} on {date}.",
        atomic_fn: Func {
            name: "search_flights",
            description: "Searches flights between two cities on a date and returns them with prices.",
            params: &[
                ("origin", "string", "Departure city", true),
                ("destination", "string", "Arrival city", true),
                ("date", "string", "Travel date", true),
            ],
            responses: &[("flights", "array", "Flights with flight_id, airline, price and departure time")],
        },
        parallel: "Check the weather forecast in {city2} on {date}.",
        parallel_fn: Func {
            name: "get_weather_forecast",
            description: "Returns the forecast for a city on a date.",
            params: &[("city", "string", "City name", true), ("date", "string", "Day of the forecast", true)],
            responses: &[
                ("summary", "string", "Short description"),
                ("high_c", "number", "Highest temperature in Celsius"),
            ],
        },
        subsequent: "Book the cheapest of those flights for {name}.",
        subsequent_fn: Some(Func {
            name: "book_flight",
            description: "Books a seat on a flight for a passenger.",
            params: &[
                ("flight_id", "string", "The flight to book", true),
                ("passenger_name", "string", "Full name of the passenger", true),
            ],
            responses: &[
                ("confirmation_code", "string", "Booking reference"),
                ("total_price", "number", "Charged amount"),
            ],
        }),
        sequential: "Find the cheapest flight from {city} to {city2} on {date} and book it for {name}.",
        parallel_sequential: "Book {name} on the cheapest flight from {city} to {city2} on {date}, and tell me the weather there that day.",
    },
    Domain {
        keywords: &["restaurant", "food", "dinner", "delivery", "cuisine"],
        scenarios: &[
            "ordering food delivery for a group",
            "finding a restaurant for a birthday dinner",
            "trying a new cuisine nearby",
        ],
        atomic: "Find a well-rated {cuisine} restaurant in {city} that is open on {date}.",
        atomic_fn: Func {
            name: "find_restaurants",
            description: "Finds restaurants by cuisine in a city, with ratings and opening days.",
            params: &[
                ("cuisine", "string", "Kind of food", true),
                ("city", "string", "City", true),
                ("date", "string", "Day to dine", false),
            ],
            responses: &[("restaurants", "array", "Restaurants with restaurant_id, name and rating")],
        },
        parallel: "Look up the public transport options to the city centre of {city}.",
        parallel_fn: Func {
            name: "get_transit_routes",
            description: "Lists public transport routes to a destination.",
            params: &[("city", "string", "City", true), ("destination", "string", "Where to go", true)],
            responses: &[("routes", "array", "Routes with line and minutes")],
        },
        subsequent: "Reserve a table for 4 at the best-rated one under the name {name}.",
        subsequent_fn: Some(Func {
            name: "reserve_table",
            description: "Reserves a table at a restaurant.",
            params: &[
                ("restaurant_id", "string", "Restaurant", true),
                ("party_size", "integer", "Number of guests", true),
                ("name", "string", "Name for the booking", true),
            ],
            responses: &[("reservation_id", "string", "Reservation reference"), ("time", "string", "Reserved time")],
        }),
        sequential: "Find a well-rated {cuisine} restaurant in {city} open on {date} and reserve a table for 4 there under the name {name}.",
        parallel_sequential: "Reserve a table for 4 under {name} at the best {cuisine} restaurant in {city} open on {date}, and tell me how to get to the centre by public transport.",
    },
    Domain {
        keywords: &["currency", "exchange", "budget", "money", "convert"],
        scenarios: &[
            "budgeting for a holiday abroad",
            "sending money to family overseas",
            "comparing prices across currencies",
        ],
        atomic: "Get the current exchange rate from USD to {currency}.",
        atomic_fn: Func {
            name: "get_exchange_rate",
            description: "Returns the current exchange rate between two currencies.",
            params: &[
                ("base", "string", "Currency to convert from, ISO code", true),
                ("target", "string", "Currency to convert to, ISO code", true),
            ],
            responses: &[
                ("rate", "number", "Units of target per unit of base"),
                ("as_of", "string", "Time of the quote"),
            ],
        },
        parallel: "Find the average price of a hotel night in {city}.",
        parallel_fn: Func {
            name: "get_hotel_prices",
            description: "Returns typical hotel prices in a city, in USD.",
            params: &[("city", "string", "City", true)],
            responses: &[("average_night_usd", "number", "Average price per night")],
        },
        subsequent: "Work out how much {amount} USD is in that currency.",
        subsequent_fn: None,
        sequential: "How much is {amount} USD in {currency} at today's exchange rate?",
        parallel_sequential: "At today's rate, how many {currency} is {amount} USD, and how many hotel nights in {city} would that pay for?",
    },
    Domain {
        keywords: &["product", "shopping", "buy", "store", "order"],
        scenarios: &["buying a gift online", "replacing broken kitchen equipment", "shopping for sports gear"],
        atomic: "Search the online store for {item} under {amount} dollars.",
        atomic_fn: Func {
            name: "search_products",
            description: "Searches the store catalogue and returns matching products with prices.",
            params: &[("query", "string", "What to look for", true), ("max_price", "number", "Highest price", false)],
            responses: &[("products", "array", "Products with product_id, title and price")],
        },
        parallel: "Check which discount codes are valid this week.",
        parallel_fn: Func {
            name: "list_discount_codes",
            description: "Lists the store's currently valid discount codes.",
            params: &[("category", "string", "Product category", false)],
            responses: &[("codes", "array", "Codes with code and percent_off")],
        },
        subsequent: "Order the best match for delivery to {city} for {name}.",
        subsequent_fn: Some(Func {
            name: "place_order",
            description: "Orders a product for delivery.",
            params: &[
                ("product_id", "string", "Product to order", true),
                ("city", "string", "Delivery city", true),
                ("recipient", "string", "Who receives it", true),
            ],
            responses: &[("order_id", "string", "Order reference"), ("eta_days", "integer", "Days until delivery")],
        }),
        sequential: "Find {item} under {amount} dollars in the online store and order the best match to {city} for {name}.",
        parallel_sequential: "Order the best {item} under {amount} dollars to {city} for {name}, and tell me which discount codes are valid this week.",
    },
    Domain {
        keywords: &["book", "library", "reading", "novel"],
        scenarios: &[
            "finding a book for a reading club",
            "borrowing a novel from the library",
            "planning summer reading",
        ],
        atomic: "Check whether the library in {city} has \"{book}\" available.",
        atomic_fn: Func {
            name: "check_library_availability",
            description: "Checks whether a library branch has copies of a book available.",
            params: &[("title", "string", "Book title", true), ("city", "string", "Library city", true)],
            responses: &[("available_copies", "integer", "Copies on the shelf"), ("branch", "string", "Branch name")],
        },
        parallel: "Find the average reader rating of \"{book}\".",
        parallel_fn: Func {
            name: "get_book_rating",
            description: "Returns the average reader rating of a book.",
            params: &[("title", "string", "Book title", true)],
            responses: &[("rating", "number", "Average rating out of 5"), ("reviews", "integer", "Number of reviews")],
        },
        subsequent: "Put a hold on it for {name} at that branch.",
        subsequent_fn: Some(Func {
            name: "place_hold",
            description: "Places a hold on a book at a library branch.",
            params: &[
                ("title", "string", "Book title", true),
                ("branch", "string", "Branch to pick it up", true),
                ("patron_name", "string", "Who picks it up", true),
            ],
            responses: &[("hold_id", "string", "Hold reference"), ("pickup_by", "string", "Last day to pick it up")],
        }),
        sequential: "See if the {city} library has \"{book}\" and put a hold on it for {name} at that branch.",
        parallel_sequential: "Put a hold on \"{book}\" for {name} at the {city} library if it is there, and tell me how well readers rate it.",
    },
    Domain {
        keywords: &["gym", "fitness", "yoga", "class", "workout"],
        scenarios: &["joining a yoga class", "finding a gym while travelling", "planning a weekly workout routine"],
        atomic: "List the yoga classes in {city} on {date}.",
        atomic_fn: Func {
            name: "list_fitness_classes",
            description: "Lists fitness classes of a kind in a city on a day.",
            params: &[
                ("kind", "string", "Kind of class", true),
                ("city", "string", "City", true),
                ("date", "string", "Day", true),
            ],
            responses: &[("classes", "array", "Classes with class_id, studio, start time and price")],
        },
        parallel: "Get the air quality index in {city} on {date}.",
        parallel_fn: Func {
            name: "get_air_quality",
            description: "Returns the air quality index for a city on a day.",
            params: &[("city", "string", "City", true), ("date", "string", "Day", true)],
            responses: &[("aqi", "integer", "Air quality index"), ("category", "string", "Good, moderate or poor")],
        },
        subsequent: "Sign {name} up for the earliest of those classes.",
        subsequent_fn: Some(Func {
            name: "book_class",
            description: "Signs a person up for a fitness class.",
            params: &[("class_id", "string", "Class to join", true), ("attendee", "string", "Who attends", true)],
            responses: &[("booking_id", "string", "Booking reference"), ("start_time", "string", "When it starts")],
        }),
        sequential: "Sign {name} up for the earliest yoga class in {city} on {date}.",
        parallel_sequential: "Sign {name} up for the earliest yoga class in {city} on {date}, and tell me the air quality there that day.",
    },
];

/// The seed scenarios shipped with the project (one a line).
pub const SEED_SCENARIOS: &str = include_str!("../prompts/seed_scenarios.txt");

pub fn seed_scenarios() -> Vec<String> {
    SEED_SCENARIOS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

fn domain_of(text: &str, rng: &mut Rng) -> &'static Domain {
    let lower = text.to_lowercase();
    for d in DOMAINS {
        if d.keywords.iter().any(|k| lower.contains(k)) || d.scenarios.iter().any(|s| lower.contains(&s.to_lowercase()))
        {
            return d;
        }
    }
    let _ = rng.next_u64();
    &DOMAINS[(hash64(&[&lower]) % DOMAINS.len() as u64) as usize]
}

/// Values a template needs, taken from text seen before where possible, so a composition
/// speaks of the same city and date as its atomic task.
struct Facts<'a> {
    text: &'a str,
    rng: Rng,
    /// What each placeholder became, so one task says the same city throughout.
    chosen: std::collections::HashMap<&'static str, String>,
}

impl Facts<'_> {
    fn found(&self, list: &[&'static str]) -> Vec<&'static str> {
        let mut v: Vec<(usize, &'static str)> =
            list.iter().filter_map(|x| self.text.find(x).map(|i| (i, *x))).collect();
        v.sort();
        v.into_iter().map(|(_, x)| x).collect()
    }

    fn nth(&mut self, list: &[&'static str], n: usize) -> String {
        let found = self.found(list);
        if let Some(x) = found.get(n) {
            return x.to_string();
        }
        loop {
            let x = *self.rng.pick(list);
            if !found.contains(&x) || list.len() <= n {
                return x.to_string();
            }
        }
    }

    fn amount(&mut self) -> String {
        let nums: Vec<&str> = self.text.split(|c: char| !c.is_ascii_digit()).filter(|s| s.len() >= 2).collect();
        nums.first().map(|s| s.to_string()).unwrap_or_else(|| (50 + 10 * self.rng.below(40)).to_string())
    }

    fn fill(&mut self, template: &str) -> String {
        let mut out = template.to_string();
        type Filler = fn(&mut Facts<'_>) -> String;
        let pairs: [(&str, Filler); 9] = [
            ("{city2}", |f| f.nth(CITIES, 1)),
            ("{city}", |f| f.nth(CITIES, 0)),
            ("{date}", |f| f.nth(DATES, 0)),
            ("{name}", |f| f.nth(NAMES, 0)),
            ("{item}", |f| f.nth(ITEMS, 0)),
            ("{cuisine}", |f| f.nth(CUISINES, 0)),
            ("{currency}", |f| f.nth(CURRENCIES, 0)),
            ("{book}", |f| f.nth(BOOKS, 0)),
            ("{amount}", |f| f.amount()),
        ];
        for (key, value) in pairs {
            if out.contains(key) {
                let v = match self.chosen.get(key) {
                    Some(v) => v.clone(),
                    None => {
                        let v = value(self);
                        self.chosen.insert(key, v.clone());
                        v
                    }
                };
                out = out.replace(key, &v);
            }
        }
        out
    }
}

/// The line after `label` in the prompt (up to the end of the line).
fn after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let i = text.rfind(label)? + label.len();
    Some(text[i..].lines().next().unwrap_or("").trim())
}

impl Simulator {
    pub fn complete(&self, req: &ChatRequest) -> ChatReply {
        let content = self.reply(req.step, &req.sample_id, req.seed, &req.messages);
        let prompt_chars: usize = req.messages.iter().map(|m| m.content.len()).sum();
        ChatReply {
            usage: Usage { prompt_tokens: (prompt_chars / 4) as u64, completion_tokens: (content.len() / 4) as u64 },
            content,
            finish_reason: "stop".into(),
            attempts: 1,
            endpoint: "simulator".into(),
        }
    }

    /// The reply to one request; a request `seed` varies it as a sampling seed would.
    pub fn reply(&self, step: Step, sample: &str, seed: Option<u64>, messages: &[ChatMessage]) -> String {
        let prompt: String = messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n");
        let mut rng = match seed {
            None => Rng::new(hash64(&[&self.seed.to_string(), step.id(), sample, &prompt])),
            Some(s) => Rng::new(hash64(&[&self.seed.to_string(), step.id(), sample, &prompt, &s.to_string()])),
        };
        if rng.chance(self.malformed_rate) {
            return malformed(step, &mut rng);
        }
        let first = messages.first().map(|m| m.content.as_str()).unwrap_or("");
        match step {
            Step::ScenarioExtract => {
                let d = domain_of(&prompt, &mut rng);
                format!("Concise Overview of the Scenario: {}", rng.pick(d.scenarios))
            }
            Step::ScenarioExpand => {
                let seed = after(first, "Scenario:").unwrap_or(first);
                let lower = seed.to_lowercase();
                let verb = *rng.pick(EXPAND_VERBS);
                let subject = loop {
                    let s = *rng.pick(EXPAND_SUBJECTS);
                    if !lower.contains(s) {
                        break s;
                    }
                };
                format!("Modified Scenario: {verb} {subject}")
            }
            Step::AtomicTask => {
                let scenario = after(first, "Scenario:").unwrap_or(first);
                let d = domain_of(scenario, &mut rng);
                let mut facts = Facts { text: "", rng, chosen: Default::default() };
                facts.fill(d.atomic)
            }
            Step::ComposeSequential | Step::ComposeParallelSequential => {
                let atomic = after(first, "Atomic Task:").unwrap_or(first).to_string();
                let d = domain_of(&atomic, &mut rng);
                let mut facts = Facts { text: &atomic, rng, chosen: Default::default() };
                let subsequent = facts.fill(d.subsequent);
                if step == Step::ComposeSequential {
                    let composition = facts.fill(d.sequential);
                    format!("### Subsequent Task: {subsequent}\n### Composition Task: {composition}")
                } else {
                    let parallel = facts.fill(d.parallel);
                    let composition = facts.fill(d.parallel_sequential);
                    format!(
                        "### Parallel Task: {parallel}\n### Subsequent Task: {subsequent}\n### Composition Task: {composition}"
                    )
                }
            }
            Step::CompositionFilter => {
                if rng.chance(0.08) {
                    "The sub-tasks can be done separately, but the composition adds a requirement none of them covers, so they do not complete it.\n<ans>no</ans>".into()
                } else {
                    "Each sub-task answers one part of the composition task, and the later one uses what the earlier ones return; together they complete it.\n<ans>yes</ans>".into()
                }
            }
            Step::FunctionGenerate => function_generate(&prompt, &mut rng),
            Step::UserAgent => user_agent(messages, &mut rng),
            Step::AssistantAgent => assistant_agent(messages, &mut rng),
            Step::ToolAgent => tool_agent(&prompt, &mut rng),
        }
    }
}

fn malformed(step: Step, rng: &mut Rng) -> String {
    let options: &[&str] = match step {
        Step::ComposeSequential | Step::ComposeParallelSequential => {
            &["### Subsequent Task: do the next thing", "I am not sure what to compose here."]
        }
        Step::FunctionGenerate => &[
            "[{\"sub_task\": \"x\", \"func_list\": [{\"name\": \"f\", \"parameters\": ",
            "Here are the functions: none needed.",
        ],
        Step::AssistantAgent => {
            &["I will now call the function.", "<thought>calling</thought><func_call>[{\"name\": </func_call>"]
        }
        Step::ToolAgent => &["<func_return>the call succeeded</func_return>", "Sorry, I cannot simulate that."],
        _ => &["", "   "],
    };
    rng.pick(options).to_string()
}

/// The numbered sub-tasks of a prompt: lines `1. ...` after `Sub-tasks:`.
fn numbered_after(prompt: &str, label: &str) -> Vec<String> {
    let Some(i) = prompt.find(label) else { return Vec::new() };
    prompt[i + label.len()..]
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .filter_map(|l| l.split_once(". ").map(|(_, t)| t.to_string()))
        .collect()
}

fn function_generate(prompt: &str, rng: &mut Rng) -> String {
    let subs = numbered_after(prompt, "Sub-tasks:");
    let d = domain_of(subs.first().map(String::as_str).unwrap_or(prompt), rng);
    let groups: Vec<Value> = subs
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let f: Option<&Func> = match (k, subs.len()) {
                (0, _) => Some(&d.atomic_fn),
                (1, 3) => Some(&d.parallel_fn),
                _ => d.subsequent_fn.as_ref(),
            };
            json!({"sub_task": s, "func_list": f.map(|f| vec![f.to_value()]).unwrap_or_default()})
        })
        .collect();
    format!("```json\n{}\n```", serde_json::to_string_pretty(&Value::Array(groups)).expect("serializes"))
}

fn user_agent(messages: &[ChatMessage], rng: &mut Rng) -> String {
    let first = messages.first().map(|m| m.content.as_str()).unwrap_or("");
    let task = after(first, "Task:").unwrap_or(first);
    if first.contains("Conversation so far:") {
        return format!(
            "<human>{}</human>",
            rng.pick(&[
                "Yes, exactly as I said: please go ahead with all of it.",
                "Please just use the details I gave, they are all correct.",
                "Go ahead, that is right."
            ])
        );
    }
    let opener = rng.pick(&["Hi! ", "Hello, ", "Hey there. ", ""]);
    let closer = rng.pick(&[" Thanks!", " Could you handle that for me?", " Let me know what you find.", ""]);
    format!("<human>{opener}{task}{closer}</human>")
}

/// What the assistant prompt says: the functions per sub-task and whether parallel calls
/// are allowed.
fn assistant_setup(system: &str) -> (Vec<Vec<Value>>, bool) {
    let groups = parse::tag(system, "functions")
        .and_then(|t| serde_json::from_str::<Vec<Value>>(t.trim()).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|g| g.get("functions").and_then(Value::as_array).cloned().unwrap_or_default())
        .collect();
    let parallel = parse::tag(system, "parallel").is_some_and(|p| p.trim().eq_ignore_ascii_case("on"));
    (groups, parallel)
}

fn assistant_agent(messages: &[ChatMessage], rng: &mut Rng) -> String {
    let system = messages.first().map(|m| m.content.as_str()).unwrap_or("");
    let (groups, parallel) = assistant_setup(system);
    let convo = &messages[1.min(messages.len())..];
    let user_text: String = convo
        .iter()
        .filter(|m| m.role == "user" && !m.content.contains("<func_return>"))
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut called: Vec<String> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    for m in convo {
        if m.role == "assistant"
            && let Some(body) = parse::tag(&m.content, "func_call")
            && let Ok(Value::Array(calls)) = parse::first_json(body)
        {
            called.extend(calls.iter().filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from)));
        }
        if m.role == "user"
            && let Some(body) = parse::tag(&m.content, "func_return")
            && let Ok(v) = parse::first_json(body)
        {
            results.push(v);
        }
    }
    let assistant_turns = convo.iter().filter(|m| m.role == "assistant").count();
    let pending: Vec<&Value> = groups
        .iter()
        .flat_map(|g| g.first())
        .filter(|f| f.get("name").and_then(Value::as_str).is_some_and(|n| !called.iter().any(|c| c == n)))
        .collect();
    if assistant_turns == 0 && rng.chance(0.1) {
        return "<observation>The user asked for help with a task.</observation>\n<thought>Before I start I want to be sure the details are final.</thought>\nShould I go ahead with exactly the details you gave?".into();
    }
    if pending.is_empty() {
        let parts = describe_results(&results);
        let detail = if parts.is_empty() { "everything you asked for is done".to_string() } else { parts.join("; ") };
        return format!(
            "<observation>All the calls have returned.</observation>\n<thought>I can now give the user the results.</thought>\n<final>Done. The {detail}.</final>"
        );
    }
    // The first two groups are independent in a parallel-then-sequential task.
    let take = if parallel && groups.len() == 3 && called.is_empty() && pending.len() >= 2 { 2 } else { 1 };
    let calls: Vec<Value> = pending.iter().take(take).map(|f| make_call(f, &user_text, &results, rng)).collect();
    let plan = if assistant_turns == 0 {
        let steps: Vec<String> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                format!(
                    "{}. {}",
                    i + 1,
                    g.first()
                        .and_then(|f| f.get("description"))
                        .and_then(Value::as_str)
                        .unwrap_or("work it out myself")
                )
            })
            .collect();
        format!("My plan: {}", steps.join(" "))
    } else {
        "The previous results give me what the next step needs.".into()
    };
    format!(
        "<observation>{}</observation>\n<thought>{plan}</thought>\n<func_call>{}</func_call>",
        if results.is_empty() { "The user has given all the details." } else { "The last call returned its results." },
        Value::Array(calls)
    )
}

/// "name: key value, key value" for each returned result, for the final answer.
fn describe_results(returns: &[Value]) -> Vec<String> {
    fn scalars(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    match x {
                        Value::String(s) => out.push(format!("{} {s}", k.replace('_', " "))),
                        Value::Number(n) => out.push(format!("{} {n}", k.replace('_', " "))),
                        Value::Array(a) => a.iter().take(1).for_each(|first| scalars(first, out)),
                        Value::Object(_) => scalars(x, out),
                        _ => {}
                    }
                }
            }
            Value::Array(a) => a.iter().take(1).for_each(|first| scalars(first, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for r in returns.iter().flat_map(|r| r.as_array().cloned().unwrap_or_default()) {
        let name = r.get("name").and_then(Value::as_str).unwrap_or("a call").replace('_', " ");
        let mut parts = Vec::new();
        scalars(r.get("results").unwrap_or(&Value::Null), &mut parts);
        if !parts.is_empty() {
            out.push(format!("{name} gave {}", parts.join(", ")));
        }
    }
    out
}

/// A call with arguments taken from earlier results (same key), the user's words, or a
/// plausible value of the parameter's type.
fn make_call(f: &Value, user_text: &str, results: &[Value], rng: &mut Rng) -> Value {
    let name = f.get("name").cloned().unwrap_or(Value::Null);
    let props = f.get("parameters").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut facts = Facts { text: user_text, rng: Rng::new(rng.next_u64()), chosen: Default::default() };
    let mut args = Map::new();
    for (p, schema) in &props {
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("string");
        let v = find_key(results, p).unwrap_or_else(|| match (p.as_str(), ty) {
            ("origin" | "city", _) => json!(facts.nth(CITIES, 0)),
            ("destination", _) if user_text.contains(" to ") => json!(facts.nth(CITIES, 1)),
            ("destination", _) => json!("city centre"),
            ("date", _) => json!(facts.nth(DATES, 0)),
            ("passenger_name" | "name" | "recipient" | "patron_name" | "attendee", _) => json!(facts.nth(NAMES, 0)),
            ("title", _) => json!(facts.nth(BOOKS, 0)),
            ("cuisine", _) => json!(facts.nth(CUISINES, 0)),
            ("target", _) => json!(facts.nth(CURRENCIES, 0)),
            ("base", _) => json!("USD"),
            ("kind", _) => json!("yoga"),
            ("query", _) => json!(facts.nth(ITEMS, 0)),
            (_, "integer") => json!(4),
            (_, "number") => json!(facts.amount().parse::<f64>().unwrap_or(100.0)),
            (_, "boolean") => json!(true),
            _ => json!("any"),
        });
        args.insert(p.clone(), v);
    }
    json!({"name": name, "arguments": args})
}

fn find_key(results: &[Value], key: &str) -> Option<Value> {
    fn walk(v: &Value, key: &str) -> Option<Value> {
        match v {
            Value::Object(o) => o
                .get(key)
                .filter(|x| !x.is_object() && !x.is_array())
                .cloned()
                .or_else(|| o.values().find_map(|x| walk(x, key))),
            Value::Array(a) => a.iter().find_map(|x| walk(x, key)),
            _ => None,
        }
    }
    results.iter().rev().find_map(|r| walk(r, key))
}

fn tool_agent(prompt: &str, rng: &mut Rng) -> String {
    let function = parse::tag(prompt, "function")
        .and_then(|t| serde_json::from_str::<Value>(t.trim()).ok())
        .unwrap_or(Value::Null);
    let call =
        parse::tag(prompt, "call").and_then(|t| serde_json::from_str::<Value>(t.trim()).ok()).unwrap_or(Value::Null);
    let mut out = Map::new();
    if let Some(resp) = function.get("responses").and_then(Value::as_object) {
        for (k, schema) in resp {
            out.insert(k.clone(), fake_value(k, schema, &call, rng));
        }
    }
    if out.is_empty() {
        out.insert("status".into(), json!("ok"));
    }
    format!("<func_return>{}</func_return>", Value::Object(out))
}

fn fake_value(key: &str, schema: &Value, call: &Value, rng: &mut Rng) -> Value {
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("string");
    let code = |rng: &mut Rng, p: &str| format!("{p}-{:05}", rng.below(100_000));
    match ty {
        "number" => json!(rng.below(90_000) as f64 / 100.0 + 1.0),
        "integer" => json!(1 + rng.below(9)),
        "boolean" => json!(rng.chance(0.8)),
        "array" => {
            let n = 2 + rng.below(2);
            let stem = key.trim_end_matches('s');
            let items: Vec<Value> = (0..n)
                .map(|i| {
                    json!({
                        format!("{stem}_id"): code(rng, &stem[..stem.len().min(3)].to_uppercase()),
                        "name": format!("{} option {}", stem.replace('_', " "), i + 1),
                        "price": 20 + rng.below(300),
                        "time": format!("{:02}:{:02}", 7 + rng.below(12), 15 * rng.below(4)),
                    })
                })
                .collect();
            Value::Array(items)
        }
        "object" => json!({"value": rng.below(100)}),
        _ => {
            if key.ends_with("_id") || key.contains("code") {
                json!(code(rng, "REF"))
            } else if let Some(v) =
                call.pointer("/arguments").and_then(|a| a.as_object()).and_then(|a| a.values().find_map(Value::as_str))
            {
                json!(format!(
                    "{} ({})",
                    rng.pick(&["confirmed", "available", "clear skies", "moderate", "central branch"]),
                    v
                ))
            } else {
                json!(rng.pick(&["confirmed", "available", "clear skies", "moderate"]).to_string())
            }
        }
    }
}
