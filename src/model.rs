//! The domain: a sample's lineage from scenario to reviewed trajectory. No IO here.

use crate::json::{Map, Value};
use serde::{Deserialize, Serialize};

/// A function as the assistant sees it. `parameters` is always an object schema
/// (`{"type":"object","properties":{..},"required":[..]}`); the paper's flat layout
/// (name -> schema, with `required` beside it) is normalized into it on the way in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub parameters: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses: Option<Value>,
}

/// A field of a JSON object as written: absent, or given (`null` included, which serde's
/// `Option` would read as absent).
#[derive(Debug, Default)]
pub enum Written {
    #[default]
    Absent,
    Given(Value),
}

impl Written {
    pub fn into_option(self) -> Option<Value> {
        match self {
            Written::Absent => None,
            Written::Given(v) => Some(v),
        }
    }
}

impl<'de> Deserialize<'de> for Written {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Written::Given)
    }
}

/// A string borrowed from the text read where it can be: an object's key, a message's text.
/// (serde's own `Cow<str>` is always copied, unless it is a field marked `borrow`.)
pub(crate) struct Text<'a>(pub std::borrow::Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text<'a>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(s)))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// A struct of `Written` fields read from a JSON object only (serde's derive would also
/// read an array, element by element, as the fields in order), other keys skipped unread.
/// A repeated key is an error here; the readers then read the text as `Value`s.
macro_rules! written_fields {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        $vis struct $name {
            $($field: $crate::model::Written,)*
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Fields;
                impl<'de> serde::de::Visitor<'de> for Fields {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<$crate::model::Text<'de>>()? {
                            match key.0.as_ref() {
                                $(stringify!($field) => {
                                    if !matches!(out.$field, $crate::model::Written::Absent) {
                                        return Err(serde::de::Error::duplicate_field(stringify!($field)));
                                    }
                                    out.$field = map.next_value()?;
                                })*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(Fields)
            }
        }
    };
}

pub(crate) use written_fields;

written_fields! {
    /// The fields `FunctionDef` reads from a function object, read from the text directly.
    /// A reader that meets something this can't hold (a repeated key, an element that is
    /// not an object) reads the text as `Value`s instead and gets `from_owned`'s answer,
    /// which is the same function or the same error.
    pub struct WrittenFunction { function, name, description, parameters, required, responses }
}

impl FunctionDef {
    /// Reads a function in any layout we meet: an `OpenAI` tool wrapper
    /// (`{"type":"function","function":{..}}`), an object-schema `parameters`, or the
    /// paper's flat map with a top-level `required`.
    pub fn from_value(v: &Value) -> Result<FunctionDef, String> {
        FunctionDef::from_owned(v.clone())
    }

    pub fn from_owned(v: Value) -> Result<FunctionDef, String> {
        let mut obj = match v {
            Value::Object(o) => o,
            other => return Err(format!("a function must be a JSON object, found {}", kind_of(&other))),
        };
        let mut take = |k: &str| obj.remove(k).map_or(Written::Absent, Written::Given);
        FunctionDef::from_written(WrittenFunction {
            function: take("function"),
            name: take("name"),
            description: take("description"),
            parameters: take("parameters"),
            required: take("required"),
            responses: take("responses"),
        })
    }

