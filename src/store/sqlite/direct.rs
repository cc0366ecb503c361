//! The writer's own connection to the database file, driven through
//! SQLite's C interface on the writer task's thread: a batch with nothing
//! to read first (the common case: requests without Idempotency-Keys,
//! deduplication or caps, and attempts' outcomes) is written and committed
//! there, with no hand-off to a connection thread and back. Through sqlx,
//! each execution is a message to the connection's thread and a wake-up of
//! the writer for each statement's result; under load the writer spent
//! more of each batch waiting for those than SQLite spent writing. See
//! docs/decisions/0044-the-writer-writes-on-its-own-thread.md. It opens
//! the file through the [`wal_writes`] VFS, which writes a commit's WAL
//! frames in one system call (one for each 120 KiB).
//!
//! It waits for no lock: another connection writing (a claim, a template
//! saved, a purge, another process on the file) makes it hand the batch
//! back. The writer then takes the pool's connection, which waits for its
//! turn on its own thread, and tries here again; only if the lock is still
//! taken does the batch go through the pool's connection
//! (`writer::write_plain`).

use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;

use super::super::dialect::{Shape, ValueRef, Write};
use super::super::{sqlite_unavailable, StoreError};
use super::wal_writes;

/// Statement texts kept prepared at most; past it the cache starts over.
/// The writer's shapes number a few dozen (six statements, twelve
/// `VALUES` sizes).
const MAX_PREPARED: usize = 256;

/// How the writer's connection is opened: the file and the settings the
/// pool's writer connection has.
#[derive(Clone, Debug)]
pub struct DirectConfig {
    pub path: PathBuf,
    pub full_sync: bool,
    /// `wal_autocheckpoint` in pages, when a checkpointer runs beside.
    pub autocheckpoint: Option<u32>,
    /// `max_page_count`, when the file's size is bounded.
    pub max_pages: Option<u64>,
}

/// The writer's connection, opened on first use and again after a failed
/// write.
pub struct Direct {
    config: DirectConfig,
    conn: Option<Conn>,
    /// Opening failed: every batch goes through the pool.
    unusable: bool,
}

/// Why a batch was not written here.
pub enum NotWritten {
    /// Another connection holds the write lock (or the connection could
    /// not be opened): write it through the pool.
    Busy,
    /// The batch failed and was rolled back.
    Failed(StoreError),
}

impl Direct {
    pub fn new(config: DirectConfig) -> Direct {
        Direct {
            config,
            conn: None,
            unusable: false,
        }
    }

    /// Writes `writes` (their [pieces](Write::pieces)) as one transaction.
    pub fn write(&mut self, writes: &[Write<'_>]) -> Result<(), NotWritten> {
        if self.unusable {
            return Err(NotWritten::Busy);
        }
        if self.conn.is_none() {
            match Conn::open(&self.config) {
                Ok(c) => self.conn = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e.message, "the writer's own connection to the database file did not open; writing through the pool's");
                    // Locked for a moment (a recovery): try again next time.
                    self.unusable = !e.busy();
                    return Err(NotWritten::Busy);
                }
            }
        }
        let conn = self.conn.as_mut().expect("opened above");
        match conn.transaction(writes) {
            Ok(()) => Ok(()),
            Err(e) if e.busy() => Err(NotWritten::Busy),
            Err(e) => {
                // Closed, as the pool's writer connection is after a failed
                // write: SQLite may have rolled back already and left the
                // connection refusing the next BEGIN.
                self.conn = None;
                Err(NotWritten::Failed(e.into_store_error()))
            }
        }
    }
}

#[cfg(test)]
impl Direct {
    /// Statements kept prepared (none while closed).
    pub fn prepared(&self) -> usize {
        self.conn.as_ref().map_or(0, |c| c.prepared.len())
    }
}

/// An error SQLite reported, with its extended result code.
#[derive(Debug)]
struct Error {
    code: c_int,
    message: String,
}

impl Error {
    fn busy(&self) -> bool {
        matches!(self.code & 0xff, ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED)
    }

