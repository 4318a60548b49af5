//! Attachments: files go to and come from the server's REST API (`POST /files`,
//! `GET /assets/<id>`), since the WebSocket cannot carry them. Uploads and downloads
//! run on the library's runtime, report progress as [`Event::Transfer`] events and end
//! with one [`Event::Reply`]; [`crate::Client::cancel`] stops them. They use the
//! socket's TLS trust (the same roots and extra CA) and a token of their own: a REST
//! login, renewed at three quarters of its lifetime. The same REST side reads what the
//! server tells about itself (`crate::discovery`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use once_cell::sync::OnceCell;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::options::{ClientOptions, TlsOptions};
use crate::protocol::{self as proto, AuthCredentials};
use crate::secret::Secret;
use crate::session::Outlet;
use crate::transport::{tls_config, Endpoint};

mod api;
mod token;

pub use crate::protocol::FileInfo;
use token::{Need, RestToken};

/// The size of the pieces a file is read and sent in (and progress reported by, at
/// most once per percent).
const CHUNK: usize = 64 * 1024;

/// A file to upload: from a path (streamed, never read into memory whole) or from
/// bytes in memory.
#[derive(Clone, Debug)]
pub struct Upload {
    source: Source,
    name: Option<String>,
    mime: Option<String>,
    title: Option<String>,
}

#[derive(Clone)]
enum Source {
    Path(PathBuf),
    Bytes(Bytes),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Path(p) => f.debug_tuple("Path").field(p).finish(),
            Source::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

impl Upload {
    /// The file at `path`, uploaded under its file name.
    pub fn path(path: impl Into<PathBuf>) -> Upload {
        Upload { source: Source::Path(path.into()), name: None, mime: None, title: None }
    }

    /// `bytes`, uploaded as a file named `name`.
    pub fn bytes(name: &str, bytes: impl Into<Bytes>) -> Upload {
        Upload { source: Source::Bytes(bytes.into()), name: Some(name.to_owned()), mime: None, title: None }
    }

    /// The name the file is stored under (`filename_download`); default: the path's
    /// file name.
    pub fn name(mut self, name: &str) -> Upload {
        self.name = Some(name.to_owned());
        self
    }

    /// The MIME type (default: `application/octet-stream`; the server guesses nothing
    /// from the name).
    pub fn mime(mut self, mime: &str) -> Upload {
        self.mime = Some(mime.to_owned());
        self
    }

    /// The file's title in Directus (default: the server's, made from the name).
    pub fn title(mut self, title: &str) -> Upload {
        self.title = Some(title.to_owned());
        self
    }

    fn file_name(&self) -> String {
        match (&self.name, &self.source) {
            (Some(n), _) => n.clone(),
            (None, Source::Path(p)) => p.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned()),
            (None, Source::Bytes(_)) => "file".into(),
        }
    }

    /// The body's pieces and its length; a path that cannot be read is the caller's
    /// error, told before anything is sent.
    async fn body(&self, progress: Arc<Progress>) -> Result<(reqwest::Body, u64)> {
        let counted = move |piece: std::io::Result<Bytes>| {
            if let Ok(b) = &piece {
                progress.advance(b.len() as u64);
            }
            piece
        };
        match &self.source {
            Source::Bytes(b) => {
                let b = b.clone();
                let len = b.len() as u64;
                let pieces = (0..b.len()).step_by(CHUNK).map(move |at| Ok(b.slice(at..(at + CHUNK).min(b.len()))));
                Ok((reqwest::Body::wrap_stream(futures_util::stream::iter(pieces).map(counted)), len))
            }
            Source::Path(p) => {
                let file = tokio::fs::File::open(p).await.map_err(|e| unreadable(p, &e))?;
                let len = file.metadata().await.map_err(|e| unreadable(p, &e))?.len();
                let pieces = futures_util::stream::unfold(file, |mut file| async move {
                    let mut buf = vec![0; CHUNK];
                    match file.read(&mut buf).await {
                        Ok(0) => None,
                        Ok(n) => {
                            buf.truncate(n);
                            Some((Ok(Bytes::from(buf)), file))
                        }
                        Err(e) => Some((Err(e), file)),
                    }
                });
                Ok((reqwest::Body::wrap_stream(pieces.map(counted)), len))
            }
        }
    }
}