    /// `from_owned` on the fields a function object was read into (`WrittenFunction`,
    /// which a reader deserializes straight from the text, without a map of its own).
    pub fn from_written(w: WrittenFunction) -> Result<FunctionDef, String> {
        if let Written::Given(f @ Value::Object(_)) = w.function {
            return FunctionDef::from_owned(f);
        }
        let name = match w.name.into_option() {
            Some(Value::String(s)) if !s.trim().is_empty() => s.into_string(),
            Some(Value::String(_)) => return Err("a function has an empty name".into()),
            Some(other) => return Err(format!("a function name must be a string, found {}", kind_of(&other))),
            None => return Err("a function has no \"name\"".into()),
        };
        let description = match w.description.into_option() {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.into_string(),
            Some(other) => {
                return Err(format!("function {name}: \"description\" must be a string, found {}", kind_of(&other)));
            }
        };
        let top_required = w.required.into_option();
        let object_schema = |props: Map, required: Option<Value>| {
            let mut schema = Map::new();
            schema.insert("type".into(), Value::String("object".into()));
            schema.insert("properties".into(), Value::Object(props));
            if let Some(r) = required {
                schema.insert("required".into(), r);
            }
            Value::Object(schema)
        };
        let parameters = match w.parameters.into_option() {
            None | Some(Value::Null) => object_schema(Map::new(), top_required),
            // A JSON Schema object; `"type": "dict"` is BFCL's and ToolACE's name for it.
            Some(Value::Object(mut p)) if is_object_schema(&p) => {
                p.insert("type".into(), Value::String("object".into()));
                if !p.contains_key("required")
                    && let Some(r) = top_required
                {
                    p.insert("required".into(), r);
                }
                let mut schema = Value::Object(p);
                json_schema_types(&mut schema);
                schema
            }
            Some(Value::Object(flat)) => {
                let mut schema = object_schema(flat, top_required);
                json_schema_types(&mut schema);
                schema
            }
            Some(other) => {
                return Err(format!(
                    "function {name}: \"parameters\" must be a JSON object, found {}",
                    kind_of(&other)
                ));
            }
        };
        let responses = w.responses.into_option().filter(|r| !r.is_null());
        Ok(FunctionDef { name, description, parameters, responses })
    }

    pub fn properties(&self) -> Option<&Map> {
        self.parameters.get("properties").and_then(Value::as_object)
    }

    /// The `required` names, skipping entries that are not strings (lint reports those).
    pub fn required(&self) -> impl Iterator<Item = &str> {
        self.parameters.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    }

    /// True when the parameter schema says type, properties and required and nothing else,
    /// so the paper's flat layout can say it all (without `required` the flat layout would
    /// add an empty one, and the schema would not come back as it was).
    pub fn fits_flat_layout(&self) -> bool {
        self.parameters.as_object().is_some_and(|o| {
            o.contains_key("required") && o.keys().all(|k| matches!(k.as_str(), "type" | "properties" | "required"))
        })
    }

    /// The paper's layout: `parameters` a flat map, `required` beside it.
    pub fn to_flat_value(&self) -> Value {
        let mut o = Map::new();
        o.insert("name".into(), Value::String(self.name.as_str().into()));
        o.insert("description".into(), Value::String(self.description.as_str().into()));
        if self.fits_flat_layout() {
            let props = self.properties().cloned().unwrap_or_default();
            o.insert("parameters".into(), Value::Object(props));
            let req = self.parameters.get("required").cloned().unwrap_or(Value::Array(vec![]));
            o.insert("required".into(), req);
        } else {
            o.insert("parameters".into(), self.parameters.clone());
        }
        if let Some(r) = &self.responses {
            o.insert("responses".into(), r.clone());
        }
        Value::Object(o)
    }
}

/// A parameters object that is itself a schema (its `type` says object, or `dict`), as
/// against the paper's flat map of parameter names.
fn is_object_schema(p: &Map) -> bool {
    matches!(p.get("type").and_then(Value::as_str), Some("object" | "dict"))
        && p.get("properties").is_none_or(|props| props.as_object().is_some_and(|o| o.values().all(Value::is_object)))
}

/// Python's type names (`str`, `int`, `float`, `bool`, `list`, `dict`, `tuple`), as BFCL,
/// `ToolACE` and xLAM write them, turned into JSON Schema's, through nested properties and
/// items. `Optional[...]`-style and other names are left for lint to report.
fn json_schema_types(schema: &mut Value) {
    let Some(o) = schema.as_object_mut() else { return };
    // One walk over the entries (no lookups by key, which hash): this runs on every
    // schema of every function read.
    let mut item_type = None;
    let mut has_items = false;
    for (k, v) in o.iter_mut() {
        match (k.as_str(), v) {
            ("type", Value::String(t)) => {
                if let Some((json, items)) = python_type(t) {
                    item_type = items.and_then(|i| python_type(i).map(|(j, _)| j));
                    if t != json {
                        *t = json.into();
                    }
                }
            }
            ("properties", Value::Object(props)) => props.values_mut().for_each(json_schema_types),
            ("items", items) => {
                has_items = true;
                json_schema_types(items);
            }
            _ => {}
        }
    }
    if let Some(item) = item_type
        && !has_items
    {
        let mut schema = Map::new();
        schema.insert("type".into(), Value::String(item.into()));
        o.insert("items".into(), Value::Object(schema));
    }
}