    /// Classified as the pool's errors are ([`sqlite_unavailable`]): a
    /// full disk or an I/O error is the database's, not the batch's.
    fn into_store_error(self) -> StoreError {
        let text = format!("SQLite: {} (code {})", self.message, self.code);
        match sqlite_unavailable(self.code.into()) {
            Some(kind) => StoreError::Unavailable(kind, text),
            None => StoreError::Db(sqlx::Error::Protocol(text)),
        }
    }
}

/// An open connection and its prepared statements.
struct Conn {
    db: NonNull<ffi::sqlite3>,
    prepared: HashMap<Shape, NonNull<ffi::sqlite3_stmt>>,
    /// The text of a statement being prepared, kept to reuse its
    /// allocation.
    text: String,
}

// SAFETY: the connection is opened in SQLite's multi-thread mode (NOMUTEX)
// and used by one task at a time (the writer owns it); moving it between
// threads between calls is what that mode allows.
unsafe impl Send for Conn {}

impl Conn {
    fn open(config: &DirectConfig) -> Result<Conn, Error> {
        let path = CString::new(config.path.as_os_str().as_encoded_bytes()).map_err(|_| Error {
            code: ffi::SQLITE_CANTOPEN,
            message: "the database path holds a NUL byte".into(),
        })?;
        let mut db = ptr::null_mut();
        // SAFETY: a valid C string and out pointer; SQLite allocates the
        // handle even when opening fails, so it is closed on every path.
        let rc = unsafe {
            ffi::sqlite3_open_v2(
                path.as_ptr(),
                &mut db,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX,
                wal_writes::vfs_name(),
            )
        };
        let Some(db) = NonNull::new(db) else {
            return Err(Error {
                code: ffi::SQLITE_NOMEM,
                message: "no memory for a connection".into(),
            });
        };
        let mut conn = Conn {
            db,
            prepared: HashMap::new(),
            text: String::new(),
        };
        if rc != ffi::SQLITE_OK {
            return Err(conn.error(rc));
        }
        // SAFETY: an open handle; the options take ints and a null pointer.
        unsafe {
            ffi::sqlite3_extended_result_codes(conn.db.as_ptr(), 1);
            // Plans that don't depend on bound values, as every pooled
            // connection has (`stable_plans`).
            ffi::sqlite3_db_config(
                conn.db.as_ptr(),
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                ptr::null_mut::<c_int>(),
            );
        }
        // Foreign keys are not checked here: this connection writes only
        // what `writer::Written` makes of requests with nothing to read
        // first, whose notifications are inserted before their
        // deliveries in the same transaction, so the one foreign key it
        // could break (a delivery's notification) holds by construction.
        // Checked, each delivery paid a lookup of its notification and its
        // INSERT a statement journal (docs/decisions/0047-the-writers-own-
        // connection-writes-without-statement-journals.md). Every other
        // connection checks them.
        let mut pragmas = format!(
            "PRAGMA busy_timeout = 0; PRAGMA foreign_keys = OFF; PRAGMA synchronous = {}; \
             PRAGMA cache_size = -16384; PRAGMA temp_store = memory;",
            if config.full_sync { "FULL" } else { "NORMAL" }
        );
        if let Some(pages) = config.autocheckpoint {
            pragmas.push_str(&format!(" PRAGMA wal_autocheckpoint = {pages};"));
        }
        if let Some(pages) = config.max_pages {
            pragmas.push_str(&format!(" PRAGMA max_page_count = {pages};"));
        }
        conn.exec(&pragmas)?;
        Ok(conn)
    }

    fn error(&self, rc: c_int) -> Error {
        // SAFETY: an open handle; the message is copied before the next
        // call on it.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.db.as_ptr())) }
            .to_string_lossy()
            .into_owned();
        let code = unsafe { ffi::sqlite3_extended_errcode(self.db.as_ptr()) };
        Error {
            code: if code == ffi::SQLITE_OK { rc } else { code },
            message,
        }
    }

