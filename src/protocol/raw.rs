//! JSON kept as the server sent it.
//!
//! A subscription event's items are not turned into `serde_json::Value` trees on the
//! I/O thread: building and freeing those trees was most of the session's work per
//! event (callgrind, event flood: decoding into `Value` 11,700 instructions of 18,700
//! on the I/O thread), and the trees were allocated on one thread and freed on the
//! consumer's. Instead an item stays a slice of its frame ([`RawJson`], sharing the
//! frame's bytes); the session reads only each item's key and a digest of its text
//! ([`scan_items`], from the [`Tape`] the decoder noted), and the consumer parses what
//! it reads, on its own thread, when it reads it (a message's fields through the tape,
//! [`Fields`] for a few named ones, or the whole value).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::json::{self, Tape};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A JSON value inside a frame: the frame's shared bytes (a reference count, not a
/// copy) and where the value lies in them.
#[derive(Clone)]
pub struct RawJson {
    frame: Utf8Bytes,
    start: usize,
    end: usize,
}

impl RawJson {
    /// The whole of `text` (which must be JSON for the readers to find anything).
    pub fn new(text: impl Into<Utf8Bytes>) -> Self {
        let frame = text.into();
        let end = frame.len();
        RawJson { frame, start: 0, end }
    }

    /// `part`, a slice of `frame`'s text, without copying it; a slice from elsewhere is
    /// copied.
    pub(crate) fn within(frame: &Utf8Bytes, part: &str) -> Self {
        let base = frame.as_str().as_ptr() as usize;
        let at = part.as_ptr() as usize;
        if at >= base && at + part.len() <= base + frame.len() {
            RawJson { frame: frame.clone(), start: at - base, end: at - base + part.len() }
        } else {
            RawJson::new(part.to_owned())
        }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.frame.as_str()[self.start..self.end]
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the text is empty (never for JSON from a frame).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The part from `start` to `end` (byte offsets within this text), sharing the frame.
    pub fn part(&self, start: usize, end: usize) -> RawJson {
        let end = (self.start + end).min(self.end);
        RawJson { frame: self.frame.clone(), start: (self.start + start).min(end), end }
    }

    /// The value, parsed.
    pub fn parse(&self) -> Value {
        parse(self.as_str())
    }
}

/// Equal when the texts are: the same value written another way is not equal.
impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses JSON text that was validated when its frame was decoded; anything else
/// (which a frame cannot hold) reads as `null`.
pub(crate) fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| {
        log::debug!("unparsable JSON kept from a frame: {e}");
        Value::Null
    })
}

// ---- keys and digests

/// An item's primary key as the session compares keys: integers by value (a delete
/// event may name key 3 as `"3"`), anything else by its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ItemKey {
    /// An integer key.
    Int(i64),
    /// Any other key (a uuid, a string).
    Text(Box<str>),
}

impl ItemKey {
    /// The key a text names: an integer when it is one exactly as written.
    pub fn of_text(s: &str) -> Self {
        match s.parse::<i64>() {
            Ok(n) if is_canonical_integer(s) => ItemKey::Int(n),
            _ => ItemKey::Text(s.into()),
        }
    }

    /// The key of a JSON scalar; `None` for null, objects and arrays.
    pub fn of_value(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => Some(ItemKey::of_text(s)),
            Value::Number(n) => Some(n.as_i64().map_or_else(|| ItemKey::Text(n.to_string().into()), ItemKey::Int)),
            _ => None,
        }
    }

    /// The key as text (`"12"`, a uuid).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            ItemKey::Int(n) => Cow::Owned(n.to_string()),
            ItemKey::Text(s) => Cow::Borrowed(s),
        }
    }
}

/// Whether `s` is an integer as JSON writes one: digits, an optional minus, no leading
/// zero (so `"03"` stays text, as the server compares it).
fn is_canonical_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" && s == "0" || !digits.starts_with('0'))
}

/// The Fx hash step (rustc's): a digest only tells two versions of one item apart, so it
/// needs speed, not resistance to chosen input.
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

/// A digest of an item's text. The server writes an item the same way each time it
/// reads it with the same query (the same members in the same order: an `init`, the
/// events after it and a catch-up read all use the subscription's query), so equal
/// text is equal content; an item written another way would only make one redundant
/// update event, never a missed one.
fn digest(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut h = mix(0, bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(last));
    }
    h
}

/// One item as the session's tracker sees it: its key and a digest of its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scanned {
    /// The item's primary key, when it has one.
    pub key: Option<ItemKey>,
    /// The digest of the whole item.
    pub digest: u64,
}

/// The key a scalar JSON value (as text) makes.
fn key_of_json(value: &str) -> Option<ItemKey> {
    match value.as_bytes().first()? {
        b'"' => json::scalar_text(value).map(|t| ItemKey::of_text(&t)),
        b'-' | b'0'..=b'9' => Some(
            value.parse::<i64>().map_or_else(|_| ItemKey::of_value(&parse(value)).unwrap_or(ItemKey::Text(value.into())), ItemKey::Int),
        ),
        _ => None,
    }
}