fn unreadable(p: &Path, e: &std::io::Error) -> Error {
    Error::InvalidArgument(format!("cannot read {}: {e}", p.display()))
}

/// Progress of one transfer, handed out as [`Event::Transfer`] events.
struct Progress {
    outlet: Option<Arc<Outlet>>,
    request: u64,
    total: AtomicU64,
    done: AtomicU64,
    told: AtomicU64,
}

impl Progress {
    fn new(outlet: Option<Arc<Outlet>>, request: u64) -> Arc<Progress> {
        Arc::new(Progress { outlet, request, total: AtomicU64::new(0), done: AtomicU64::new(0), told: AtomicU64::new(0) })
    }

    fn start(&self, total: Option<u64>) {
        self.total.store(total.unwrap_or(0), Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.told.store(0, Ordering::Relaxed);
        self.tell(0);
    }

    /// Counts `n` more bytes; tells the user at each percent (or each piece when the
    /// total is unknown) and at the end.
    fn advance(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        let total = self.total.load(Ordering::Relaxed);
        let step = (total / 100).max(CHUNK as u64);
        let finished = total > 0 && done >= total;
        if finished || done - self.told.load(Ordering::Relaxed) >= step {
            self.told.store(done, Ordering::Relaxed);
            self.tell(done);
        }
    }

    fn tell(&self, done: u64) {
        if let Some(outlet) = &self.outlet {
            let total = self.total.load(Ordering::Relaxed);
            outlet.give(Event::Transfer { request: self.request, done, total: (total > 0).then_some(total) });
        }
    }
}

/// Where a download goes.
pub(crate) enum Sink {
    /// Into memory; the reply's value is the bytes' count, [`Downloaded::Bytes`] keeps them.
    Memory,
    /// Into a file, written beside it as `<name>.part` and renamed when complete, so a
    /// cancelled or failed download leaves no half file under the name.
    File(PathBuf),
}

/// What a download gave.
pub(crate) enum Downloaded {
    Bytes(Vec<u8>),
    Written(u64),
}

/// The REST side of one client: its base URL, its HTTP client, its token and its
/// running transfers.
pub(crate) struct Files {
    base: url::Url,
    options: Arc<ClientOptions>,
    http: OnceCell<reqwest::Client>,
    token: tokio::sync::Mutex<RestToken>,
    /// The credentials of the socket's last login, taken before the REST side needs them.
    credentials: Mutex<Option<AuthCredentials>>,
    running: Mutex<HashMap<u64, Arc<Notify>>>,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl Files {
    pub(crate) fn new(endpoint: &Endpoint, options: Arc<ClientOptions>) -> Result<Arc<Files>> {
        let base = match &options.rest_url {
            Some(u) => {
                let mut u = url::Url::parse(u).map_err(|e| Error::InvalidArgument(format!("bad REST URL: {e}")))?;
                if !u.path().ends_with('/') {
                    u.set_path(&format!("{}/", u.path()));
                }
                u
            }
            None => endpoint.rest_base(),
        };
        Ok(Arc::new(Files {
            base,
            options,
            http: OnceCell::new(),
            token: tokio::sync::Mutex::new(RestToken::default()),
            credentials: Mutex::new(None),
            running: Mutex::new(HashMap::new()),
        }))
    }

    /// The socket logged in with `credentials`: the REST side follows.
    pub(crate) fn logged_in(&self, credentials: &AuthCredentials) {
        *self.credentials.lock() = Some(credentials.clone());
    }

    /// The URL of a file's contents (fetching it needs the user's token unless the
    /// public role may read files).
    pub(crate) fn asset_url(&self, file_id: &str) -> Result<url::Url> {
        if file_id.is_empty() || file_id.contains(['/', '?', '#']) {
            return Err(Error::InvalidArgument(format!("`{file_id}` is not a file id")));
        }
        self.base.join(&proto::asset_path(file_id)).map_err(|e| Error::InvalidArgument(e.to_string()))
    }

    fn http(&self) -> Result<&reqwest::Client> {
        self.http.get_or_try_init(|| {
            // Plain http gets the default TLS settings, so a CA meant for wss:// cannot
            // fail it.
            let tls = if self.base.scheme() == "https" { self.options.tls.clone() } else { TlsOptions::default() };
            shared_http(tls, self.options.connect_timeout)
        })
    }

    fn url(&self, path: &str) -> url::Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    /// The token for the next call (`stale`: the server refused the last one).
    async fn bearer(&self, stale: bool) -> Result<Option<Secret>> {
        let mut token = self.token.lock().await;
        if let Some(c) = self.credentials.lock().take() {
            token.logged_in(c);
        }
        loop {
            let need = token.need(Instant::now(), stale)?;
            let (path, body, refreshing) = match need {
                Need::Anonymous => return Ok(None),
                Need::Token(t) => return Ok(Some(t)),
                Need::Login(email, password) => (proto::LOGIN_PATH, proto::login_body(&email, &password), false),
                Need::Refresh(r) => (proto::REFRESH_PATH, proto::refresh_body(&r), true),
            };
            match self.post_json(path, &body).await {
                Ok(answer) => {
                    let tokens = proto::parse_tokens(&answer).map_err(|e| Error::Protocol(e.to_owned()))?;
                    return Ok(Some(token.got(tokens, Instant::now())));
                }
                // A refresh the server refused: log in again.
                Err(Error::Server(_)) if refreshing => token.refresh_failed(),
                Err(e) => return Err(e),
            }
        }
    }

    /// A current access token of the user (`None`: nobody logged in), e.g. for the
    /// WebSocket upgrade of a `strict` server.
    pub(crate) async fn access_token(&self) -> Result<Option<Secret>> {
        self.bearer(false).await
    }

    /// Reads `GET /server/info` with the user's token. Only a user is told the version
    /// and the WebSocket settings, so without a login there is nothing worth asking.
    pub(crate) async fn server_info(&self) -> Result<Value> {
        let mut stale = false;
        loop {
            let Some(bearer) = self.bearer(stale).await? else {
                return Err(Error::InvalidArgument("nobody is logged in: the server tells anonymous callers no version".into()));
            };
            let request = self.http()?.get(self.url(proto::SERVER_INFO_PATH)).bearer_auth(bearer.expose());
            let response = request.send().await.map_err(|e| self.failed(&e))?;
            let status = response.status();
            let bytes = response.bytes().await.map_err(|e| self.failed(&e))?;
            if status.is_success() {
                return serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(format!("the server's info is not JSON: {e}")));
            }
            let error = proto::parse_error(status.as_u16(), &bytes);
            if !stale && proto::is_expired_token(&error) {
                stale = true;
                continue;
            }
            return Err(Error::Server(error));
        }
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        let response = self.http()?.post(self.url(path)).json(body).send().await.map_err(|e| self.failed(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.failed(&e))?;
        if !status.is_success() {
            return Err(Error::Server(proto::parse_error(status.as_u16(), &bytes)));
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(format!("the server's answer is not JSON: {e}")))
    }

    /// An HTTP failure as a connection error. reqwest's text names the URL, which holds
    /// no secret (tokens travel in headers and bodies only).
    fn failed(&self, e: &reqwest::Error) -> Error {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        if text.contains("certificate") || text.contains("Certificate") {
            Error::Tls(text)
        } else {
            Error::Connection(text)
        }
    }

    async fn upload(&self, upload: &Upload, progress: Arc<Progress>) -> Result<FileInfo> {
        let mut stale = false;
        loop {
            let bearer = self.bearer(stale).await?;
            let (body, len) = upload.body(progress.clone()).await?;
            let mime = upload.mime.as_deref().unwrap_or("application/octet-stream");
            let part = reqwest::multipart::Part::stream_with_length(body, len)
                .file_name(upload.file_name())
                .mime_str(mime)
                .map_err(|e| Error::InvalidArgument(format!("bad MIME type `{mime}`: {e}")))?;
            // Told once the request is sure to go out: a refused argument has no progress.
            progress.start(Some(len));
            let mut form = reqwest::multipart::Form::new();
            if let Some(t) = &upload.title {
                form = form.text("title", t.clone());
            }
            // The file part last: the server stores the fields read before it.
            form = form.part(proto::FILE_PART, part);
            let mut request = self.http()?.post(self.url(proto::FILES_PATH)).multipart(form);
            if let Some(b) = &bearer {
                request = request.bearer_auth(b.expose());
            }
            let response = request.send().await.map_err(|e| self.failed(&e))?;
            let status = response.status();
            let bytes = response.bytes().await.map_err(|e| self.failed(&e))?;
            if status.is_success() {
                let answer: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(format!("upload answer: {e}")))?;
                return FileInfo::from_upload_answer(&answer).ok_or_else(|| Error::Protocol("the upload answer names no file".into()));
            }
            let error = proto::parse_error(status.as_u16(), &bytes);
            if !stale && bearer.is_some() && proto::is_expired_token(&error) {
                stale = true;
                continue;
            }
            return Err(Error::Server(error));
        }
    }

