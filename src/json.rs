//! The JSON values of the data model: function schemas, call arguments, tool results.
//!
//! `serde_json::Value` with `preserve_order` keeps an object as an `IndexMap`: a vector of
//! entries plus a hash table, two allocations and a `SipHash` of every key as it is read. The
//! objects of a dataset have a handful of keys (a schema's `type`, `description`,
//! `properties`; a call's arguments), and reading them into those maps was 40% of what
//! `button lint` spent (README, Speed). This value keeps an object as its entries in order,
//! looked up by comparing keys; an object grown past `INDEXED` keys gets a hash index too, so
//! a huge one costs no more than before.
//!
//! It behaves as `serde_json::Value` does where the data model can see it:
//! - it is written by `serde`, so `serde_json` writes it byte for byte as it writes its own
//!   value (numbers are `serde_json::Number`);
//! - a key given twice keeps its first place and its last value;
//! - objects are equal when they hold the same keys with equal values, in any order;
//! - `Map::remove` takes the last entry into the removed one's place (`swap_remove`).
//!
//! The rest of the program (LLM requests, configuration) keeps `serde_json::Value`; `From`
//! goes both ways.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::LazyLock;

use serde::de::{self, Deserialize, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap};

pub use compact_str::CompactString as Key;
/// A JSON string's text.
pub use compact_str::CompactString as Str;
pub use serde_json::Number;

/// A JSON value; see the module's description.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    /// Text up to 24 bytes (a schema's `type`, most names, values and short descriptions) is
    /// held inline, without an allocation of its own.
    String(Str),
    Array(Vec<Value>),
    Object(Map),
}

/// Keys up to which an object is searched by comparing keys; past it, by a hash index.
const INDEXED: usize = 16;

/// One random hasher for the indexes of big objects (they only exist past `INDEXED` keys).
static HASHER: LazyLock<std::hash::RandomState> = LazyLock::new(std::hash::RandomState::new);

fn hash(key: &str) -> u64 {
    HASHER.hash_one(key)
}

/// A JSON object: its entries in the order they were first given.
#[derive(Clone, Default)]
pub struct Map {
    /// Keys are `CompactString`s: a key of up to 24 bytes (every JSON Schema keyword, most
    /// parameter names) is held inline, without an allocation of its own.
    entries: Vec<(Key, Value)>,
    /// Positions in `entries` by key hash, once there are more than `INDEXED` entries.
    index: Option<Box<hashbrown::HashTable<usize>>>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn with_capacity(n: usize) -> Map {
        Map { entries: Vec::with_capacity(n), index: None }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.find(hash(key), |&i| self.entries[i].0 == key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    fn reindex(&mut self) {
        self.index = (self.entries.len() > INDEXED).then(|| {
            let mut index = hashbrown::HashTable::with_capacity(self.entries.len());
            for (i, (k, _)) in self.entries.iter().enumerate() {
                index.insert_unique(hash(k), i, |&j| hash(&self.entries[j].0));
            }
            Box::new(index)
        });
    }

    /// Sets `key` to `value`; a key already there keeps its place and gives back its value.
    /// (A `Key`, not a `String`: `"type".into()` is then held inline, with no allocation.)
    pub fn insert(&mut self, key: Key, value: Value) -> Option<Value> {
        self.insert_key(key, value)
    }

    pub fn insert_key(&mut self, key: Key, value: Value) -> Option<Value> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        self.push_new(key, value);
        None
    }

    /// Adds an entry whose key is known not to be there.
    fn push_new(&mut self, key: Key, value: Value) {
        let at = self.entries.len();
        let h = self.index.as_ref().map(|_| hash(&key));
        self.entries.push((key, value));
        match (&mut self.index, h) {
            (Some(index), Some(h)) => {
                let entries = &self.entries;
                index.insert_unique(h, at, |&j| hash(&entries[j].0));
            }
            _ if self.entries.len() > INDEXED => self.reindex(),
            _ => {}
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Removes `key`; the last entry takes its place, as `serde_json`'s order-keeping map does.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        let (_, v) = self.entries.swap_remove(i);
        if self.index.is_some() {
            self.reindex();
        }
        Some(v)
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Key, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Key> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// The entries of a `Map` in order.
pub struct Iter<'a>(std::slice::Iter<'a, (Key, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Key, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Key, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Map {
    type Item = (Key, Value);
    type IntoIter = std::vec::IntoIter<(Key, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Into<Key>, V: Into<Value>> FromIterator<(K, V)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Map {
        let mut map = Map::new();
        map.extend(iter);
        map
    }
}

impl<K: Into<Key>, V: Into<Value>> Extend<(K, V)> for Map {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert_key(k.into(), v.into());
        }
    }
}

/// Equal when both hold the same keys with equal values, in whatever order (as
/// `serde_json`'s order-keeping map compares).
impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// What `Value::get` takes: a key of an object or a position in an array.
pub trait Index {
    fn find<'v>(&self, v: &'v Value) -> Option<&'v Value>;
    fn find_mut<'v>(&self, v: &'v mut Value) -> Option<&'v mut Value>;
}

impl Index for str {
    fn find<'v>(&self, v: &'v Value) -> Option<&'v Value> {
        v.as_object()?.get(self)
    }
    fn find_mut<'v>(&self, v: &'v mut Value) -> Option<&'v mut Value> {
        v.as_object_mut()?.get_mut(self)
    }
}

