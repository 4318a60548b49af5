//! Which requests may be sent again after the connection was lost before their answer.

use serde_json::Value;

use crate::protocol::{ClientMessage, ItemAction};

/// What to do with a request whose answer was lost with the connection.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Retry {
    /// Fail it: the server may or may not have applied it (a create without a
    /// client-chosen key, a delete).
    Never,
    /// Send it again: doing it twice is the same as once (a read, an update).
    Resend,
    /// Send it again; if the server says the keys exist already (`RECORD_NOT_UNIQUE`),
    /// the first attempt was applied, and reading the keys back gives its answer.
    CreateWithKeys { single: bool, keys: Vec<Value> },
}

/// The retry rule for an `items` message whose items are keyed by `key_field`.
pub(crate) fn retry_for(message: &ClientMessage, key_field: &str) -> Retry {
    let ClientMessage::Items { action, data, .. } = message else { return Retry::Never };
    match (action, data) {
        (ItemAction::Read, _) => Retry::Resend,
        (ItemAction::Update, Some(_)) => Retry::Resend,
        (ItemAction::Create, Some(Value::Object(item))) => match item.get(key_field) {
            Some(k) if !k.is_null() => Retry::CreateWithKeys { single: true, keys: vec![k.clone()] },
            _ => Retry::Never,
        },
        (ItemAction::Create, Some(Value::Array(items))) if !items.is_empty() => {
            let keys: Option<Vec<Value>> = items.iter().map(|i| i.get(key_field).filter(|k| !k.is_null()).cloned()).collect();
            keys.map_or(Retry::Never, |keys| Retry::CreateWithKeys { single: false, keys })
        }
        _ => Retry::Never,
    }
}

/// The read that fetches what a duplicate create had stored.
pub(crate) fn read_back(collection: &str, single: bool, keys: &[Value], uid: String) -> ClientMessage {
    let (id, ids) = if single { (keys.first().cloned(), None) } else { (None, Some(keys.to_vec())) };
    ClientMessage::Items { collection: collection.to_owned(), action: ItemAction::Read, data: None, id, ids, query: None, uid: Some(uid) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(action: ItemAction, data: Option<Value>) -> ClientMessage {
        ClientMessage::Items { collection: "m".into(), action, data, id: None, ids: None, query: None, uid: Some("r-1".into()) }
    }

    #[test]
    fn rules() {
        assert_eq!(retry_for(&items(ItemAction::Read, None), "id"), Retry::Resend);
        assert_eq!(retry_for(&items(ItemAction::Update, Some(json!({"text":"x"}))), "id"), Retry::Resend);
        assert_eq!(retry_for(&items(ItemAction::Delete, None), "id"), Retry::Never);
        assert_eq!(retry_for(&items(ItemAction::Create, Some(json!({"text":"x"}))), "id"), Retry::Never);
        assert_eq!(
            retry_for(&items(ItemAction::Create, Some(json!({"id":"u1","text":"x"}))), "id"),
            Retry::CreateWithKeys { single: true, keys: vec![json!("u1")] }
        );
        assert_eq!(
            retry_for(&items(ItemAction::Create, Some(json!([{"id":"a"},{"id":"b"}]))), "id"),
            Retry::CreateWithKeys { single: false, keys: vec![json!("a"), json!("b")] }
        );
        assert_eq!(retry_for(&items(ItemAction::Create, Some(json!([{"id":"a"},{"x":1}]))), "id"), Retry::Never);
        assert_eq!(retry_for(&ClientMessage::Ping { uid: None }, "id"), Retry::Never);
    }

    #[test]
    fn read_back_shapes() {
        let one = read_back("m", true, &[json!("u1")], "rb-1".into());
        assert_eq!(one.to_json(), json!({"type":"items","collection":"m","action":"read","id":"u1","uid":"rb-1"}));
        let many = read_back("m", false, &[json!("a"), json!("b")], "rb-2".into());
        assert_eq!(many.to_json(), json!({"type":"items","collection":"m","action":"read","ids":["a","b"],"uid":"rb-2"}));
    }
}
