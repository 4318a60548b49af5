//! The outbox file: a SQLite database (the SQLite bundled into the library, so every
//! platform gets the same file format and the same durability).
//!
//! Why SQLite: one file, atomic and durable commits (with `synchronous=FULL` a commit
//! has reached the disk when it returns), recovery of half-written commits after a
//! crash, and a lock that another process meets. Opened with `locking_mode=EXCLUSIVE`,
//! the lock is taken at open and held until the client closes; the operating system
//! drops it when the process dies, so a crash never leaves the file locked.
//!
//! A file is recognised by its `application_id` and its layout by `user_version`. A
//! file that is not ours (another application's database, something else, a damaged
//! one, one from a newer version) is refused with a clear error and left exactly as it
//! was: nothing in it is ever dropped to make room for a new outbox.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde_json::Value;

use super::{OutboxEntry, OutboxState};
use crate::error::{Error, OutboxFault, Result};
use crate::protocol::ServerError;

/// `PRAGMA application_id` of an outbox: "DCOB" (directus-chat outbox).
pub(crate) const APPLICATION_ID: i32 = 0x4443_4f42;
/// The layout written by this version (`PRAGMA user_version`).
pub(crate) const VERSION: i32 = 1;

const SCHEMA: &str = "
CREATE TABLE entries (
    local_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    key           TEXT NOT NULL UNIQUE,
    collection    TEXT NOT NULL,
    key_field     TEXT NOT NULL,
    own_key       INTEGER NOT NULL,
    data          TEXT NOT NULL,
    failed        INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    error_code    TEXT,
    error_message TEXT,
    retryable     INTEGER NOT NULL DEFAULT 0,
    queued_at     INTEGER NOT NULL
);";

/// An open outbox file, locked for this client.
pub(crate) struct Store {
    conn: Connection,
    path: PathBuf,
    /// Whether `synchronous` is FULL now.
    full: bool,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Store {
    /// Opens (or creates) the outbox at `path` and locks it.
    pub(crate) fn open(path: &Path) -> Result<Store> {
        let shown = path.display().to_string();
        let fail = |e: rusqlite::Error| fault(&shown, e);
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE).map_err(fail)?;
        // Never wait for a lock: another client holding it is an error to report now.
        conn.busy_timeout(std::time::Duration::ZERO).map_err(fail)?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(fail)?;
        // Takes the lock (kept until the connection closes, by locking_mode).
        conn.execute_batch("BEGIN EXCLUSIVE").map_err(fail)?;
        let checked = check_or_create(&conn, &shown);
        if let Err(e) = checked {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
        conn.execute_batch("COMMIT").map_err(fail)?;
        // Only now that the file is known to be ours is anything about it changed.
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            log::debug!("outbox {shown}: journal mode {mode}");
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(fail)?;
        Ok(Store { conn, path: path.to_owned(), full: true })
    }

    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        fault(&self.path.display().to_string(), e)
    }

