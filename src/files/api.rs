//! The attachment calls of [`Client`]: upload, download, the asset URL.

use std::path::PathBuf;

use serde_json::json;
use tokio::sync::oneshot;

use super::{Downloaded, FileInfo, Progress, Sink, Upload};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::Client;

impl Client {
    /// Runs a transfer on the library's runtime; its outcome goes to `done`.
    fn spawn_transfer<T: Send + 'static>(
        &self,
        request: u64,
        work: impl std::future::Future<Output = Result<T>> + Send + 'static,
        done: impl FnOnce(Result<T>) + Send + 'static,
    ) {
        let files = self.files().clone();
        let stop = files.register(request);
        crate::runtime::handle().spawn(async move { done(files.cancellable(request, stop, work).await) });
    }

    /// Uploads a file without waiting. Progress arrives as [`Event::Transfer`] events
    /// and the outcome as one [`Event::Reply`] with the returned id, whose value is the
    /// stored file object (read it with [`FileInfo::from_value`]). [`Client::cancel`]
    /// with that id stops it (the reply is then [`Error::Cancelled`]).
    pub fn upload_nowait(&self, upload: Upload) -> Result<u64> {
        self.open_for_transfer()?;
        let request = self.next_id();
        let files = self.files().clone();
        let progress = Progress::new(Some(self.outlet().clone()), request);
        let outlet = self.outlet().clone();
        self.spawn_transfer(request, async move { files.upload(&upload, progress).await }, move |result| {
            outlet.give(Event::Reply { request, result: result.map(|f| f.raw) })
        });
        Ok(request)
    }

    /// Uploads a file and returns what the server stored (its id, name, type, size).
    /// For progress and a cancel, see [`Client::upload_nowait`].
    pub async fn upload(&self, upload: Upload) -> Result<FileInfo> {
        self.open_for_transfer()?;
        let files = self.files().clone();
        let request = self.next_id();
        let (tx, rx) = oneshot::channel();
        self.spawn_transfer(request, async move { files.upload(&upload, Progress::new(None, request)).await }, move |r| {
            let _ = tx.send(r);
        });
        rx.await.unwrap_or(Err(Error::Closed))
    }

    /// Downloads a file's contents into `dest` without waiting (written as
    /// `<dest>.part` and renamed when complete). Progress arrives as [`Event::Transfer`]
    /// events and the outcome as an [`Event::Reply`] whose value is
    /// `{"bytes": N, "path": "..."}`.
    pub fn download_nowait(&self, file_id: &str, dest: impl Into<PathBuf>) -> Result<u64> {
        self.open_for_transfer()?;
        let dest = dest.into();
        self.files().asset_url(file_id)?;
        let request = self.next_id();
        let (files, id) = (self.files().clone(), file_id.to_owned());
        let progress = Progress::new(Some(self.outlet().clone()), request);
        let outlet = self.outlet().clone();
        let path = dest.display().to_string();
        let sink = Sink::File(dest);
        self.spawn_transfer(request, async move { files.download(&id, &sink, progress).await }, move |result| {
            let result = result.map(|d| match d {
                Downloaded::Written(n) => json!({ "bytes": n, "path": path }),
                Downloaded::Bytes(b) => json!({ "bytes": b.len(), "path": path }),
            });
            outlet.give(Event::Reply { request, result })
        });
        Ok(request)
    }

    /// Downloads a file's contents into `dest`; returns the number of bytes.
    pub async fn download(&self, file_id: &str, dest: impl Into<PathBuf>) -> Result<u64> {
        match self.download_to(file_id, Sink::File(dest.into())).await? {
            Downloaded::Written(n) => Ok(n),
            Downloaded::Bytes(b) => Ok(b.len() as u64),
        }
    }

    /// Downloads a file's contents into memory.
    pub async fn download_bytes(&self, file_id: &str) -> Result<Vec<u8>> {
        match self.download_to(file_id, Sink::Memory).await? {
            Downloaded::Bytes(b) => Ok(b),
            Downloaded::Written(_) => Err(Error::Protocol("a download into memory wrote a file".into())),
        }
    }

    async fn download_to(&self, file_id: &str, sink: Sink) -> Result<Downloaded> {
        self.open_for_transfer()?;
        self.files().asset_url(file_id)?;
        let (files, id) = (self.files().clone(), file_id.to_owned());
        let request = self.next_id();
        let (tx, rx) = oneshot::channel();
        self.spawn_transfer(request, async move { files.download(&id, &sink, Progress::new(None, request)).await }, move |r| {
            let _ = tx.send(r);
        });
        rx.await.unwrap_or(Err(Error::Closed))
    }

    /// The URL of a file's contents on the server (`<REST base>/assets/<id>`), e.g. to
    /// show in a browser or hand to an image loader. Fetching it needs the user's token
    /// unless the public role may read files; [`Client::download`] sends it.
    pub fn asset_url(&self, file_id: &str) -> Result<String> {
        self.files().asset_url(file_id).map(String::from)
    }

    fn open_for_transfer(&self) -> Result<()> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        Ok(())
    }
}
