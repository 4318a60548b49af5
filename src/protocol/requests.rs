//! The requests a user composes, a subscription and an items call. The same types travel
//! inside [`ClientMessage`], so what the Rust API builds is exactly what goes on the wire.

use serde_json::{Map, Value};

use super::client::{ClientMessage, EventFilter, ItemAction};
use super::codes::ErrorCode;
use crate::error::{Error, Result};

/// Whether `collection` is one of Directus' own. The server refuses them over `items`
/// (`INVALID_COLLECTION`) but lets them be subscribed to.
pub fn is_system_collection(collection: &str) -> bool {
    collection.starts_with("directus_")
}

/// The parts both requests have: a collection, a query and the key field.
macro_rules! collection_query_key {
    ($request:ident) => {
        impl $request {
            /// A Directus query (`fields`, `filter`, `sort`, `limit`, ...).
            pub fn query(mut self, query: Value) -> Self {
                self.query = Some(query);
                self
            }

            /// The field that holds each item's key (default `id`, the primary key); not
            /// sent. The session tracks items by it to deliver what was missed across a
            /// reconnect exactly once, and a create whose items carry it can be retried
            /// safely after a lost connection. Another unique field (such as a client
            /// key on an integer-keyed collection) works too.
            pub fn key_field(mut self, field: impl Into<String>) -> Self {
                self.key_field = field.into();
                self
            }

            /// The collection.
            pub fn collection_name(&self) -> &str {
                &self.collection
            }

            /// The key field.
            pub fn key_field_name(&self) -> &str {
                &self.key_field
            }
        }
    };
}

collection_query_key!(SubscribeRequest);
collection_query_key!(ItemsRequest);

/// What to subscribe to: a collection, optionally one item, one kind of event and a query.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscribeRequest {
    pub(crate) collection: String,
    pub(crate) event: Option<EventFilter>,
    pub(crate) item: Option<Value>,
    pub(crate) query: Option<Value>,
    pub(crate) key_field: String,
}

impl SubscribeRequest {
    /// Every event of `collection`.
    pub fn new(collection: impl Into<String>) -> Self {
        SubscribeRequest { collection: collection.into(), event: None, item: None, query: None, key_field: "id".into() }
    }

    /// Only events of this kind (the server then sends an `init` without data).
    pub fn event(mut self, event: EventFilter) -> Self {
        self.event = Some(event);
        self
    }

    /// Only the item with this primary key.
    pub fn item(mut self, id: impl Into<Value>) -> Self {
        self.item = Some(id.into());
        self
    }

    /// The query, if one was set.
    pub fn query_value(&self) -> Option<&Value> {
        self.query.as_ref()
    }

    /// Whether the `init` of this subscription lists its items, so that the session can
    /// compare what it delivered with what the server has (no event filter, no single item).
    pub fn lists_items(&self) -> bool {
        self.event.is_none() && self.item.is_none()
    }

    /// Whether the query can leave items out of the `init` for other reasons than their
    /// deletion: any `limit` but -1 (the server applies 100 when none is given).
    pub fn is_windowed(&self) -> bool {
        self.query.as_ref().and_then(|q| q.get("limit")).and_then(Value::as_i64) != Some(-1)
    }
}

/// An `items` request: one of the four actions on a collection.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemsRequest {
    pub(crate) collection: String,
    pub(crate) action: ItemAction,
    pub(crate) data: Option<Value>,
    pub(crate) id: Option<Value>,
    pub(crate) ids: Option<Vec<Value>>,
    pub(crate) query: Option<Value>,
    pub(crate) key_field: String,
    /// An earlier attempt of this keyed create may have been applied (see
    /// [`ItemsRequest::repeated`]); not sent.
    pub(crate) repeated: bool,
}

impl ItemsRequest {
    /// A request of any action; add `data`, `id`, `ids`, `query` as it needs.
    pub fn new(collection: impl Into<String>, action: ItemAction) -> Self {
        ItemsRequest {
            collection: collection.into(),
            action,
            data: None,
            id: None,
            ids: None,
            query: None,
            key_field: "id".into(),
            repeated: false,
        }
    }

    /// Marks a keyed create as another attempt of one sent before (by an earlier run of
    /// the app, or before a timeout): if the server says its key exists already, that
    /// is the earlier attempt, and the answer is the item read back, as for a create
    /// resent after a lost connection.
    pub(crate) fn repeated(mut self) -> Self {
        self.repeated = true;
        self
    }

    /// Create one item (`data` an object) or several (`data` an array).
    pub fn create(collection: impl Into<String>, data: Value) -> Self {
        Self::new(collection, ItemAction::Create).data(data)
    }