/// The items a [`Tape`] notes of a JSON array, each as its key (from the member
/// `key_field`) and digest, in order. (The frame was checked as it was decoded, and the
/// tape says where each item's members are: nothing is read again.)
pub fn scan_items<'a>(data: &'a str, tape: &'a Tape, key_field: &'a str) -> impl Iterator<Item = Scanned> + 'a {
    tape.items().map(move |item| {
        let key = item.member(data, key_field).and_then(key_of_json);
        Scanned { key, digest: digest(data.get(item.start..item.end).unwrap_or_default()) }
    })
}

/// The keys a JSON array of scalars names (a delete event's data).
pub fn keys_of(data: &str) -> Vec<ItemKey> {
    let mut out = Vec::new();
    if let Some(mut items) = json::Items::of_checked(data) {
        while let Ok(Some(item)) = items.next_item() {
            out.extend(key_of_json(item));
        }
    }
    out
}

/// How many items `data` holds: an array's length; 0 for `null`; 1 for anything else.
pub fn count_items(data: &str) -> usize {
    match json::Items::of_checked(data) {
        Some(mut items) => {
            let mut n = 0;
            while let Ok(Some(_)) = items.next_item() {
                n += 1;
            }
            n
        }
        None if data == "null" => 0,
        None => 1,
    }
}

// ---- reading only some fields

/// Which members of an item to read: names, each taken whole or (for an object) only
/// in part. Built from dotted paths (`user_created.first_name`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    members: Vec<(String, Option<Fields>)>,
}

impl Fields {
    /// The members the dotted `paths` name. A path that names a whole member wins over
    /// paths into it.
    pub fn of_paths<'p>(paths: impl IntoIterator<Item = &'p str>) -> Self {
        let mut f = Fields::default();
        for p in paths {
            f.add(p.split('.'));
        }
        f
    }

    fn add<'p>(&mut self, mut path: impl Iterator<Item = &'p str>) {
        let Some(first) = path.next() else { return };
        let rest: Vec<&str> = path.collect();
        let at = match self.members.iter().position(|(n, _)| n == first) {
            Some(i) => i,
            None => {
                self.members.push((first.to_owned(), Some(Fields::default())));
                self.members.len() - 1
            }
        };
        let slot = &mut self.members[at].1;
        if rest.is_empty() {
            *slot = None;
        } else if let Some(sub) = slot {
            sub.add(rest.into_iter());
        }
    }

    /// `data` (an item, or an array of items) with only these members of each item;
    /// other values as they are.
    pub fn read(&self, data: &str) -> Value {
        let mut de = serde_json::Deserializer::from_str(data);
        Pruned { fields: self, depth: 0 }.deserialize(&mut de).unwrap_or(Value::Null)
    }
}