    /// Runs statements that bind nothing and return nothing.
    fn exec(&mut self, sql: &str) -> Result<(), Error> {
        let sql = CString::new(sql).expect("no NUL in the writer's texts");
        // SAFETY: an open handle and a C string; no callback.
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.db.as_ptr(),
                sql.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        match rc {
            ffi::SQLITE_OK => Ok(()),
            rc => Err(self.error(rc)),
        }
    }

    /// Prepares `sql`, one statement, to be kept.
    fn prepare(&mut self, sql: &str) -> Result<*mut ffi::sqlite3_stmt, Error> {
        let mut stmt = ptr::null_mut();
        let mut tail = ptr::null();
        // SAFETY: the text's pointer and exact length; SQLite copies what
        // it keeps.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db.as_ptr(),
                sql.as_ptr() as *const c_char,
                sql.len() as c_int,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error(rc));
        }
        if stmt.is_null() {
            return Err(Error {
                code: ffi::SQLITE_MISUSE,
                message: "an empty statement".into(),
            });
        }
        let used = tail as usize - sql.as_ptr() as usize;
        if !sql[used..].trim().is_empty() {
            // SAFETY: prepared just above and not used since.
            unsafe { ffi::sqlite3_finalize(stmt) };
            return Err(Error {
                code: ffi::SQLITE_MISUSE,
                message: "one statement at a time".into(),
            });
        }
        Ok(stmt)
    }

    /// The prepared statement of `shape`, its text written by `text` when
    /// it is not prepared yet.
    fn prepared(
        &mut self,
        shape: Shape,
        text: impl FnOnce(&mut String),
    ) -> Result<*mut ffi::sqlite3_stmt, Error> {
        if let Some(s) = self.prepared.get(&shape) {
            return Ok(s.as_ptr());
        }
        if self.prepared.len() >= MAX_PREPARED {
            self.finalize_all();
        }
        let mut sql = std::mem::take(&mut self.text);
        sql.clear();
        text(&mut sql);
        let stmt = self.prepare(&sql);
        self.text = sql;
        let stmt = stmt?;
        self.prepared
            .insert(shape, NonNull::new(stmt).expect("checked in prepare"));
        Ok(stmt)
    }

    fn finalize_all(&mut self) {
        for (_, s) in self.prepared.drain() {
            // SAFETY: each was prepared on this connection and is dropped
            // from the map here.
            unsafe { ffi::sqlite3_finalize(s.as_ptr()) };
        }
    }

    /// Runs the statement of `shape` to its end, binding values by
    /// position with `bind` (the rest stay NULL).
    fn run(
        &mut self,
        shape: Shape,
        text: impl FnOnce(&mut String),
        bind: impl FnOnce(&mut Binder),
    ) -> Result<(), Error> {
        let stmt = self.prepared(shape, text)?;
        let mut b = Binder {
            stmt,
            at: 0,
            rc: ffi::SQLITE_OK,
        };
        bind(&mut b);
        let mut rc = b.rc;
        if rc == ffi::SQLITE_OK {
            loop {
                // SAFETY: a prepared statement of this connection with its
                // parameters bound to memory that outlives this call.
                rc = unsafe { ffi::sqlite3_step(stmt) };
                if rc != ffi::SQLITE_ROW {
                    break;
                }
            }
        }
        let err = match rc {
            ffi::SQLITE_OK | ffi::SQLITE_DONE => None,
            rc => Some(self.error(rc)),
        };
        // SAFETY: as above. Reset ends the statement (releasing its read of
        // the file); the bindings point at the caller's values, so they
        // are cleared before those go.
        unsafe {
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
        }
        err.map_or(Ok(()), Err)
    }

    fn simple(&mut self, sql: &'static str) -> Result<(), Error> {
        self.run(Shape::text(sql), |t| t.push_str(sql), |_| {})
    }

    /// BEGIN IMMEDIATE, each piece of `writes`, COMMIT; rolled back on
    /// failure.
    fn transaction(&mut self, writes: &[Write<'_>]) -> Result<(), Error> {
        self.simple("BEGIN IMMEDIATE")?;
        let r = writes.iter().try_for_each(|w| self.write(w));
        let r = r.and_then(|()| self.simple("COMMIT"));
        if r.is_err() {
            // SAFETY: an open handle.
            if unsafe { ffi::sqlite3_get_autocommit(self.db.as_ptr()) } == 0 {
                let _ = self.exec("ROLLBACK");
            }
            // SAFETY: an open handle, used by this task alone.
            unsafe { wal_writes::forget_uncommitted(self.db.as_ptr()) }
        }
        r
    }

    fn write(&mut self, w: &Write<'_>) -> Result<(), Error> {
        if w.rows() > super::super::dialect::VALUES_PIECE {
            return Err(Error {
                code: ffi::SQLITE_MISUSE,
                message: "a write longer than one piece".into(),
            });
        }
        self.run(
            w.shape(),
            |t| {
                w.sqlite_text(t);
                or_fail(t);
            },
            |b| w.each_value(|v| b.bind(v)),
        )
    }
}