impl Index for String {
    fn find<'v>(&self, v: &'v Value) -> Option<&'v Value> {
        Index::find(self.as_str(), v)
    }
    fn find_mut<'v>(&self, v: &'v mut Value) -> Option<&'v mut Value> {
        Index::find_mut(self.as_str(), v)
    }
}

impl Index for usize {
    fn find<'v>(&self, v: &'v Value) -> Option<&'v Value> {
        v.as_array()?.get(*self)
    }
    fn find_mut<'v>(&self, v: &'v mut Value) -> Option<&'v mut Value> {
        v.as_array_mut()?.get_mut(*self)
    }
}

impl<K: Index + ?Sized> Index for &K {
    fn find<'v>(&self, v: &'v Value) -> Option<&'v Value> {
        (**self).find(v)
    }
    fn find_mut<'v>(&self, v: &'v mut Value) -> Option<&'v mut Value> {
        (**self).find_mut(v)
    }
}

static NULL: Value = Value::Null;

impl<K: Index> std::ops::Index<K> for Value {
    type Output = Value;
    /// The entry, or `null` when there is none (as `serde_json` does).
    fn index(&self, key: K) -> &Value {
        key.find(self).unwrap_or(&NULL)
    }
}

/// JSON Pointer's array index: digits, no sign, no leading zero.
fn pointer_index(s: &str) -> Option<usize> {
    if s.starts_with('+') || (s.starts_with('0') && s.len() != 1) {
        return None;
    }
    s.parse().ok()
}

impl Value {
    pub fn get<K: Index>(&self, key: K) -> Option<&Value> {
        key.find(self)
    }

    pub fn get_mut<K: Index>(&mut self, key: K) -> Option<&mut Value> {
        key.find_mut(self)
    }

    pub fn as_object(&self) -> Option<&Map> {
        if let Value::Object(m) = self { Some(m) } else { None }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        if let Value::Object(m) = self { Some(m) } else { None }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        if let Value::Array(a) = self { Some(a) } else { None }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        if let Value::Array(a) = self { Some(a) } else { None }
    }

    pub fn as_str(&self) -> Option<&str> {
        if let Value::String(s) = self { Some(s) } else { None }
    }

    pub fn as_bool(&self) -> Option<bool> {
        if let Value::Bool(b) = self { Some(*b) } else { None }
    }

    pub fn as_number(&self) -> Option<&Number> {
        if let Value::Number(n) = self { Some(n) } else { None }
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// The value, leaving `null` in its place.
    #[must_use]
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }

    /// The value a JSON Pointer (RFC 6901) names, as `serde_json::Value::pointer`.
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        pointer.strip_prefix('/')?.split('/').map(|x| x.replace("~1", "/").replace("~0", "~")).try_fold(
            self,
            |target, token| match target {
                Value::Object(map) => map.get(&token),
                Value::Array(list) => pointer_index(&token).and_then(|x| list.get(x)),
                _ => None,
            },
        )
    }
}

impl fmt::Display for Value {
    /// Compact JSON, or pretty with `{:#}`, as `serde_json::Value` prints.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let text = if f.alternate() { serde_json::to_string_pretty(self) } else { serde_json::to_string(self) };
        f.write_str(&text.map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(t) => s.serialize_str(t),
            Value::Array(a) => a.serialize(s),
            Value::Object(m) => m.serialize(s),
        }
    }
}