    /// Every entry still in the outbox (queued, in the middle of being sent when the
    /// last client stopped, or failed), in the order they were queued. A row that
    /// cannot be read is an error, never skipped.
    pub(crate) fn load(&self) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT local_id, key, collection, key_field, data, failed, attempts, error_code, error_message, retryable, queued_at,
                        own_key
                 FROM entries ORDER BY local_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, bool>(9)?,
                    r.get::<_, i64>(10)?,
                    r.get::<_, bool>(11)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut entries = Vec::new();
        for row in rows {
            let (local_id, key, collection, key_field, data, failed, attempts, code, message, retryable, queued_at, own_key) =
                row.map_err(|e| self.err(e))?;
            let data: Value = serde_json::from_str(&data).map_err(|e| {
                Error::Outbox(
                    OutboxFault::Corrupt,
                    format!("{}: entry {local_id} holds data that is not JSON ({e}); the file was left as it is", self.path.display()),
                )
            })?;
            let state = if failed {
                OutboxState::Failed { error: stored_error(code.as_deref().unwrap_or("UNKNOWN"), message.unwrap_or_default()), retryable }
            } else {
                OutboxState::Queued
            };
            entries.push(OutboxEntry {
                local_id: local_id as u64,
                key,
                collection,
                key_field,
                data,
                state,
                attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
                queued_at_ms: queued_at.max(0) as u64,
                own_key,
            });
        }
        Ok(entries)
    }

    /// Writes a new entry (durably, before it returns) and gives it its local id.
    /// `own_key`: the outbox made its key (a new uuid), rather than the app.
    pub(crate) fn insert(&mut self, collection: &str, key_field: &str, key: &str, own_key: bool, data: &Value) -> Result<OutboxEntry> {
        let queued_at = now_ms();
        self.durable(true)?;
        self.conn
            .execute(
                "INSERT INTO entries (key, collection, key_field, own_key, data, queued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![key, collection, key_field, own_key, data.to_string(), queued_at as i64],
            )
            .map_err(|e| self.err(e))?;
        Ok(OutboxEntry {
            local_id: self.conn.last_insert_rowid() as u64,
            key: key.to_owned(),
            collection: collection.to_owned(),
            key_field: key_field.to_owned(),
            data: data.clone(),
            state: OutboxState::Queued,
            attempts: 0,
            queued_at_ms: queued_at,
            own_key,
        })
    }

    /// Whether the next commits reach the disk before they return (`synchronous=FULL`),
    /// or only the operating system (`NORMAL`, in WAL mode: they survive a crash of the
    /// app, not a power cut). What the app decides is always durable; the bookkeeping of
    /// sending need not be, because the key makes a resend of a stored entry meet itself.
    fn durable(&mut self, full: bool) -> Result<()> {
        if self.full != full {
            self.conn.pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" }).map_err(|e| self.err(e))?;
            self.full = full;
        }
        Ok(())
    }

    fn change(&mut self, sql: &str, p: impl rusqlite::Params) -> Result<()> {
        let n = self.conn.execute(sql, p).map_err(|e| self.err(e))?;
        if n != 1 {
            return Err(Error::Outbox(
                OutboxFault::Io,
                format!("{}: an entry changed in memory is missing from the file", self.path.display()),
            ));
        }
        Ok(())
    }

    /// Counts an attempt before it goes out: an entry with attempts may be stored on the
    /// server already, so its next attempt reads back on a duplicate key. `durable` for
    /// keys the app chose, whose first attempt must not read back (their duplicate may
    /// be another row); an outbox-made key reads back on every attempt.
    pub(crate) fn attempt(&mut self, local_id: u64, durable: bool) -> Result<()> {
        self.durable(durable)?;
        self.change("UPDATE entries SET attempts = attempts + 1 WHERE local_id = ?1", params![local_id as i64])
    }

    /// The entry was sent: it leaves the file. Lost to a power cut, it would be sent
    /// again and meet its stored self.
    pub(crate) fn remove_sent(&mut self, local_id: u64) -> Result<()> {
        self.durable(false)?;
        self.change("DELETE FROM entries WHERE local_id = ?1", params![local_id as i64])
    }

    /// The app cancelled the entry: it leaves the file.
    pub(crate) fn remove(&mut self, local_id: u64) -> Result<()> {
        self.durable(true)?;
        self.change("DELETE FROM entries WHERE local_id = ?1", params![local_id as i64])
    }

    /// The entry failed for good; it stays until the app retries, edits or cancels it.
    pub(crate) fn fail(&mut self, local_id: u64, error: &Error, retryable: bool) -> Result<()> {
        self.durable(true)?;
        self.change(
            "UPDATE entries SET failed = 1, error_code = ?2, error_message = ?3, retryable = ?4 WHERE local_id = ?1",
            params![local_id as i64, error.code(), error_text(error), retryable],
        )
    }

    /// A failed entry goes back in the queue (the app retries it).
    pub(crate) fn requeue(&mut self, local_id: u64) -> Result<()> {
        self.durable(true)?;
        self.change(
            "UPDATE entries SET failed = 0, error_code = NULL, error_message = NULL, retryable = 0 WHERE local_id = ?1",
            params![local_id as i64],
        )
    }

    /// New data for an entry not yet sent.
    pub(crate) fn set_data(&mut self, local_id: u64, data: &Value) -> Result<()> {
        self.durable(true)?;
        self.change("UPDATE entries SET data = ?2 WHERE local_id = ?1", params![local_id as i64, data.to_string()])
    }
}