    async fn download(&self, file_id: &str, sink: &Sink, progress: Arc<Progress>) -> Result<Downloaded> {
        let url = self.asset_url(file_id)?;
        let mut stale = false;
        let mut response = loop {
            let bearer = self.bearer(stale).await?;
            let mut request = self.http()?.get(url.clone());
            if let Some(b) = &bearer {
                request = request.bearer_auth(b.expose());
            }
            let response = request.send().await.map_err(|e| self.failed(&e))?;
            if response.status().is_success() {
                break response;
            }
            let status = response.status().as_u16();
            let error = proto::parse_error(status, &response.bytes().await.unwrap_or_default());
            if !stale && bearer.is_some() && proto::is_expired_token(&error) {
                stale = true;
                continue;
            }
            return Err(Error::Server(error));
        };
        progress.start(response.content_length());
        match sink {
            Sink::Memory => {
                let mut all = Vec::with_capacity(response.content_length().unwrap_or(0).min(1 << 30) as usize);
                while let Some(piece) = response.chunk().await.map_err(|e| self.failed(&e))? {
                    all.extend_from_slice(&piece);
                    progress.advance(piece.len() as u64);
                }
                Ok(Downloaded::Bytes(all))
            }
            Sink::File(dest) => {
                let part = part_path(dest);
                let cannot = |e: std::io::Error| Error::InvalidArgument(format!("cannot write {}: {e}", part.display()));
                let mut file = tokio::fs::File::create(&part).await.map_err(cannot)?;
                let mut written = 0u64;
                let copied: Result<()> = async {
                    while let Some(piece) = response.chunk().await.map_err(|e| self.failed(&e))? {
                        file.write_all(&piece).await.map_err(cannot)?;
                        written += piece.len() as u64;
                        progress.advance(piece.len() as u64);
                    }
                    file.flush().await.map_err(cannot)?;
                    file.sync_all().await.map_err(cannot)
                }
                .await;
                drop(file);
                match copied.and(tokio::fs::rename(&part, dest).await.map_err(cannot)) {
                    Ok(()) => Ok(Downloaded::Written(written)),
                    Err(e) => {
                        let _ = tokio::fs::remove_file(&part).await;
                        Err(e)
                    }
                }
            }
        }
    }