    /// Read items; narrow with `id`, `ids` or `query`.
    pub fn read(collection: impl Into<String>) -> Self {
        Self::new(collection, ItemAction::Read)
    }

    /// Update with `data`; choose the items with `id`, `ids` or `query`.
    pub fn update(collection: impl Into<String>, data: Value) -> Self {
        Self::new(collection, ItemAction::Update).data(data)
    }

    /// Delete; choose the items with `id`, `ids` or `query` (the server requires one).
    pub fn delete(collection: impl Into<String>) -> Self {
        Self::new(collection, ItemAction::Delete)
    }

    /// The payload of a create or update.
    pub fn data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// One primary key.
    pub fn id(mut self, id: impl Into<Value>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Several primary keys.
    pub fn ids(mut self, ids: Vec<Value>) -> Self {
        self.ids = Some(ids);
        self
    }

    /// The action.
    pub fn action_kind(&self) -> ItemAction {
        self.action
    }

    /// The payload of a create or update, if set.
    pub fn data_value(&self) -> Option<&Value> {
        self.data.as_ref()
    }

    /// Builds a request from a JSON payload `{data?, id?, ids?, query?}`, as the C and
    /// Python surfaces pass it.
    pub fn from_payload(collection: &str, action: ItemAction, payload: Value) -> Result<Self> {
        let mut req = Self::new(collection, action);
        match payload {
            Value::Null => {}
            Value::Object(mut m) => {
                req.data = m.remove("data");
                req.id = m.remove("id");
                req.query = m.remove("query");
                req.ids = match m.remove("ids") {
                    None => None,
                    Some(Value::Array(a)) => Some(a),
                    Some(_) => return Err(Error::InvalidArgument("`ids` must be an array".into())),
                };
                if let Some(k) = m.keys().next() {
                    return Err(Error::InvalidArgument(format!("unknown payload key `{k}` (use data, id, ids, query)")));
                }
            }
            _ => return Err(Error::InvalidArgument("the payload must be a JSON object".into())),
        }
        Ok(req)
    }

    /// Checks what the server would refuse anyway, so the caller hears it at once.
    pub fn validate(&self) -> Result<()> {
        if self.collection.is_empty() {
            return Err(Error::InvalidArgument("the collection name is empty".into()));
        }
        Ok(())
    }

    /// The keys of the items this create carries, when every item carries one: such a
    /// create can be sent again safely (a duplicate meets `RECORD_NOT_UNIQUE`).
    pub(crate) fn keys_of_create(&self) -> Option<Vec<Value>> {
        let keyed = |item: &Value| item.get(&self.key_field).filter(|k| !k.is_null()).cloned();
        match (&self.action, &self.data) {
            (ItemAction::Create, Some(Value::Object(_))) => self.data.as_ref().and_then(keyed).map(|k| vec![k]),
            (ItemAction::Create, Some(Value::Array(items))) if !items.is_empty() => items.iter().map(keyed).collect(),
            _ => None,
        }
    }

    /// Whether this create makes one item (its `data` is an object, not an array).
    pub(crate) fn creates_one(&self) -> bool {
        matches!(self.data, Some(Value::Object(_)))
    }
}

impl ClientMessage {
    /// The read that fetches what a create had stored before its answer was lost: the
    /// items whose `key_field` (the primary key, or another unique field such as a
    /// client key) holds one of `keys`. Its answer is a list; see [`read_back_answer`].
    pub fn read_back(collection: &str, key_field: &str, keys: &[Value], uid: String) -> ClientMessage {
        let query = serde_json::json!({ "filter": { key_field: { "_in": keys } }, "limit": -1 });
        ClientMessage::Items { request: ItemsRequest::read(collection).query(query), uid: Some(uid) }
    }