/// The text kept for a failure: the server's message for server errors.
fn error_text(error: &Error) -> String {
    match error {
        Error::Server(e) => e.message.clone(),
        other => other.to_string(),
    }
}

/// A failure read back from the file.
fn stored_error(code: &str, message: String) -> Error {
    match code {
        "PROTOCOL" => Error::Protocol(message),
        "INVALID_ARGUMENT" => Error::InvalidArgument(message),
        server => Error::Server(ServerError::new(server, message)),
    }
}

/// Checks, inside the open transaction, that the file is an outbox of a version this
/// library reads, or a new empty file, which becomes one.
fn check_or_create(conn: &Connection, shown: &str) -> Result<()> {
    let fail = |e: rusqlite::Error| fault(shown, e);
    let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(fail)?;
    let version: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(fail)?;
    let tables: Vec<String> = {
        let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map_err(fail)?;
        let names = stmt.query_map([], |r| r.get(0)).map_err(fail)?;
        names.collect::<std::result::Result<_, _>>().map_err(fail)?
    };
    if app == 0 && version == 0 && tables.is_empty() {
        conn.execute_batch(SCHEMA).map_err(fail)?;
        conn.pragma_update(None, "application_id", APPLICATION_ID).map_err(fail)?;
        conn.pragma_update(None, "user_version", VERSION).map_err(fail)?;
        return Ok(());
    }
    if app != APPLICATION_ID {
        let listed = if tables.is_empty() { "no tables".to_owned() } else { format!("tables: {}", tables.join(", ")) };
        return Err(Error::Outbox(
            OutboxFault::Foreign,
            format!(
                "{shown} is not an outbox but a SQLite database of another application (application_id {app:#x}, {listed}); \
                 it was left as it is: choose another file"
            ),
        ));
    }
    if version > VERSION {
        return Err(Error::Outbox(
            OutboxFault::Version,
            format!("{shown} was written by a newer version of directus-chat (layout {version}, this one reads {VERSION}); it was left as it is"),
        ));
    }
    if version != VERSION || !tables.iter().any(|t| t == "entries") {
        return Err(Error::Outbox(
            OutboxFault::Corrupt,
            format!("{shown} is an outbox whose layout is damaged (version {version}, {} tables); it was left as it is", tables.len()),
        ));
    }
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(fail)?;
    if check != "ok" {
        return Err(Error::Outbox(
            OutboxFault::Corrupt,
            format!("{shown} is damaged (SQLite integrity check: {check}); it was left as it is: move it away to start a new outbox"),
        ));
    }
    // Every row must be readable now, not fail later in the middle of a session.
    let bad: Option<i64> =
        conn.query_row("SELECT local_id FROM entries WHERE json_valid(data) = 0 LIMIT 1", [], |r| r.get(0)).optional().map_err(fail)?;
    if let Some(id) = bad {
        return Err(Error::Outbox(
            OutboxFault::Corrupt,
            format!("{shown}: entry {id} holds data that is not JSON; the file was left as it is"),
        ));
    }
    Ok(())
}

