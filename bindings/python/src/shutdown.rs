//! The core's process-wide shutdown, for the package's `shutdown()` and its exit hook.

use std::time::Duration;

use pyo3::prelude::*;

use crate::convert::{seconds, to_pyerr};

/// Closes every client of the process and joins every thread of the Rust core, waiting
/// up to `timeout` seconds (GIL released, so the package's dispatcher threads can take
/// their last events meanwhile). Raises `DirectusTimeoutError` naming what did not end.
#[pyfunction]
pub fn shutdown(py: Python<'_>, timeout: f64) -> PyResult<()> {
    let timeout = seconds(Some(timeout)).unwrap_or(Duration::ZERO);
    py.allow_threads(|| directus_chat::shutdown(timeout)).map_err(|e| to_pyerr(py, &e))
}
