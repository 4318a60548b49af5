//! Outbox events for the Python package.

use directus_chat::{ChatConfig, OutboxEntry, OutboxState};
use pyo3::prelude::*;

use crate::convert::to_py;
use crate::native_client::{message_tuple, EventTuple};

/// An outbox event in the package's event tuple: type `outbox`, the state as its kind,
/// the key where subscription events have their uid, the entry (a dict) as data, the
/// error of a failure, the local id where replies have their request id, and the chat
/// message of the local echo.
pub fn event_tuple<'a>(py: Python<'_>, chat: &ChatConfig, entry: OutboxEntry) -> PyResult<EventTuple<'a>> {
    let messages = if entry.collection == chat.collection {
        chat.echo(entry.item(), &entry.key).map(|m| message_tuple(py, &m)).into_iter().collect::<PyResult<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let (code, message) = match &entry.state {
        OutboxState::Failed { error, .. } => (Some(error.code().to_owned()), Some(error.to_string())),
        _ => (None, None),
    };
    let data = to_py(py, &entry.to_json())?;
    Ok(("outbox", Some(entry.state.as_str()), Some(entry.key), data, code, message, entry.local_id, messages))
}