/// `INSERT OR FAIL` and `UPDATE OR FAIL` for an `INSERT` or `UPDATE`: a
/// statement of many rows that may stop midway (`ABORT`, the default)
/// keeps a statement journal, a copy of each page it changes, to undo its
/// own rows. Here a failed statement rolls back the whole transaction
/// (`Conn::transaction`), so `FAIL` (stop, keep the rows before) ends the
/// same and copies nothing.
fn or_fail(sql: &mut String) {
    for verb in ["INSERT", "UPDATE"] {
        if sql.starts_with(verb) && sql[verb.len()..].starts_with(' ') {
            sql.insert_str(verb.len(), " OR FAIL");
            return;
        }
    }
}

/// Binds a statement's parameters in order.
struct Binder {
    stmt: *mut ffi::sqlite3_stmt,
    at: c_int,
    rc: c_int,
}

impl Binder {
    fn bind(&mut self, v: ValueRef<'_>) {
        self.at += 1;
        if self.rc != ffi::SQLITE_OK {
            return;
        }
        // SAFETY: a prepared statement; text is bound without a copy
        // (SQLITE_STATIC) and the bindings are cleared before the value is
        // dropped (`Conn::run`).
        self.rc = unsafe {
            match v {
                ValueRef::Text(Some(t)) => ffi::sqlite3_bind_text(
                    self.stmt,
                    self.at,
                    t.as_ptr() as *const c_char,
                    t.len() as c_int,
                    ffi::SQLITE_STATIC(),
                ),
                ValueRef::Int(Some(i)) => ffi::sqlite3_bind_int64(self.stmt, self.at, i),
                ValueRef::Text(None) | ValueRef::Int(None) => {
                    ffi::sqlite3_bind_null(self.stmt, self.at)
                }
            }
        };
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.finalize_all();
        // SAFETY: every statement is finalized; the handle is not used
        // again.
        unsafe { ffi::sqlite3_close(self.db.as_ptr()) };
    }
}

/// Whether `path` is a file another connection can open (not an
/// in-memory database).
pub fn shareable(path: &Path) -> bool {
    let s = path.as_os_str();
    !s.is_empty() && s != ":memory:" && !s.as_encoded_bytes().starts_with(b"file:")
}

#[cfg(test)]
mod tests {
    use super::or_fail;

    #[test]
    fn inserts_and_updates_fail_without_undoing_their_own_rows() {
        for (sql, want) in [
            (
                "INSERT INTO t (a) VALUES (?)",
                "INSERT OR FAIL INTO t (a) VALUES (?)",
            ),
            (
                "UPDATE deliveries SET status = v.column2 FROM ",
                "UPDATE OR FAIL deliveries SET status = v.column2 FROM ",
            ),
            ("BEGIN IMMEDIATE", "BEGIN IMMEDIATE"),
            ("COMMIT", "COMMIT"),
            ("INSERTED", "INSERTED"),
        ] {
            let mut s = sql.to_string();
            or_fail(&mut s);
            assert_eq!(s, want);
        }
    }
}
