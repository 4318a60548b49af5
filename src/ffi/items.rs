//! Any field of any item of an event, from C, without a JSON parser: items are addressed
//! by index and their fields by JSON pointer (RFC 6901: `""` is the item itself,
//! `"/user_created/first_name"` a nested field, `"/tags/0"` an array element, `~1`
//! stands for `/` and `~0` for `~` in a name).
//!
//! An event's items are the elements of its data when that is a list (the items of a
//! subscription event or of a read, the keys of a delete event), else the data itself
//! (the item of a create or update answer, the message of an unknown event), and none
//! when there is no data. For chat events they are in message order, so item `i` is
//! chat message `i`.

use std::ffi::c_char;

use serde_json::Value;

use super::args::{opt_str_arg, Out};
use super::event::{c, dchat_event, with_event};

impl dchat_event {
    fn items(&self) -> &[Value] {
        match self.data.value() {
            Value::Array(items) => items,
            Value::Null => &[],
            other => std::slice::from_ref(other),
        }
    }

    /// The value at `pointer` in item `index`.
    fn at(&self, index: usize, pointer: *const c_char) -> Option<(&Value, &str)> {
        let pointer = opt_str_arg(pointer, "pointer").ok()??;
        Some((self.items().get(index)?.pointer(pointer)?, pointer))
    }

    /// A string kept as long as the event, made once per item, pointer and form.
    fn keep(&self, index: usize, key: String, text: impl FnOnce() -> String) -> *const c_char {
        let mut strings = self.strings.lock();
        strings.entry((index, key.into_boxed_str())).or_insert_with(|| c(&text())).as_ptr()
    }
}

/// How many items the event holds (see the module documentation of `items`); 0 for a
/// NULL event.
#[no_mangle]
pub extern "C" fn dchat_event_item_count(event: *const dchat_event) -> usize {
    with_event(event, 0, |e| e.items().len())
}

/// The string at JSON pointer `pointer` in item `index` (e.g. `"/text"`,
/// `"/user_created/first_name"`); NULL when there is none there, it is not a string,
/// or an argument is NULL or invalid. Borrowed from the event: valid while it lives.
#[no_mangle]
pub extern "C" fn dchat_event_item_string(event: *const dchat_event, index: usize, pointer: *const c_char) -> *const c_char {
    with_event(event, std::ptr::null(), |e| match e.at(index, pointer) {
        Some((Value::String(s), p)) => e.keep(index, p.to_owned(), || s.clone()),
        _ => std::ptr::null(),
    })
}

/// The number at `pointer` in item `index`, written to `*out`; returns false (and
/// writes nothing) when there is none there or it is not a number.
#[no_mangle]
pub extern "C" fn dchat_event_item_number(event: *const dchat_event, index: usize, pointer: *const c_char, out: *mut f64) -> bool {
    with_event(event, false, |e| {
        let (Some(n), Ok(out)) = (e.at(index, pointer).and_then(|(v, _)| v.as_f64()), Out::new(out, "out")) else { return false };
        out.write(n);
        true
    })
}

/// The integer at `pointer` in item `index` (an integer key, a count), written to
/// `*out`; returns false (and writes nothing) when there is none there or it is not an
/// integer that fits in 64 bits.
#[no_mangle]
pub extern "C" fn dchat_event_item_int(event: *const dchat_event, index: usize, pointer: *const c_char, out: *mut i64) -> bool {
    with_event(event, false, |e| {
        let (Some(n), Ok(out)) = (e.at(index, pointer).and_then(|(v, _)| v.as_i64()), Out::new(out, "out")) else { return false };
        out.write(n);
        true
    })
}

/// The boolean at `pointer` in item `index`, written to `*out`; returns false (and
/// writes nothing) when there is none there or it is not a boolean. The integers 0 and
/// 1 count as booleans: Directus on SQLite sends boolean fields that way.
#[no_mangle]
pub extern "C" fn dchat_event_item_bool(event: *const dchat_event, index: usize, pointer: *const c_char, out: *mut bool) -> bool {
    with_event(event, false, |e| {
        let boolean = |v: &Value| match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_u64() {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ => None,
            },
            _ => None,
        };
        let (Some(b), Ok(out)) = (e.at(index, pointer).and_then(|(v, _)| boolean(v)), Out::new(out, "out")) else { return false };
        out.write(b);
        true
    })
}

/// Whether item `index` has a null at `pointer` (present, and null: a message never
/// edited has a null `/date_updated`).
#[no_mangle]
pub extern "C" fn dchat_event_item_is_null(event: *const dchat_event, index: usize, pointer: *const c_char) -> bool {
    with_event(event, false, |e| matches!(e.at(index, pointer), Some((Value::Null, _))))
}

/// Whether item `index` has anything at `pointer` (null included).
#[no_mangle]
pub extern "C" fn dchat_event_item_exists(event: *const dchat_event, index: usize, pointer: *const c_char) -> bool {
    with_event(event, false, |e| e.at(index, pointer).is_some())
}