/// A Python type name as JSON Schema's, with the item type of a generic list
/// (`List[int]`): `str`, `int`, `float`, `bool`, `list`/`List[...]`/`tuple`/`set`,
/// `dict`/`Dict[...]`, `Optional[X]` as X. None for names that are not Python's.
fn python_type(t: &str) -> Option<(&'static str, Option<&str>)> {
    let t = t.trim();
    let (head, inner) = match t.split_once('[') {
        Some((h, rest)) => (h.trim(), rest.strip_suffix(']').map(str::trim)),
        None => (t, None),
    };
    Some(match head {
        "str" => ("string", None),
        "int" => ("integer", None),
        "float" => ("number", None),
        "bool" => ("boolean", None),
        "list" | "List" | "tuple" | "Tuple" | "set" | "Set" | "Sequence" => {
            // Tuple[int, str] has no one item type.
            ("array", inner.filter(|i| !i.contains(',')))
        }
        "array" => ("array", None),
        "dict" | "Dict" | "Mapping" => ("object", None),
        "Optional" => return inner.and_then(python_type),
        _ => return None,
    })
}

pub fn kind_of(v: &impl crate::json::Kind) -> &'static str {
    v.kind()
}

written_fields! {
    /// The fields `Call` reads from a call object, read from the text directly (as
    /// `WrittenFunction` is for functions).
    pub struct WrittenCall { name, arguments, parameters }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub name: String,
    pub arguments: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Call {
    /// The one rule for a call written as an object, in every layout and every reply:
    /// `{"name", "arguments"}` (`parameters` is read as `arguments`, as Hermes and some
    /// models write it). The name must be a non-empty string. The error says what is wrong
    /// with the object ("has no name").
    pub fn from_value(v: Value) -> Result<Call, &'static str> {
        let Value::Object(mut o) = v else { return Err("is not an object") };
        let mut take = |k: &str| o.remove(k).map_or(Written::Absent, Written::Given);
        Call::from_written(WrittenCall {
            name: take("name"),
            arguments: take("arguments"),
            parameters: take("parameters"),
        })
    }

    /// `from_value` on the fields a call object was read into.
    pub fn from_written(w: WrittenCall) -> Result<Call, &'static str> {
        let name = match w.name {
            Written::Given(Value::String(s)) if !s.trim().is_empty() => s.into_string(),
            _ => return Err("has no name"),
        };
        let arguments = Call::arguments_from(w.arguments.into_option().or_else(|| w.parameters.into_option()));
        Ok(Call { name, arguments, id: None })
    }

    /// The one rule for a call's arguments as written: an object is kept; JSON text is read
    /// (the `OpenAI` layout and many datasets encode arguments as a string); text that is not
    /// JSON stays a string, and anything not an object is kept as it is, for lint to report
    /// (E02); none at all is a call without arguments, `{}`.
    pub fn arguments_from(v: Option<Value>) -> Value {
        match v {
            None => Value::Object(Map::new()),
            Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
            Some(other) => other,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    pub name: String,
    pub arguments: Value,
    pub results: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    User {
        content: String,
    },
    /// One assistant turn: a thought, then calls, or a final answer. With neither it is a
    /// question back to the user.
    Assistant {
        #[serde(default)]
        thought: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        calls: Vec<Call>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        final_answer: Option<String>,
    },
    /// The results of the calls of the assistant turn before it, one per call, in order.
    Tool {
        results: Vec<ToolResult>,
    },
}

impl Message {
    pub fn role(&self) -> &'static str {
        match self {
            Message::User { .. } => "user",
            Message::Assistant { .. } => "assistant",
            Message::Tool { .. } => "tool",
        }
    }

    /// The calls of an assistant turn; none for other messages.
    pub fn calls(&self) -> &[Call] {
        match self {
            Message::Assistant { calls, .. } => calls,
            _ => &[],
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub tools: Vec<FunctionDef>,
    /// Whether parallel calls were allowed; None when the source does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<bool>,
    /// A system prompt that is not the BUTTON template, kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub messages: Vec<Message>,
}

impl Trajectory {
    pub fn assistant_turns(&self) -> usize {
        self.messages.iter().filter(|m| matches!(m, Message::Assistant { .. })).count()
    }

    pub fn call_count(&self) -> usize {
        self.messages
            .iter()
            .map(|m| match m {
                Message::Assistant { calls, .. } => calls.len(),
                _ => 0,
            })
            .sum()
    }

    pub fn has_parallel_calls(&self) -> bool {
        self.messages.iter().any(|m| matches!(m, Message::Assistant { calls, .. } if calls.len() > 1))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Sequential,
    ParallelThenSequential,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Sequential => "sequential",
            Strategy::ParallelThenSequential => "parallel_then_sequential",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Composition {
    pub strategy: Strategy,
    pub task: String,
    /// [atomic, subsequent] or [atomic, parallel, subsequent].
    pub sub_tasks: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FilterVerdict {
    pub passed: bool,
    pub analysis: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubTaskFunctions {
    pub sub_task: String,
    pub functions: Vec<FunctionDef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub stage: String,
    pub reason: String,
    pub detail: String,
}

/// One hand edit of one field, addressed by a JSON pointer into the sample. `original` is
/// the value before the first edit of that field; `edited` the value now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldEdit {
    pub path: String,
    pub original: serde_json::Value,
    pub edited: serde_json::Value,
    pub at: i64,
    /// The parts after this field were made again from the edited value (`g`), so they are
    /// no longer stale because of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub regenerated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    Imported { file: String, line: u64, format: String },
    Generated { seed: u64 },
}

/// Everything known about one sample, in lineage order. Parts not reached yet are None.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub id: String,
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atomic_task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composition: Option<Composition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterVerdict>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<SubTaskFunctions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectory: Option<Trajectory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<FieldEdit>,
}

impl Sample {
    /// A sample with nothing made yet.
    pub fn new(id: String, origin: Origin) -> Sample {
        Sample {
            id,
            origin,
            scenario: None,
            atomic_task: None,
            composition: None,
            filter: None,
            functions: Vec::new(),
            trajectory: None,
            failure: None,
            edits: Vec::new(),
        }
    }

    pub fn strategy(&self) -> Option<Strategy> {
        self.composition.as_ref().map(|c| c.strategy)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    Rejected,
    Flagged,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::Flagged => "flagged",
        }
    }
}

/// Why a reviewer rejected a trajectory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    HallucinatedFunction,
    BadArguments,
    UserLeaksPlan,
    PrematureFinal,
    InconsistentToolResult,
    NotCompositional,
    Other,
}

impl std::str::FromStr for RejectReason {
    type Err = String;
    /// `bad-arguments` or `bad_arguments`.
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.replace('-', "_"))).map_err(|_| {
            format!(
                "unknown reason {s:?}: use hallucinated-function, bad-arguments, user-leaks-plan, premature-final, \
                 inconsistent-tool-result, not-compositional or other"
            )
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<RejectReason>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    /// Readers deserialize functions and calls straight into `WrittenFunction` /
    /// `WrittenCall`; what they make must be what `from_owned` / `from_value` make of the
    /// same object as a `Value`, errors included.
    #[test]
    fn functions_and_calls_read_from_text_are_the_ones_read_from_values() {
        let functions = [
            r#"{"name":"f","description":"d","parameters":{"a":{"type":"str"}},"required":["a"],"responses":{"r":{"type":"int"}}}"#,
            r#"{"name":"f","parameters":{"type":"dict","properties":{"a":{"type":"List[int]"}}},"required":["a"]}"#,
            r#"{"type":"function","function":{"name":"g","parameters":{"type":"object","properties":{}}}}"#,
            r#"{"name":"f","parameters":null,"required":null,"responses":null,"extra":[1,2]}"#,
            r#"{"name":"f","description":null,"parameters":{"a":{"type":"string","enum":["x"]}},"required":"a"}"#,
            r#"{"name":null}"#,
            r#"{"name":"  "}"#,
            r#"{"description":"no name"}"#,
            r#"{"name":"f","description":5}"#,
            r#"{"name":"f","parameters":[1]}"#,
        ];
        for text in functions {
            let written: WrittenFunction = serde_json::from_str(text).unwrap();
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(FunctionDef::from_written(written), FunctionDef::from_owned(value), "{text}");
        }
        let calls = [
            r#"{"name":"f","arguments":{"a":1}}"#,
            r#"{"name":"f","arguments":"{\"a\": 1}"}"#,
            r#"{"name":"f","parameters":{"a":1}}"#,
            r#"{"name":"f","arguments":null,"parameters":{"a":1}}"#,
            r#"{"name":"f"}"#,
            r#"{"name":""}"#,
            r#"{"arguments":{}}"#,
        ];
        for text in calls {
            let written: WrittenCall = serde_json::from_str(text).unwrap();
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Call::from_written(written), Call::from_value(value), "{text}");
        }
    }

    #[test]
    fn flat_and_object_layouts_normalize_to_the_same_function() {
        let flat = json!({"name": "get_weather", "description": "d",
            "parameters": {"city": {"type": "string"}}, "required": ["city"],
            "responses": {"temp": {"type": "number"}}});
        let object = json!({"name": "get_weather", "description": "d",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "responses": {"temp": {"type": "number"}}});
        let wrapped = json!({"type": "function", "function": object.clone()});
        let a = FunctionDef::from_value(&flat).unwrap();
        assert_eq!(a, FunctionDef::from_value(&object).unwrap());
        assert_eq!(a, FunctionDef::from_value(&wrapped).unwrap());
        assert_eq!(a.required().collect::<Vec<_>>(), vec!["city"]);
        assert_eq!(a.to_flat_value(), flat);
    }

    #[test]
    fn a_parameter_named_type_stays_a_parameter_in_the_flat_layout() {
        let flat = json!({"name": "f", "parameters": {"type": {"type": "string"}}});
        let f = FunctionDef::from_value(&flat).unwrap();
        assert!(f.properties().unwrap().contains_key("type"));
    }

    #[test]
    fn one_rule_reads_a_call_in_every_layout_and_reply() {
        let call = |v: Value| Call::from_value(v).map(|c| c.arguments);
        assert_eq!(call(json!({"name": "f", "arguments": {"a": 1}})), Ok(json!({"a": 1})));
        assert_eq!(call(json!({"name": "f", "arguments": "{\"a\": 1}"})), Ok(json!({"a": 1})), "JSON text is read");
        assert_eq!(call(json!({"name": "f", "arguments": "12 degrees"})), Ok(json!("12 degrees")), "kept for E02");
        assert_eq!(call(json!({"name": "f", "parameters": {"a": 1}})), Ok(json!({"a": 1})));
        assert_eq!(call(json!({"name": "f"})), Ok(json!({})), "no arguments");
        assert_eq!(call(json!({"name": " "})), Err("has no name"));
        assert_eq!(call(json!(["f"])), Err("is not an object"));
        // The BUTTON layout, a model's reply and ShareGPT agree on a call without arguments.
        let button = crate::formats::button::parse_calls(r#"[{"name": "f"}]"#).unwrap();
        let reply =
            crate::parse::assistant_turn(r#"<thought>t</thought><func_call>[{"name": "f"}]</func_call>"#).unwrap();
        assert_eq!(button, reply.calls);
        assert_eq!(button[0].arguments, json!({}));
    }

    #[test]
    fn bad_functions_say_what_is_wrong() {
        assert!(FunctionDef::from_value(&json!({"description": "x"})).unwrap_err().contains("no \"name\""));
        assert!(FunctionDef::from_value(&json!({"name": "f", "parameters": 3})).unwrap_err().contains("parameters"));
        assert!(FunctionDef::from_value(&json!([1])).unwrap_err().contains("JSON object"));
    }
}
