//! Values between serde_json and Python, and errors into the package's exceptions.

use std::future::Future;
use std::time::{Duration, Instant};

use directus_chat::Error;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::IntoPyObjectExt;
use serde_json::Value;

/// A JSON value as the equivalent Python object (dict, list, str, int, float, bool, None).
pub fn to_py(py: Python<'_>, v: &Value) -> PyResult<PyObject> {
    Ok(match v {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_py_any(py)?,
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_py_any(py)?,
            (None, Some(u)) => u.into_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_py_any(py)?,
        },
        Value::String(s) => s.into_py_any(py)?,
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, to_py(py, item)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

/// JSON text from the Python layer (which serialises with `json.dumps`).
pub fn parse_json(text: Option<&str>) -> Result<Option<Value>, Error> {
    text.map(|t| serde_json::from_str(t).map_err(|e| Error::InvalidArgument(format!("not valid JSON: {e}")))).transpose()
}

/// The package's exception for a library error (see `directus_chat/_errors.py`).
pub fn to_pyerr(py: Python<'_>, e: &Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let module = py.import("directus_chat._errors")?;
        let exc = module.getattr("error_from_code")?.call1((e.code(), e.to_string()))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|err| err)
}

const SLICE: Duration = Duration::from_millis(100);

/// Waits for `future` with the GIL released, in short slices so that signals (Ctrl-C)
/// are seen; gives `Error::Timeout` after `timeout`.
pub fn wait<F>(py: Python<'_>, future: F, timeout: Option<Duration>) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let mut future = Box::pin(future);
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let slice = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
            None => SLICE,
        };
        match py.allow_threads(|| directus_chat::blocking::wait(&mut future, Some(slice))) {
            Ok(out) => return Ok(out),
            Err(Error::Timeout) => {}
            Err(e) => return Err(to_pyerr(py, &e)),
        }
        py.check_signals()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(to_pyerr(py, &Error::Timeout));
        }
    }
}

/// Seconds from Python as a duration; `None` or a negative value means no limit.
pub fn seconds(s: Option<f64>) -> Option<Duration> {
    s.filter(|v| *v >= 0.0 && v.is_finite()).map(Duration::from_secs_f64)
}