/// How many elements the array at `pointer` in item `index` has; 0 when there is none
/// there or it is not an array.
#[no_mangle]
pub extern "C" fn dchat_event_item_array_len(event: *const dchat_event, index: usize, pointer: *const c_char) -> usize {
    with_event(event, 0, |e| e.at(index, pointer).and_then(|(v, _)| v.as_array()).map_or(0, Vec::len))
}

/// Whatever is at `pointer` in item `index` as JSON text (`"\"text\""`, `12`, `{...}`);
/// NULL when there is nothing there. Borrowed from the event: valid while it lives.
#[no_mangle]
pub extern "C" fn dchat_event_item_json(event: *const dchat_event, index: usize, pointer: *const c_char) -> *const c_char {
    with_event(event, std::ptr::null(), |e| match e.at(index, pointer) {
        // A NUL starts the key: no pointer from C contains one, so it cannot collide.
        Some((v, p)) => e.keep(index, format!("\0{p}"), || v.to_string()),
        None => std::ptr::null(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::state::ChatState;
    use crate::chat::ChatConfig;
    use crate::event::Event;
    use crate::protocol::SubscriptionKind;
    use serde_json::json;
    use std::ffi::CStr;

    fn ev(data: Value) -> dchat_event {
        let chat = ChatState::new(ChatConfig::default(), 10);
        dchat_event::new(Event::Subscription { uid: "s-1".into(), kind: SubscriptionKind::Create, data: data.into() }, chat)
    }

    fn text(p: *const c_char) -> Option<String> {
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
    }

    #[test]
    fn fields_by_pointer_with_their_types() {
        let e = ev(
            json!([{"id":7,"text":"hi","user_created":{"first_name":"Kevin"},"date_updated":null,"n":1.5,"ok":true,"tags":["a","b"],"a/b":"slash"}]),
        );
        assert_eq!(dchat_event_item_count(&e), 1);
        let s = dchat_event_item_string(&e, 0, c"/user_created/first_name".as_ptr());
        assert_eq!(text(s).as_deref(), Some("Kevin"));
        assert_eq!(s, dchat_event_item_string(&e, 0, c"/user_created/first_name".as_ptr()), "made once, same pointer");
        assert_eq!(text(dchat_event_item_string(&e, 0, c"/a~1b".as_ptr())).as_deref(), Some("slash"));
        assert!(dchat_event_item_string(&e, 0, c"/id".as_ptr()).is_null(), "not a string");
        assert!(dchat_event_item_string(&e, 1, c"/text".as_ptr()).is_null(), "no such item");
        assert!(dchat_event_item_string(&e, 0, std::ptr::null()).is_null());
        let mut i = 0i64;
        assert!(dchat_event_item_int(&e, 0, c"/id".as_ptr(), &mut i) && i == 7);
        assert!(!dchat_event_item_int(&e, 0, c"/n".as_ptr(), &mut i));
        let mut f = 0f64;
        assert!(dchat_event_item_number(&e, 0, c"/n".as_ptr(), &mut f) && f == 1.5);
        assert!(!dchat_event_item_number(&e, 0, c"/text".as_ptr(), std::ptr::null_mut()));
        let mut b = false;
        assert!(dchat_event_item_bool(&e, 0, c"/ok".as_ptr(), &mut b) && b);
        let sqlite = ev(json!([{"typing":0,"n":2}]));
        assert!(dchat_event_item_bool(&sqlite, 0, c"/typing".as_ptr(), &mut b) && !b, "0 and 1 from SQLite");
        assert!(!dchat_event_item_bool(&sqlite, 0, c"/n".as_ptr(), &mut b));
        assert!(dchat_event_item_is_null(&e, 0, c"/date_updated".as_ptr()));
        assert!(!dchat_event_item_is_null(&e, 0, c"/missing".as_ptr()));
        assert!(dchat_event_item_exists(&e, 0, c"/date_updated".as_ptr()));
        assert!(!dchat_event_item_exists(&e, 0, c"/missing".as_ptr()));
        assert_eq!(dchat_event_item_array_len(&e, 0, c"/tags".as_ptr()), 2);
        assert_eq!(text(dchat_event_item_string(&e, 0, c"/tags/1".as_ptr())).as_deref(), Some("b"));
        assert_eq!(text(dchat_event_item_json(&e, 0, c"/tags".as_ptr())).as_deref(), Some(r#"["a","b"]"#));
        assert_eq!(text(dchat_event_item_json(&e, 0, c"/id".as_ptr())).as_deref(), Some("7"));
        assert_eq!(dchat_event_item_count(std::ptr::null()), 0);
    }

    #[test]
    fn a_single_object_is_one_item_and_null_none() {
        assert_eq!(dchat_event_item_count(&ev(json!({"id":1}))), 1);
        assert_eq!(dchat_event_item_count(&ev(Value::Null)), 0);
        let keys = ev(json!(["4", 5]));
        assert_eq!(text(dchat_event_item_string(&keys, 0, c"".as_ptr())).as_deref(), Some("4"));
    }
}
