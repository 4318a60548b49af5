//! The native part of the `directus_chat` Python package.
//!
//! It only adapts the Rust client to Python: blocking calls that release the GIL while
//! they wait (in short slices, so Ctrl-C works), events as classes whose attributes are
//! made when first read (see `events`), errors handed
//! to `directus_chat._errors` to become the package's exception classes, and the core's
//! log records queued for a Python thread. The user-facing classes live in the pure
//! Python package on top.

mod convert;
mod events;
mod log_bridge;
mod native_client;
mod shutdown;

use pyo3::prelude::*;

/// The `directus_chat._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<native_client::NativeClient>()?;
    m.add_class::<events::PyEvent>()?;
    m.add_class::<events::PyChatMessage>()?;
    m.add_function(wrap_pyfunction!(log_bridge::install_log_bridge, m)?)?;
    m.add_function(wrap_pyfunction!(log_bridge::next_logs, m)?)?;
    m.add_function(wrap_pyfunction!(shutdown::shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(error_kind, m)?)?;
    Ok(())
}

/// The kind of an error by its code (`auth`, `forbidden`, `server`, `timeout`, ...):
/// the package picks its exception class by it, so which Directus codes mean what
/// (across server versions) is known in one place, the Rust core.
#[pyfunction]
fn error_kind(code: &str) -> &'static str {
    directus_chat::ErrorKind::of_code(code).as_str()
}

/// The version of the Rust core.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