    /// Registers a transfer before it starts, so that a cancel made right after the
    /// call that started it (before its task first runs) is not lost.
    fn register(&self, request: u64) -> Arc<Notify> {
        let stop = Arc::new(Notify::new());
        self.running.lock().insert(request, stop.clone());
        stop
    }

    /// Runs a registered transfer until it ends or [`Files::cancel`] stops it.
    async fn cancellable<T>(&self, request: u64, stop: Arc<Notify>, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        // A panic in the HTTP stack must still end the transfer with a reply.
        let work = std::panic::AssertUnwindSafe(work).catch_unwind();
        let outcome = tokio::select! {
            r = work => r.unwrap_or_else(|_| Err(Error::Protocol("the transfer failed inside the library (a panic)".into()))),
            _ = stop.notified() => Err(Error::Cancelled),
        };
        self.running.lock().remove(&request);
        outcome
    }

    /// Stops a running transfer; whether `request` was one.
    pub(crate) fn cancel(&self, request: u64) -> bool {
        match self.running.lock().get(&request) {
            Some(stop) => {
                // A stored permit: a cancel that comes before the select waits still counts.
                stop.notify_one();
                true
            }
            None => false,
        }
    }

    /// Stops every running transfer (the client is closing).
    pub(crate) fn cancel_all(&self) {
        for stop in self.running.lock().values() {
            stop.notify_one();
        }
    }
}

type HttpKey = (TlsOptions, std::time::Duration);

/// The HTTP clients of [`shared_http`].
static SHARED_HTTP: Mutex<Vec<(HttpKey, reqwest::Client)>> = Mutex::new(Vec::new());

/// Drops the shared HTTP clients (the process-wide shutdown: after it the library holds
/// no memory, so unloading it leaks nothing); clients made later make new ones.
pub(crate) fn forget_shared_http() {
    drop(std::mem::take(&mut *SHARED_HTTP.lock()));
}

/// The HTTP client for these TLS settings and connect timeout, one per process: each
/// holds a connection pool and a TLS configuration with its roots, about 20 KiB, which
/// every logged-in client would pay since it reads the server's info over REST
/// (measured with 2,000 sessions). Connections carry no user's state (the token goes
/// with each request), so clients may share them.
fn shared_http(tls: TlsOptions, connect_timeout: std::time::Duration) -> Result<reqwest::Client> {
    let mut shared = SHARED_HTTP.lock();
    if let Some((_, client)) = shared.iter().find(|(k, _)| k.0 == tls && k.1 == connect_timeout) {
        return Ok(client.clone());
    }
    // Always a configuration of ours: reqwest has no crypto provider of its own here.
    let config = tls_config(&tls)?;
    // Idle connections are dropped before Node's 5 s keep-alive closes them on the
    // server side: reusing one the server just closed fails the request.
    let client = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .use_preconfigured_tls((*config).clone())
        .build()
        .map_err(|e| Error::Tls(format!("cannot set up HTTPS: {e}")))?;
    shared.push(((tls, connect_timeout), client.clone()));
    Ok(client)
}

/// `<dest>.part`: where a download is written until it is complete.
fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".part");
    dest.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_named_after_their_path_unless_named() {
        assert_eq!(Upload::path("/tmp/cat.png").file_name(), "cat.png");
        assert_eq!(Upload::path("/tmp/cat.png").name("dog.png").file_name(), "dog.png");
        assert_eq!(Upload::bytes("b.bin", vec![1u8]).file_name(), "b.bin");
        assert!(format!("{:?}", Upload::bytes("b", vec![0u8; 3])).contains("3 bytes"));
        assert_eq!(part_path(Path::new("/a/b.png")), Path::new("/a/b.png.part"));
    }

    #[test]
    fn progress_is_told_at_each_percent_and_at_the_end() {
        type Seen = Arc<Mutex<Vec<(u64, Option<u64>)>>>;
        let seen: Seen = Arc::new(Mutex::new(Vec::new()));
        struct Rec(Seen);
        impl crate::session::Target for Rec {
            fn deliver(&self, events: &mut Vec<Event>) {
                for e in events.drain(..) {
                    if let Event::Transfer { done, total, .. } = e {
                        self.0.lock().push((done, total));
                    }
                }
            }
        }
        let outlet = Outlet::new(100_000, usize::MAX, Rec(seen.clone()));
        let p = Progress::new(Some(outlet), 7);
        let total = 5 * 1024 * 1024;
        p.start(Some(total));
        let mut left = total;
        while left > 0 {
            let n = left.min(CHUNK as u64);
            p.advance(n);
            left -= n;
        }
        let seen = seen.lock();
        assert_eq!(seen.first(), Some(&(0, Some(total))));
        assert_eq!(seen.last(), Some(&(total, Some(total))));
        assert!(seen.len() <= 102 && seen.len() >= 50, "{} progress events", seen.len());
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
