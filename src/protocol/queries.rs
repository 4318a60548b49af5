//! Directus query parts the chat API composes: filters (`_eq`, `_null`, `_lt`, `_and`,
//! `_or`), the `$CURRENT_USER` variable, the users collection. Kept here so that no other
//! layer spells a filter operator.

use serde_json::{json, Map, Value};

use super::requests::SubscribeRequest;

/// Directus' own users collection.
pub const USERS_COLLECTION: &str = "directus_users";

/// The filter variable Directus replaces with the id of the user a request runs as.
pub const CURRENT_USER: &str = "$CURRENT_USER";

/// The key field of Directus' users (the related `id` of an author field).
pub const USER_KEY: &str = "id";

/// The fields of a user the chat reads: its key and the public parts of its profile
/// (the schema kit lets chat users read them).
pub const USER_FIELDS: [&str; 4] = [USER_KEY, "first_name", "last_name", "email"];

/// A Directus filter object, built from the few operators the chat API needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter(Value);

impl Filter {
    /// `field` equals `value`.
    pub fn eq(field: &str, value: impl Into<Value>) -> Filter {
        Filter(json!({ field: { "_eq": value.into() } }))
    }

    /// `field` is null (or absent).
    pub fn is_null(field: &str) -> Filter {
        Filter(json!({ field: { "_null": true } }))
    }

    /// `field` is less than `value`.
    pub fn lt(field: &str, value: impl Into<Value>) -> Filter {
        Filter(json!({ field: { "_lt": value.into() } }))
    }

    /// `field` is greater than `value`.
    pub fn gt(field: &str, value: impl Into<Value>) -> Filter {
        Filter(json!({ field: { "_gt": value.into() } }))
    }

    /// `field` differs from `value`.
    pub fn neq(field: &str, value: impl Into<Value>) -> Filter {
        Filter(json!({ field: { "_neq": value.into() } }))
    }

    /// Every one of `filters` holds.
    pub fn all(filters: Vec<Filter>) -> Filter {
        Filter(json!({ "_and": filters.into_iter().map(|f| f.0).collect::<Vec<_>>() }))
    }

    /// At least one of `filters` holds.
    pub fn any(filters: Vec<Filter>) -> Filter {
        Filter(json!({ "_or": filters.into_iter().map(|f| f.0).collect::<Vec<_>>() }))
    }

    /// The rows strictly before `(date, key)` in the order "date, then key": a keyset
    /// cursor, so that pages never overlap or skip rows that share a date, whatever is
    /// inserted meanwhile (unlike an offset).
    pub fn before(date_field: &str, key_field: &str, date: &str, key: impl Into<Value>) -> Filter {
        Filter::any(vec![Filter::lt(date_field, date), Filter::all(vec![Filter::eq(date_field, date), Filter::lt(key_field, key)])])
    }

    /// The filter as JSON.
    pub fn into_value(self) -> Value {
        self.0
    }
}

/// The order "newest first" by `date_field`, ties broken by `key_field`: the mirror of
/// [`Filter::before`].
pub fn newest_first(date_field: &str, key_field: &str) -> Value {
    json!([format!("-{date_field}"), format!("-{key_field}")])
}

/// A query: `fields`, optional `filter`, `sort` and `limit`.
pub fn query(fields: Vec<String>, filter: Option<Filter>, sort: Option<Value>, limit: Option<u32>) -> Value {
    let mut q = Map::new();
    q.insert("fields".into(), fields.into_iter().map(Value::String).collect::<Vec<_>>().into());
    if let Some(f) = filter {
        q.insert("filter".into(), f.0);
    }
    if let Some(s) = sort {
        q.insert("sort".into(), s);
    }
    if let Some(l) = limit {
        q.insert("limit".into(), l.into());
    }
    Value::Object(q)
}

/// A query that counts the rows matching `filter` and finds the greatest value of
/// `max_field` among them, in one round trip (Directus' `aggregate`).
pub fn count_and_max(filter: Filter, max_field: &str) -> Value {
    json!({ "aggregate": { "count": ["*"], "max": [max_field] }, "filter": filter.0 })
}

/// Reads the answer of [`count_and_max`]: the count (a number, or text on some
/// databases) and the greatest value of `max_field` (`None` when nothing matched).
pub fn read_count_and_max(data: &Value, max_field: &str) -> Option<(u64, Option<Value>)> {
    let row = match data {
        Value::Array(rows) => rows.first()?,
        v => v,
    };
    let count = match row.get("count")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.parse().ok()?,
        // Some versions nest it by field: {"count": {"*": 3}}.
        Value::Object(o) => o.values().next().and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))?,
        _ => return None,
    };
    let max = row.get("max").and_then(|m| m.get(max_field)).filter(|v| !v.is_null()).cloned();
    Some((count, max))
}

impl SubscribeRequest {
    /// The subscription whose `init` is the user the connection is logged in as: the
    /// users collection filtered on `$CURRENT_USER` (the only way to ask "who am I" over
    /// the socket: `items` refuses system collections). Checked on Directus 10.13, 11.17
    /// and 12.4.
    pub fn current_user(fields: &[&str]) -> SubscribeRequest {
        let fields = fields.iter().map(|f| (*f).to_owned()).collect();
        SubscribeRequest::new(USERS_COLLECTION).query(query(fields, Some(Filter::eq(USER_KEY, CURRENT_USER)), None, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyset_cursor_and_order() {
        let f = Filter::before("date_created", "id", "2026-01-01T00:00:00.000Z", 7);
        assert_eq!(
            f.into_value(),
            json!({"_or":[{"date_created":{"_lt":"2026-01-01T00:00:00.000Z"}},
                          {"_and":[{"date_created":{"_eq":"2026-01-01T00:00:00.000Z"}},{"id":{"_lt":7}}]}]})
        );
        assert_eq!(newest_first("date_created", "id"), json!(["-date_created", "-id"]));
        let q = query(vec!["*".into()], Some(Filter::is_null("room")), None, Some(5));
        assert_eq!(q, json!({"fields":["*"],"filter":{"room":{"_null":true}},"limit":5}));
    }

    #[test]
    fn count_and_max_reads_every_shape() {
        let q = count_and_max(Filter::gt("date_created", "2026-01-01T00:00:00.000Z"), "date_created");
        assert_eq!(q["aggregate"], json!({"count":["*"],"max":["date_created"]}));
        assert_eq!(q["filter"], json!({"date_created":{"_gt":"2026-01-01T00:00:00.000Z"}}));
        let d = "date_created";
        assert_eq!(read_count_and_max(&json!([{"count":3,"max":{"date_created":"x"}}]), d), Some((3, Some(json!("x")))));
        assert_eq!(read_count_and_max(&json!([{"count":"0","max":{"date_created":null}}]), d), Some((0, None)));
        assert_eq!(read_count_and_max(&json!([{"count":{"*":2}}]), d), Some((2, None)));
        assert_eq!(read_count_and_max(&json!([]), d), None);
    }

    #[test]
    fn who_am_i_is_a_filtered_users_subscription() {
        let r = SubscribeRequest::current_user(&["id", "first_name"]);
        assert_eq!(r.collection_name(), "directus_users");
        assert_eq!(r.query_value(), Some(&json!({"fields":["id","first_name"],"filter":{"id":{"_eq":"$CURRENT_USER"}}})));
    }
}