impl Serialize for Map {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

/// Reads any JSON value, as `serde_json::Value` reads it.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_i128<E: de::Error>(self, n: i128) -> Result<Value, E> {
        Number::deserialize(de::value::I128Deserializer::new(n)).map(Value::Number)
    }
    fn visit_u128<E: de::Error>(self, n: u128) -> Result<Value, E> {
        Number::deserialize(de::value::U128Deserializer::new(n)).map(Value::Number)
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // Room for 4 from the first item on (growing from none went through `Vec`'s
        // out-of-line growth path every time); an empty list allocates nothing.
        let Some(first) = seq.next_element()? else { return Ok(Value::Array(Vec::new())) };
        let mut items = Vec::with_capacity(4);
        items.push(first);
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        // As `visit_seq`: room for 4 entries once there is one.
        let Some(first) = access.next_key_seed(KeySeed)? else { return Ok(Value::Object(Map::new())) };
        let mut map = Map::with_capacity(4);
        map.push_new(first, access.next_value()?);
        // One bit per key seen, picked by its length and its first and last bytes: a key
        // whose bit is not set yet is new, and is added without a search of the keys before
        // it (lint of 1,000 lines: 121.3M -> 119.6M instructions). A set bit means "maybe",
        // and the key is searched for as `insert_key` does.
        let mut seen = 1u64 << (key_fingerprint(&map.entries[0].0) & 63);
        while let Some(key) = access.next_key_seed(KeySeed)? {
            let value = access.next_value()?;
            let bit = 1u64 << (key_fingerprint(&key) & 63);
            if seen & bit == 0 {
                seen |= bit;
                map.push_new(key, value);
            } else {
                map.insert_key(key, value);
            }
        }
        Ok(Value::Object(map))
    }
}

/// A few bits of a key, cheap to take: equal keys give equal fingerprints.
fn key_fingerprint(key: &str) -> u32 {
    let b = key.as_bytes();
    let (first, last) = (b.first().copied().unwrap_or(0), b.last().copied().unwrap_or(0));
    (b.len() as u32).wrapping_mul(7) ^ u32::from(first) ^ u32::from(last).wrapping_mul(5)
}

/// Reads an object's key straight into a `Key` (no `String` first).
struct KeySeed;

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E>(self, s: &str) -> Result<Key, E> {
        Ok(Key::new(s))
    }
    fn visit_string<E>(self, s: String) -> Result<Key, E> {
        Ok(Key::from(s))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::String(s) => Value::String(s.into()),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => Value::Object(o.into_iter().collect()),
        }
    }
}

impl From<Value> for serde_json::Value {
    fn from(v: Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Number(n) => serde_json::Value::Number(n),
            Value::String(s) => serde_json::Value::String(s.into_string()),
            Value::Array(a) => serde_json::Value::Array(a.into_iter().map(serde_json::Value::from).collect()),
            Value::Object(o) => serde_json::Value::Object(
                o.into_iter().map(|(k, v)| (k.into_string(), serde_json::Value::from(v))).collect(),
            ),
        }
    }
}

impl From<&Value> for serde_json::Value {
    fn from(v: &Value) -> serde_json::Value {
        v.clone().into()
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Number(n.into())
            }
        }
    )*};
}

from_integer!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<serde_json::Value> for Value {
    fn eq(&self, other: &serde_json::Value) -> bool {
        use serde_json::Value as Theirs;
        match (self, other) {
            (Value::Null, Theirs::Null) => true,
            (Value::Bool(a), Theirs::Bool(b)) => a == b,
            (Value::Number(a), Theirs::Number(b)) => a == b,
            (Value::String(a), Theirs::String(b)) => a == b,
            (Value::Array(a), Theirs::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y),
            (Value::Object(a), Theirs::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k.as_str()).is_some_and(|w| v == w))
            }
            _ => false,
        }
    }
}

/// What kind of JSON a value is, in words ("an object"), for either value type.
pub trait Kind {
    fn kind(&self) -> &'static str;
}

macro_rules! kind {
    ($($p:ident)::+) => {
        impl Kind for $($p)::+ {
            fn kind(&self) -> &'static str {
                match self {
                    $($p)::+::Null => "null",
                    $($p)::+::Bool(_) => "a boolean",
                    $($p)::+::Number(_) => "a number",
                    $($p)::+::String(_) => "a string",
                    $($p)::+::Array(_) => "an array",
                    $($p)::+::Object(_) => "an object",
                }
            }
        }
    };
}