/// Reads a value keeping only `fields` of each object at depth 0 (the data's items, or
/// the data itself when it is one item), recursing into the members that ask for part.
struct Pruned<'f> {
    fields: &'f Fields,
    /// 0 for the data, whose arrays hold items; 1 inside an item.
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        if self.depth == 0 {
            // The data's items.
            while let Some(v) = seq.next_element_seed(Pruned { fields: self.fields, depth: 0 })? {
                out.push(v);
            }
        } else {
            // An array inside an item that asked for part of it: taken whole.
            while let Some(v) = seq.next_element::<Value>()? {
                out.push(v);
            }
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(name) = map.next_key_seed(Wanted(self.fields))? {
            match name {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some((name, None)) => {
                    let v = map.next_value::<Value>()?;
                    out.insert(name.to_owned(), v);
                }
                Some((name, Some(sub))) => {
                    let v = map.next_value_seed(Pruned { fields: sub, depth: 1 })?;
                    out.insert(name.to_owned(), v);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// A member name, looked up among the wanted ones without copying it.
struct Wanted<'f>(&'f Fields);

impl<'de, 'f> DeserializeSeed<'de> for Wanted<'f> {
    type Value = Option<(&'f str, Option<&'f Fields>)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'f> Visitor<'de> for Wanted<'f> {
    type Value = Option<(&'f str, Option<&'f Fields>)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(self.0.members.iter().find(|(n, _)| n == s).map(|(n, sub)| (n.as_str(), sub.as_ref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scan(data: &str, key_field: &str) -> Option<Vec<Scanned>> {
        Some(scan_items(data, &Tape::of(data)?, key_field).collect())
    }

    fn digest_of(v: &Value) -> u64 {
        scan(&format!("[{v}]"), "id").unwrap()[0].digest
    }

    #[test]
    fn a_slice_shares_its_frame_and_splits_into_items() {
        let frame = Utf8Bytes::from(r#"{"data":[{"id":1},{"id":"a"}],"uid":"s-1"}"#);
        let data = RawJson::within(&frame, &frame.as_str()[8..29]);
        assert_eq!(data.as_str(), r#"[{"id":1},{"id":"a"}]"#);
        let tape = Tape::of(data.as_str()).unwrap();
        let items: Vec<_> = tape.items().map(|i| data.part(i.start, i.end)).collect();
        assert_eq!(items.iter().map(RawJson::as_str).collect::<Vec<_>>(), [r#"{"id":1}"#, r#"{"id":"a"}"#]);
        assert_eq!(items[1].parse(), json!({"id":"a"}));
        assert!(Tape::of("{}").is_none());
        // A slice from elsewhere is copied, not pointed into.
        assert_eq!(RawJson::within(&frame, "[1]").as_str(), "[1]");
    }

    #[test]
    fn items_are_scanned_for_their_key_and_a_digest_of_their_content() {
        let s = scan(r#"[{"id":3,"t":"a"},{"id":"u-1","t":"a"},{"t":"no key"},5]"#, "id").unwrap();
        let keys: Vec<_> = s.iter().map(|s| s.key.clone()).collect();
        assert_eq!(keys, [Some(ItemKey::Int(3)), Some(ItemKey::Text("u-1".into())), None, None]);
        // Content counts, at any depth.
        assert_eq!(digest_of(&json!({"id":1,"u":{"a":1,"b":[1,2]}})), digest_of(&json!({"id":1,"u":{"a":1,"b":[1,2]}})));
        assert_ne!(digest_of(&json!({"id":1,"u":{"a":1,"b":[1,2]}})), digest_of(&json!({"id":1,"u":{"a":1,"b":[2,1]}})));
        assert_ne!(digest_of(&json!({"id":1,"t":"a"})), digest_of(&json!({"id":1,"t":"b"})));
        assert_ne!(digest_of(&json!({"id":1,"t":null})), digest_of(&json!({"id":1})));
        assert_ne!(digest_of(&json!({"a":"x","b":"y"})), digest_of(&json!({"a":"y","b":"x"})));
        // Keys written with escapes, or as big or odd numbers.
        let s = scan(r#"[{"i\u0064":"\u0033"},{"id":12345678901234567890},{"id":-4}]"#, "id").unwrap();
        let keys: Vec<_> = s.into_iter().map(|s| s.key).collect();
        assert_eq!(keys, [Some(ItemKey::Int(3)), Some(ItemKey::Text("12345678901234567890".into())), Some(ItemKey::Int(-4))]);
        assert!(scan(r#"{"id":1}"#, "id").is_none());
    }

    #[test]
    fn keys_compare_integers_by_value() {
        assert_eq!(ItemKey::of_text("3"), ItemKey::Int(3));
        assert_eq!(ItemKey::of_text("-3"), ItemKey::Int(-3));
        assert_eq!(ItemKey::of_text("0"), ItemKey::Int(0));
        for text in ["03", "+3", "-0", "3.0", "abc", "99999999999999999999"] {
            assert_eq!(ItemKey::of_text(text), ItemKey::Text(text.into()), "{text}");
        }
        assert_eq!(keys_of(r#"["3",4,"u-1",null]"#), [ItemKey::Int(3), ItemKey::Int(4), ItemKey::Text("u-1".into())]);
        assert_eq!(ItemKey::Int(12).text(), "12");
    }

    #[test]
    fn items_are_counted_without_being_built() {
        assert_eq!(count_items(r#"[{"a":[1,2]},{},3]"#), 3);
        assert_eq!(count_items("[]"), 0);
        assert_eq!(count_items("null"), 0);
        assert_eq!(count_items(r#"{"id":1}"#), 1);
    }

    #[test]
    fn only_the_named_fields_are_read() {
        let f = Fields::of_paths(["id", "text", "user_created.first_name", "user_created.id", "file"]);
        let data = r#"[{"id":1,"text":"hi","other":{"deep":[1,2,3]},"user_created":{"id":"u","first_name":"Kevin","last_name":"K"},"file":{"id":"f","size":3}},
                       {"id":2,"text":"yo","user_created":"u-2","file":null}]"#;
        assert_eq!(
            f.read(data),
            json!([
                {"id":1,"text":"hi","user_created":{"id":"u","first_name":"Kevin"},"file":{"id":"f","size":3}},
                {"id":2,"text":"yo","user_created":"u-2","file":null}
            ])
        );
        // One item as the data; an array inside an item is taken whole.
        assert_eq!(Fields::of_paths(["a.b"]).read(r#"{"a":[{"b":1,"c":2}],"z":1}"#), json!({"a":[{"b":1,"c":2}]}));
        // A whole member wins over a path into it, in either order.
        assert_eq!(Fields::of_paths(["u.a", "u"]), Fields::of_paths(["u", "u.a"]));
        assert_eq!(Fields::of_paths(["u", "u.a"]).read(r#"{"u":{"a":1,"b":2}}"#), json!({"u":{"a":1,"b":2}}));
        assert_eq!(f.read("null"), Value::Null);
        assert_eq!(f.read("[1,"), Value::Null);
    }
}
