//! The data of a subscription event, read when and where it is read.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use once_cell::sync::OnceCell;
use serde_json::Value;

use crate::protocol::json::Tape;
use crate::protocol::raw::{count_items, Fields, RawJson};

/// The items of a subscription event (or the keys of a `delete`), as the server sent
/// them.
///
/// Nothing is parsed until it is read, and then on the reading thread: the session's
/// I/O thread only keys and digests the items (see [`crate::protocol::raw`]), and the
/// text stays in the frame it came in, shared rather than copied. Reading it:
/// - as a `serde_json::Value`: `Data` dereferences to one (parsed on first use, then
///   kept), so `data[0]["text"]`, `data.as_array()` and `&data` where a `&Value` is
///   expected all work;
/// - as text: [`Data::json`];
/// - a few fields of each item, without building the rest: [`Data::select`];
/// - as chat messages, each field read from the frame:
///   [`crate::ChatConfig::read_messages`];
/// - how many items: [`Data::len`], without parsing them.
pub struct Data {
    repr: Repr,
    /// Boxed: events are moved several times on their way to the user, and most are
    /// never parsed.
    parsed: OnceCell<Box<Value>>,
}

#[derive(Clone)]
enum Repr {
    /// The data as it came, one slice of a frame.
    Raw(RawJson),
    /// The same, with where its items and their members are (see [`Tape`]).
    Noted(RawJson, Tape),
    /// Some items of an array, each a slice (what the session keeps of an `init` after a
    /// reconnect: only what the user has not seen).
    Items(Vec<RawJson>),
    /// Made here, not read from a frame: `parsed` holds it (`null` while it is empty).
    Value,
}

impl Data {
    /// No data (`null`): an `init` of a subscription that asked for none.
    pub fn null() -> Self {
        // Nothing boxed until it is read: every C event starts with one.
        Data { repr: Repr::Value, parsed: OnceCell::new() }
    }

    /// Data as the server sent it.
    pub fn raw(raw: RawJson) -> Self {
        Data { repr: Repr::Raw(raw), parsed: OnceCell::new() }
    }

    /// Data as the server sent it, with where its items are (noted as it was read).
    pub(crate) fn noted(raw: RawJson, tape: Tape) -> Self {
        Data { repr: Repr::Noted(raw, tape), parsed: OnceCell::new() }
    }

    /// The text and its tape, when the data has one and was not parsed yet.
    pub(crate) fn tape(&self) -> Option<(&str, &Tape)> {
        match (&self.repr, self.parsed.get()) {
            (Repr::Noted(raw, tape), None) => Some((raw.as_str(), tape)),
            _ => None,
        }
    }

    /// An array of these items.
    pub fn items(items: Vec<RawJson>) -> Self {
        Data { repr: Repr::Items(items), parsed: OnceCell::new() }
    }

    /// The data as a JSON value, parsed on first use.
    pub fn value(&self) -> &Value {
        self.parsed.get_or_init(|| {
            Box::new(match &self.repr {
                Repr::Raw(raw) | Repr::Noted(raw, _) => raw.parse(),
                Repr::Items(items) => Value::Array(items.iter().map(RawJson::parse).collect()),
                Repr::Value => Value::Null,
            })
        })
    }

    /// The data as a JSON value, parsed unless it was already.
    pub fn into_value(self) -> Value {
        match self.parsed.into_inner() {
            Some(v) => *v,
            None => match self.repr {
                Repr::Raw(raw) | Repr::Noted(raw, _) => raw.parse(),
                Repr::Items(items) => Value::Array(items.iter().map(RawJson::parse).collect()),
                Repr::Value => Value::Null,
            },
        }
    }

