//! The size of a session's task (see [`super::driver`]): every session holds its future
//! all its life, so 10,000 sessions pay for each KiB of it 10 MiB.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::driver::run;
use super::key::Ids;
use super::outlet::{tests::Recorder, Outlet};
use crate::options::ClientOptions;
use crate::transport::Endpoint;

/// The connection's opening (10 KiB, twice, when it was not boxed) was once 21 KiB of it.
#[test]
fn a_sessions_task_stays_small() {
    let endpoint = Endpoint::parse("ws://127.0.0.1:1/websocket").unwrap();
    let options = Arc::new(ClientOptions::default());
    let outlet = Outlet::new(10, 10, Recorder::default());
    let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (ready, _) = oneshot::channel();
    let task = run(endpoint, options, outlet, Arc::new(Ids::default()), rx, ready);
    let size = std::mem::size_of_val(&task);
    assert!(size <= 6 * 1024, "a session's task is {size} bytes");
}