/// The outbox error for a SQLite failure on the file `shown`.
fn fault(shown: &str, e: rusqlite::Error) -> Error {
    let code = e.sqlite_error_code();
    match code {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Outbox(
            OutboxFault::Locked,
            format!("{shown} is in use by another client (in this process or another one holds its lock); one outbox serves one client at a time"),
        ),
        Some(ErrorCode::NotADatabase) => Error::Outbox(
            OutboxFault::Corrupt,
            format!("{shown} is not an outbox: not a SQLite database (damaged, or another kind of file); it was left as it is"),
        ),
        Some(ErrorCode::DatabaseCorrupt) => {
            Error::Outbox(OutboxFault::Corrupt, format!("{shown} is damaged ({e}); it was left as it is: move it away to start a new outbox"))
        }
        _ => Error::Outbox(OutboxFault::Io, format!("{shown}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn temp() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        (dir, path)
    }

    #[test]
    fn entries_survive_a_reopen_in_order_with_their_attempts_and_failures() {
        let (_dir, path) = temp();
        {
            let mut s = Store::open(&path).unwrap();
            let a = s.insert("messages", "client_key", "k1", true, &json!({"text":"a","client_key":"k1"})).unwrap();
            let b = s.insert("messages", "client_key", "k2", true, &json!({"text":"b","client_key":"k2"})).unwrap();
            let c = s.insert("messages", "id", "k3", false, &json!({"text":"c","id":"k3"})).unwrap();
            assert!(a.local_id < b.local_id && b.local_id < c.local_id);
            s.attempt(a.local_id, false).unwrap();
            s.fail(b.local_id, &Error::Server(ServerError::new("INVALID_PAYLOAD", "bad")), false).unwrap();
            s.set_data(c.local_id, &json!({"text":"c2","id":"k3"})).unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        let all = s.load().unwrap();
        assert_eq!(all.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["k1", "k2", "k3"]);
        assert_eq!(all[0].attempts, 1);
        assert!(matches!(&all[1].state, OutboxState::Failed { error, retryable: false } if error.code() == "INVALID_PAYLOAD"));
        assert_eq!(all[2].data["text"], "c2");
        assert!(all[0].own_key && !all[2].own_key);
        assert!(s.fail(99, &Error::Timeout, true).is_err(), "an unknown entry is an error");
    }

    #[test]
    fn a_second_open_meets_the_lock_until_the_first_closes() {
        let (_dir, path) = temp();
        let first = Store::open(&path).unwrap();
        let e = Store::open(&path).err().expect("locked");
        assert_eq!(e.code(), "OUTBOX_LOCKED", "{e}");
        drop(first);
        Store::open(&path).unwrap();
    }

    #[test]
    fn foreign_damaged_and_newer_files_are_refused_and_left_as_they_were() {
        let (dir, path) = temp();
        // Not a database at all.
        std::fs::write(&path, b"hello, this is a text file and not an outbox at all..............................................")
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let e = Store::open(&path).err().unwrap();
        assert_eq!(e.code(), "OUTBOX_CORRUPT", "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), before);

        // Another application's database.
        let foreign = dir.path().join("notes.db");
        Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('x');").unwrap();
        let before = std::fs::read(&foreign).unwrap();
        let e = Store::open(&foreign).err().unwrap();
        assert_eq!(e.code(), "OUTBOX_FOREIGN", "{e}");
        assert!(e.to_string().contains("notes"), "{e}");
        assert_eq!(std::fs::read(&foreign).unwrap(), before);

        // A newer layout.
        let newer = dir.path().join("newer.db");
        drop(Store::open(&newer).unwrap());
        Connection::open(&newer).unwrap().pragma_update(None, "user_version", VERSION + 1).unwrap();
        assert_eq!(Store::open(&newer).err().unwrap().code(), "OUTBOX_VERSION");
    }

    #[test]
    fn a_damaged_outbox_is_refused_with_its_entries_kept() {
        let (_dir, path) = temp();
        {
            let mut s = Store::open(&path).unwrap();
            for i in 0..200 {
                let key = format!("key-{i}");
                s.insert("messages", "client_key", &key, true, &json!({"text": "x".repeat(200), "client_key": key})).unwrap();
            }
        }
        // Overwrite the middle of the file (table pages) with garbage.
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 16 * 4096, "{} bytes", bytes.len());
        for b in &mut bytes[8 * 4096..10 * 4096] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let e = Store::open(&path).err().expect("damaged");
        assert_eq!(e.code(), "OUTBOX_CORRUPT", "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "left as it was");
    }
}