kind!(Value);
kind!(serde_json::Value);

/// `serde_json::json!`, made a model value.
#[macro_export]
macro_rules! json {
    ($($t:tt)+) => {
        $crate::json::Value::from(::serde_json::json!($($t)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read by both, written by both: the same bytes, compact and pretty, for texts with
    /// repeated keys, every kind of number, escapes and an object big enough to be indexed.
    #[test]
    fn reads_and_writes_as_serde_json_does() {
        let big: String = (0..40)
            .map(|i| format!("\"k{}\":{i}", (i * 7) % 40))
            .chain(["\"k3\":\"again\"".into()])
            .collect::<Vec<_>>()
            .join(",");
        let texts = [
            r#"{"b":1,"a":[1,-2,3.5,1e300,-0.0,18446744073709551615,-9223372036854775808],"b":{"x":null}}"#.to_string(),
            r#"["\u00e9\ud83d\ude00\n\"", true, false, null, {}, []]"#.to_string(),
            format!("{{{big}}}"),
            "12345678901234567890123".to_string(),
            // Small objects read with a fingerprint of each key: keys alike in length, first
            // and last byte but not the same, and keys repeated, the empty one among them.
            r#"{"axb":1,"ayb":2,"axb":3,"":4,"a":5,"":6,"ayb":{"axb":7,"axb":8}}"#.to_string(),
            r#"[{"a":1},{"a":1,"a":2},{"ba":1,"ab":2,"ba":3},{}]"#.to_string(),
        ];
        for text in texts {
            let ours: Value = serde_json::from_str(&text).unwrap();
            let theirs: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_string(&ours).unwrap(), serde_json::to_string(&theirs).unwrap(), "{text}");
            assert_eq!(format!("{ours:#}"), format!("{theirs:#}"));
            assert_eq!(serde_json::Value::from(ours.clone()), theirs);
            assert_eq!(ours, theirs, "compared across the two types");
            assert_ne!(ours, serde_json::json!([theirs.clone()]));
            assert_eq!(Value::from(theirs), ours);
        }
    }

    #[test]
    fn objects_compare_as_maps_and_keep_their_order() {
        let a: Value = serde_json::from_str(r#"{"x":1,"y":[2]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"y":[2],"x":1}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"y":[2],"x":2}"#).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, serde_json::json!({"y": [2], "x": 1}));
        assert_ne!(a, serde_json::json!({"y": [2], "x": 1.0}));
        assert_eq!(b.to_string(), r#"{"y":[2],"x":1}"#);
    }

    /// The same answers from an object searched key by key and from one with an index,
    /// through inserts, a repeated key and removals.
    #[test]
    fn big_objects_are_indexed_and_answer_alike() {
        let mut ours = Map::new();
        let mut theirs = serde_json::Map::new();
        for i in 0..100 {
            let k = format!("key{}", (i * 37) % 60);
            assert_eq!(
                ours.insert(k.as_str().into(), Value::from(i)),
                theirs.insert(k, serde_json::Value::from(i)).map(Value::from)
            );
            assert_eq!(ours.len(), theirs.len());
        }
        assert!(ours.index.is_some());
        for k in ["key0", "key17", "key59", "key60", "missing"] {
            assert_eq!(ours.get(k).cloned(), theirs.get(k).cloned().map(Value::from), "{k}");
        }
        for k in ["key5", "key59", "nothing", "key0"] {
            assert_eq!(ours.remove(k), theirs.remove(k).map(Value::from));
        }
        for k in ["key1", "key6", "key58", "key5", "key0"] {
            assert_eq!(ours.get(k).cloned(), theirs.get(k).cloned().map(Value::from), "after removals: {k}");
        }
        assert_eq!(
            serde_json::to_string(&Value::Object(ours.clone())).unwrap(),
            serde_json::to_string(&serde_json::Value::Object(theirs)).unwrap()
        );
    }

    #[test]
    fn pointers_and_indexing() {
        let v: Value = serde_json::from_str(r#"{"a/b":[{"~x":5}],"c":null}"#).unwrap();
        assert_eq!(v.pointer("/a~1b/0/~0x"), Some(&Value::from(5)));
        assert_eq!(v.pointer("/a~1b/00"), None);
        assert_eq!(v["a/b"][0]["~x"], Value::from(5));
        assert!(v["nothing"][3].is_null());
    }
}