    /// The read that finds items created between the server computing a subscription's
    /// `init` and registering it: the subscription's own query, with its key field.
    /// `None` where no such read can be made (a system collection, which `items`
    /// refuses, or a subscription whose `init` has no item list).
    pub fn catch_up(subscription: &SubscribeRequest, uid: String) -> Option<ClientMessage> {
        if !subscription.lists_items() || is_system_collection(&subscription.collection) {
            return None;
        }
        let mut query = subscription.query.clone().unwrap_or_else(|| Value::Object(Map::new()));
        if let Some(Value::Array(fields)) = query.get_mut("fields") {
            let key = &subscription.key_field;
            if !fields.iter().any(|f| f.as_str().is_some_and(|f| f == "*" || f == key)) {
                fields.push(Value::String(key.clone()));
            }
        }
        Some(ClientMessage::Items { request: ItemsRequest::read(subscription.collection.clone()).query(query), uid: Some(uid) })
    }
}

impl ClientMessage {
    /// A read that fails in the server's data layer on every Directus version (a filter
    /// with an operator that does not exist: `INVALID_QUERY`), on the collection `collection`
    /// whose key field is `key_field`. Directus 12.4 and later answer it with the uid, as
    /// every failed request; earlier versions answer without, so a client must send their
    /// requests one at a time to know which one failed. See [`probe_answer`].
    pub fn uid_probe(collection: &str, key_field: &str, uid: String) -> ClientMessage {
        let query = serde_json::json!({ "filter": { key_field: { "_directus_chat_probe": 1 } }, "limit": 1 });
        ClientMessage::Items { request: ItemsRequest::read(collection).query(query), uid: Some(uid) }
    }
}

/// What the answer to [`ClientMessage::uid_probe`], carrying its uid, says: `Some(true)`
/// when the server echoes uids on every error (the probe failed in the data layer and
/// kept its uid), `None` when it says nothing (the collection is missing, which every
/// version reports with the uid, or the server read something after all).
pub fn probe_answer(error: Option<&ErrorCode>) -> Option<bool> {
    match error {
        Some(ErrorCode::InvalidQuery | ErrorCode::Forbidden) => Some(true),
        _ => None,
    }
}

/// The answer a create would have had, from the answer of its read-back: the item for a
/// create of one item, the list for a create of several. `None` when the items are not
/// there (deleted since, or not readable).
pub fn read_back_answer(data: Value, one: bool) -> Option<Value> {
    match data {
        Value::Array(mut items) if one => (items.len() == 1).then(|| items.remove(0)),
        Value::Array(items) if !items.is_empty() => Some(Value::Array(items)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keyed_creates_and_their_read_back() {
        let one = ItemsRequest::create("m", json!({"id":"u1","text":"x"}));
        assert_eq!(one.keys_of_create(), Some(vec![json!("u1")]));
        assert!(one.creates_one());
        assert_eq!(ItemsRequest::create("m", json!({"text":"x"})).keys_of_create(), None);
        assert_eq!(ItemsRequest::create("m", json!([{"id":"a"},{"id":"b"}])).keys_of_create(), Some(vec![json!("a"), json!("b")]));
        assert_eq!(ItemsRequest::create("m", json!([{"id":"a"},{"x":1}])).keys_of_create(), None);
        assert_eq!(ItemsRequest::read("m").keys_of_create(), None);
        let by_client_key = ItemsRequest::create("m", json!({"client_key":"k"})).key_field("client_key");
        assert_eq!(by_client_key.keys_of_create(), Some(vec![json!("k")]));

        let rb = ClientMessage::read_back("m", "id", &[json!("u1")], "b-1".into());
        assert_eq!(
            rb.to_json(),
            json!({"type":"items","collection":"m","action":"read","query":{"filter":{"id":{"_in":["u1"]}},"limit":-1},"uid":"b-1"})
        );
        assert_eq!(read_back_answer(json!([{"id":"u1"}]), true), Some(json!({"id":"u1"})));
        assert_eq!(read_back_answer(json!([{"id":"a"},{"id":"b"}]), false), Some(json!([{"id":"a"},{"id":"b"}])));
        assert_eq!(read_back_answer(json!([]), true), None);
    }

    #[test]
    fn catch_up_reads_the_subscription_query_with_its_key() {
        let sub = SubscribeRequest::new("messages").query(json!({"fields":["text"],"limit":-1}));
        let read = ClientMessage::catch_up(&sub, "c-1".into()).unwrap();
        assert_eq!(
            read.to_json(),
            json!({"type":"items","collection":"messages","action":"read","query":{"fields":["text","id"],"limit":-1},"uid":"c-1"})
        );
        assert!(ClientMessage::catch_up(&SubscribeRequest::new("directus_users"), "c-2".into()).is_none());
        assert!(ClientMessage::catch_up(&SubscribeRequest::new("m").item(3), "c-3".into()).is_none());
        assert!(is_system_collection("directus_files") && !is_system_collection("messages"));
    }

    #[test]
    fn windows_and_payloads() {
        assert!(SubscribeRequest::new("m").is_windowed());
        assert!(!SubscribeRequest::new("m").query(json!({"limit": -1})).is_windowed());
        let r = ItemsRequest::from_payload("m", ItemAction::Update, json!({"id": 1, "data": {"a": 1}})).unwrap();
        assert_eq!(r, ItemsRequest::update("m", json!({"a": 1})).id(1));
        assert!(ItemsRequest::from_payload("m", ItemAction::Read, json!({"nope": 1})).is_err());
        assert!(ItemsRequest::from_payload("m", ItemAction::Read, json!({"ids": 1})).is_err());
        assert!(ItemsRequest::read("").validate().is_err());
    }
}
