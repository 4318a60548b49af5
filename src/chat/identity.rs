//! Who the logged-in user is, asked over the socket: `items` refuses Directus' own
//! collections, but a subscription to the users filtered on `$CURRENT_USER` answers with
//! the user in its `init` (Directus 10.13, 11.17 and 12.4 alike); the client then ends it.

use serde_json::Value;

use crate::protocol::{SubscribeRequest, USER_FIELDS, USER_KEY};

/// The logged-in user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user's id (a uuid): the author id of their messages.
    pub id: String,
    /// First name, if set and readable.
    pub first_name: Option<String>,
    /// Last name, if set and readable.
    pub last_name: Option<String>,
    /// Email address, if readable.
    pub email: Option<String>,
}

impl Identity {
    /// The subscription whose `init` names the user.
    pub(crate) fn request() -> SubscribeRequest {
        SubscribeRequest::current_user(&USER_FIELDS)
    }

    /// The user in that `init`'s data (a list of one user).
    pub(crate) fn from_init(data: &Value) -> Option<Identity> {
        let user = match data {
            Value::Array(users) => users.first()?,
            v @ Value::Object(_) => v,
            _ => return None,
        };
        let text = |f: &str| user.get(f).and_then(Value::as_str).map(str::to_owned);
        let [_, first, last, email] = USER_FIELDS;
        Some(Identity { id: text(USER_KEY)?, first_name: text(first), last_name: text(last), email: text(email) })
    }

    /// The user as a JSON object (`id`, `first_name`, `last_name`, `email`), as the C and
    /// Python surfaces hand it over.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "id": self.id, "first_name": self.first_name, "last_name": self.last_name, "email": self.email })
    }

    /// A display name: first and last name, else the email, else the id.
    pub fn display_name(&self) -> String {
        match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) => format!("{f} {l}"),
            (Some(n), None) | (None, Some(n)) => n.clone(),
            (None, None) => self.email.clone().unwrap_or_else(|| self.id.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_user_of_an_init() {
        let init = json!([{"id":"u-1","first_name":"Kevin","last_name":null,"email":"kevin@example.com"}]);
        let me = Identity::from_init(&init).unwrap();
        assert_eq!(me.id, "u-1");
        assert_eq!(me.first_name.as_deref(), Some("Kevin"));
        assert_eq!(me.last_name, None);
        assert_eq!(me.display_name(), "Kevin");
        assert_eq!(Identity::from_init(&json!([])), None);
        assert_eq!(Identity::from_init(&json!([{"first_name":"no id"}])), None);
        assert_eq!(Identity::request().collection_name(), "directus_users");
    }
}