    /// The JSON text (as the server sent it, when it was not parsed into something else).
    pub fn json(&self) -> Cow<'_, str> {
        match &self.repr {
            Repr::Raw(raw) | Repr::Noted(raw, _) => Cow::Borrowed(raw.as_str()),
            Repr::Items(items) => {
                let mut s = String::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 2);
                s.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(item.as_str());
                }
                s.push(']');
                Cow::Owned(s)
            }
            Repr::Value => Cow::Owned(self.value().to_string()),
        }
    }

    /// The JSON text as the server sent it, when it was not parsed yet (reading it raw
    /// is then cheaper than parsing it; otherwise the value is at hand).
    pub(crate) fn unparsed(&self) -> Option<Cow<'_, str>> {
        match (&self.repr, self.parsed.get()) {
            (Repr::Raw(_) | Repr::Noted(..) | Repr::Items(_), None) => Some(self.json()),
            _ => None,
        }
    }

    /// How many items the data holds: an array's length, 0 for `null`, 1 for a single
    /// item (or key). Counted without building them.
    pub fn len(&self) -> usize {
        if let Some(v) = self.parsed.get() {
            return match &**v {
                Value::Array(a) => a.len(),
                Value::Null => 0,
                _ => 1,
            };
        }
        match &self.repr {
            Repr::Noted(_, tape) => tape.len(),
            Repr::Raw(raw) => count_items(raw.as_str()),
            Repr::Items(items) => items.len(),
            Repr::Value => 0,
        }
    }

    /// Whether the data holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The items with only the fields the dotted `paths` name (`["text",
    /// "user_created.first_name"]`), read without building the rest: the cheap way to
    /// look at a few fields of many events. Data that is one item gives one object;
    /// values that are not objects come as they are.
    pub fn select(&self, paths: &[&str]) -> Value {
        self.read(&Fields::of_paths(paths.iter().copied())).into_owned()
    }

    /// [`Data::select`] with the fields already made; borrows the parsed value when there
    /// is one.
    pub(crate) fn read(&self, fields: &Fields) -> Cow<'_, Value> {
        if let Some(v) = self.parsed.get() {
            return Cow::Borrowed(&**v);
        }
        match &self.repr {
            Repr::Raw(raw) | Repr::Noted(raw, _) => Cow::Owned(fields.read(raw.as_str())),
            Repr::Items(items) => Cow::Owned(Value::Array(items.iter().map(|i| fields.read(i.as_str())).collect())),
            Repr::Value => Cow::Borrowed(self.value()),
        }
    }

    /// The size of the data in bytes as the server sent it (an estimate for data made
    /// here): what it costs to hold the event.
    pub(crate) fn weight(&self) -> usize {
        match &self.repr {
            Repr::Raw(raw) | Repr::Noted(raw, _) => raw.len(),
            Repr::Items(items) => items.iter().map(RawJson::len).sum(),
            Repr::Value => 64,
        }
    }
}

impl Default for Data {
    /// `null`.
    fn default() -> Self {
        Data::null()
    }
}

impl From<Value> for Data {
    fn from(v: Value) -> Self {
        Data { repr: Repr::Value, parsed: OnceCell::with_value(Box::new(v)) }
    }
}

impl Deref for Data {
    type Target = Value;
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl Clone for Data {
    fn clone(&self) -> Self {
        Data { repr: self.repr.clone(), parsed: self.parsed.clone() }
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl PartialEq<Value> for Data {
    fn eq(&self, other: &Value) -> bool {
        self.value() == other
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json())
    }
}

impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_as_a_value_as_text_by_fields_and_by_count() {
        let d = Data::raw(RawJson::new(r#"[{"id":1,"text":"a","x":[1]},{"id":2,"text":"b"}]"#));
        assert_eq!(d.len(), 2);
        assert_eq!(d.select(&["text"]), json!([{"text":"a"},{"text":"b"}]));
        assert_eq!(d[1]["text"], "b");
        assert_eq!(d.as_array().map(Vec::len), Some(2));
        assert_eq!(d, json!([{"id":1,"text":"a","x":[1]},{"id":2,"text":"b"}]));
        let some = Data::items(vec![RawJson::new(r#"{"id":2}"#), RawJson::new(r#"{"id":3}"#)]);
        assert_eq!(some.json(), r#"[{"id":2},{"id":3}]"#);
        assert_eq!((some.len(), some.clone().into_value()), (2, json!([{"id":2},{"id":3}])));
        assert_eq!((Data::null().len(), Data::null().json().as_ref()), (0, "null"));
        assert_eq!(Data::from(json!({"id":1})).len(), 1);
        assert_eq!(format!("{:?}", Data::raw(RawJson::new("[1]"))), "[1]");
    }
}
