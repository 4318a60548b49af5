//! What a chat message is read from: an item parsed into a `Value`, or an item still as
//! the server sent it (the event path, where building a `Value` per item cost more than
//! the rest of the delivery; see `protocol::json`). The rules that read a message are
//! written once, over [`Item`].

use std::borrow::Cow;

use serde_json::Value;

use crate::protocol::json::{each_item_with_members, each_member, scalar_text, Members, Str, TapeItem};

/// An item, or a part of one, that a message's fields are read from.
pub(crate) trait Item<'a>: Copy {
    /// The member `name` of an object; `None` for other values.
    fn member(self, name: &str) -> Option<Self>;
    /// A scalar's text (a number as written, `true`/`false`); `None` for `null`,
    /// objects and arrays.
    fn text(self) -> Option<Cow<'a, str>>;
    /// Whether this is an object.
    fn is_object(self) -> bool;
    /// Whether this is `null`.
    fn is_null(self) -> bool;
    /// The whole value, parsed (for the rare part read whole, like an attachment).
    fn value(self) -> Value;
}

fn value_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

impl<'a> Item<'a> for &'a Value {
    fn member(self, name: &str) -> Option<Self> {
        self.as_object()?.get(name)
    }
    fn text(self) -> Option<Cow<'a, str>> {
        value_text(self)
    }
    fn is_object(self) -> bool {
        self.is_object()
    }
    fn is_null(self) -> bool {
        Value::is_null(self)
    }
    fn value(self) -> Value {
        self.clone()
    }
}

/// An item as JSON text. The item itself is read once into the list of its members
/// (a message reads up to nine of them); what lies deeper is read when asked for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Raw<'a, 'm> {
    /// An object whose members were read, and its text.
    Read(&'m [(Str<'a>, &'a str)], &'a str),
    /// An object whose members a tape notes, in the text of its array.
    Noted(TapeItem<'m>, &'a str),
    /// Any value, not read yet.
    Text(&'a str),
}

/// The members of the object `item`, or `None` when it is not one (or not JSON).
pub(crate) fn members_of(item: &str) -> Option<Vec<(Str<'_>, &str)>> {
    if !item.trim_start().starts_with('{') {
        return None;
    }
    let mut out = Vec::with_capacity(12);
    each_member(item, |name, value| {
        out.push((name, value));
        true
    });
    Some(out)
}

impl<'a> Raw<'a, '_> {
    /// The JSON text of the item or part.
    pub(crate) fn json(self) -> &'a str {
        match self {
            Raw::Read(_, text) | Raw::Text(text) => text,
            Raw::Noted(item, array) => &array[item.start..item.end],
        }
    }
}

impl<'a> Item<'a> for Raw<'a, '_> {
    fn member(self, name: &str) -> Option<Self> {
        match self {
            Raw::Read(members, _) => members.iter().rev().find(|(n, _)| n.is(name)).map(|(_, v)| Raw::Text(v)),
            Raw::Noted(item, array) => item.member(array, name).map(Raw::Text),
            Raw::Text(text) => Members::find(text, name).map(Raw::Text),
        }
    }
    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Raw::Read(..) | Raw::Noted(..) => None,
            Raw::Text(text) => scalar_text(text),
        }
    }
    fn is_object(self) -> bool {
        match self {
            Raw::Read(..) | Raw::Noted(..) => true,
            Raw::Text(text) => text.starts_with('{'),
        }
    }
    fn is_null(self) -> bool {
        matches!(self, Raw::Text("null"))
    }
    fn value(self) -> Value {
        crate::protocol::raw::parse(self.json())
    }
}

/// The members of each object item of JSON data (an array's elements, or the data
/// itself when it is one object), with the item's text; each item read once.
pub(crate) type ItemMembers<'a> = (&'a str, Vec<(Str<'a>, &'a str)>);

/// See [`ItemMembers`].
pub(crate) fn item_members(data: &str) -> Vec<ItemMembers<'_>> {
    match data.as_bytes().first() {
        Some(b'[') => {
            let mut out = Vec::new();
            each_item_with_members(data, |item, members| out.extend(members.map(|m| (item, m))));
            out
        }
        _ => members_of(data).into_iter().map(|m| (data, m)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_parsed_items_read_alike() {
        let text = r#"{"id":5,"t":"a\"b","n":1.5,"b":false,"z":null,"u":{"id":"u-1","name":"K"},"id":6}"#;
        let value: Value = serde_json::from_str(text).unwrap();
        let members = members_of(text).unwrap();
        let raw = Raw::Read(&members, text);
        for name in ["id", "t", "n", "b", "z", "u", "missing"] {
            let (r, v) = (raw.member(name), (&value).member(name));
            assert_eq!(r.and_then(Item::text), v.and_then(Item::text), "{name}");
            assert_eq!(r.map(Item::is_object), v.map(Item::is_object), "{name}");
            assert_eq!(r.map(Item::is_null), v.map(Item::is_null), "{name}");
        }
        assert_eq!(raw.member("u").and_then(|u| u.member("name")).and_then(Item::text).as_deref(), Some("K"));
        let lens = |data| item_members(data).iter().map(|(_, m)| m.len()).collect::<Vec<_>>();
        assert_eq!(lens(r#"[{"a":1,"b":2}, 2, {}]"#), [2, 0]);
        assert_eq!(lens(r#"{"a":1}"#), [1]);
        assert!(lens("null").is_empty());
        assert!(members_of("[1]").is_none());
    }
}
