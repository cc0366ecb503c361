//! SQLite: an embedded file in WAL mode. Reads use a pool; every write goes
//! through one connection (SQLite allows one writer at a time, and queueing
//! writers in the pool is cheaper and fairer than retrying on SQLITE_BUSY).
//! Accepted requests are committed in groups by one writer task.
//!
//! The statements are shared ([`super::dialect`]); this module opens the
//! pools, runs the writer and the checkpointer, and says what SQLite does
//! its own way ([`Dialect`] for `Sqlite`). The held deduplication scopes
//! ([`held`]) are SQLite's alone.

mod direct;
mod held;
mod wal_writes;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};

use futures::stream::BoxStream;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Sqlite;

use self::direct::{Direct, DirectConfig, NotWritten};
use self::held::HeldScopes;
use super::dialect::{
    due_in_priority, next_due_sql, Dialect, DueIndex, Engine, Write, INSERT_CHUNK,
    WAITING_EQUALITIES,
};
use super::events::Subscribed;
use super::handoff::Handoff;
use super::writer::{run_writer, WriteQueue, WriterConn};
use super::{StoreResult, Unavailable};
use crate::config::{Backend, DatabaseConfig};
use sqlx::migrate::Migrator;
use sqlx::Connection;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::LazyLock;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    write_queue: WriteQueue,
    handoff: Arc<Handoff>,
    /// The event types enabled endpoints want (store::events).
    subscribed: Arc<Subscribed>,
    /// Wakes the checkpointer after writes (when there is one).
    wrote: Option<Arc<Notify>>,
    /// Stops the checkpointer when the store goes.
    _checkpointer: Option<DropGuard>,
    /// Asks the group-commit writer to give the write connection back to
    /// the pool after its batch (it keeps it while jobs keep coming).
    wanted: Arc<AtomicBool>,
    /// Set while accepted requests can't be written for lack of space
    /// (SQLITE_FULL or an I/O error); cleared by the next write that
    /// succeeds.
    full: Arc<AtomicBool>,
}

/// The WAL size (pages) at which the writer checkpoints itself, when a
/// checkpointer of its own normally does it: only reached if that one
/// falls behind.
const BACKSTOP_CHECKPOINT_PAGES: u32 = 4_000;

/// Creates the database file 0600 before SQLite does (SQLite gives its -wal
/// and -shm files the database file's mode), and takes group and other
/// access away from one made wider before.
fn private_database_files(db: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = db.as_os_str().to_string_lossy();
    if name.is_empty() || name.starts_with(':') {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(crate::private_files::FILE_MODE)
        .open(db)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        crate::private_files::tighten(std::path::Path::new(&p))?;
    }
    Ok(())
}

/// Plans that don't depend on the values bound (SQLite's query planner
/// stability guarantee). Without it, a statement whose `LIMIT` is a bound
/// value is planned for that value and prepared again whenever the next
/// run binds another (the claim's, every time the workers' room changes),
/// so keeping it prepared saved nothing. Nothing here needs
/// a plan made for a value: no statement compares a bound value with a
/// partial index's condition, and there are no statistics.
async fn stable_plans(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    use libsqlite3_sys as ffi;
    let mut h = conn.lock_handle().await?;
    let db = h.as_raw_handle().as_ptr();
    // SAFETY: the handle is locked (sqlx's connection thread is not using
    // it) and the option takes an int and an int pointer, which may be null.
    let rc = unsafe {
        ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        )
    };
    match rc {
        ffi::SQLITE_OK => Ok(()),
        _ => Err(match h.last_error() {
            Some(e) => sqlx::Error::Database(Box::new(e)),
            None => sqlx::Error::Protocol(format!("SQLite refused QPSG ({rc})")),
        }),
    }
}

/// SQLite allocates through mimalloc (the allocator the server uses for
/// everything else) and keeps no memory statistics. By default it takes a
/// process-wide mutex around every allocation and free to count them, and
/// allocates through the C library's malloc; a delivery costs SQLite some
/// sixty allocations. Nothing reads the statistics (`sqlite3_memory_used`,
/// soft heap limits). Library-wide settings, so they apply only before
/// SQLite is first used in the process; after that this does nothing.
/// See docs/decisions/0040-sqlite-allocates-through-mimalloc.md.
pub fn configure_library() {
    use libmimalloc_sys as mi;
    use libsqlite3_sys as ffi;
    use std::ffi::{c_int, c_void};
    unsafe extern "C" fn malloc(n: c_int) -> *mut c_void {
        // SAFETY: any size; SQLite never asks for a negative one.
        unsafe { mi::mi_malloc(n.max(0) as usize) }
    }
    unsafe extern "C" fn free(p: *mut c_void) {
        // SAFETY: SQLite frees only what `malloc`/`realloc` above returned.
        unsafe { mi::mi_free(p) }
    }
    unsafe extern "C" fn realloc(p: *mut c_void, n: c_int) -> *mut c_void {
        // SAFETY: as for `free`; the size as for `malloc`.
        unsafe { mi::mi_realloc(p, n.max(0) as usize) }
    }
    unsafe extern "C" fn size(p: *mut c_void) -> c_int {
        // SAFETY: as for `free`.
        unsafe { mi::mi_usable_size(p) }.min(c_int::MAX as usize) as c_int
    }
    unsafe extern "C" fn roundup(n: c_int) -> c_int {
        // SAFETY: a pure function of the size.
        unsafe { mi::mi_good_size(n.max(0) as usize) }.min(c_int::MAX as usize) as c_int
    }
    unsafe extern "C" fn init(_: *mut c_void) -> c_int {
        ffi::SQLITE_OK
    }
    unsafe extern "C" fn shutdown(_: *mut c_void) {}
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let methods = ffi::sqlite3_mem_methods {
            xMalloc: Some(malloc),
            xFree: Some(free),
            xRealloc: Some(realloc),
            xSize: Some(size),
            xRoundup: Some(roundup),
            xInit: Some(init),
            xShutdown: Some(shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: both options are valid before sqlite3_initialize (they
        // return SQLITE_MISUSE after it, changing nothing); SQLite copies
        // the methods, and the functions live as long as the process.
        let rcs = unsafe {
            [
                ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int),
                ffi::sqlite3_config(
                    ffi::SQLITE_CONFIG_MALLOC,
                    &methods as *const ffi::sqlite3_mem_methods,
                ),
            ]
        };
        if rcs != [ffi::SQLITE_OK; 2] {
            tracing::debug!(
                ?rcs,
                "SQLite was in use already: its allocator is unchanged"
            );
        }
    });
}

impl SqliteStore {
    pub async fn open(cfg: &DatabaseConfig) -> StoreResult<Self> {
        configure_library();
        let mut opts = SqliteConnectOptions::from_str(&cfg.url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if cfg.sqlite_full_sync {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("cache_size", "-16384")
            .pragma("temp_store", "memory");
        if let Some(dir) = opts.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                crate::private_files::create_dir(dir).map_err(sqlx::Error::Io)?;
            }
        }
        private_database_files(opts.get_filename()).map_err(sqlx::Error::Io)?;
        // Room for the shapes of the writer's statements: six multi-row
        // writes, twelve sizes each, folded by group (`FOLD`): the
        // accepted part and the outcomes' part, a few dozen shapes each.
        opts = opts.statement_cache_capacity(512);
        let mut write_opts = opts.clone();
        let file = opts.get_filename().to_path_buf();
        if cfg.sqlite_checkpoint_interval.is_some() {
            write_opts =
                write_opts.pragma("wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES.to_string());
        }
        if let Some(bytes) = cfg.sqlite_max_bytes {
            // Pages of SQLite's default 4 KiB; the file never shrinks below
            // what it holds already.
            write_opts = write_opts.pragma("max_page_count", (bytes / 4096).max(1).to_string());
        }
        // A connection to a local file can't go stale: no ping before each
        // use (on the writer, one round trip to its thread per transaction).
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            .after_release(|conn, _| Box::pin(close_if_in_transaction(conn)))
            .after_connect(|conn, _| Box::pin(stable_plans(conn)))
            .connect_with(write_opts)
            .await?;
        MIGRATOR.run(&write).await?;
        let (wrote, checkpointer) = match cfg.sqlite_checkpoint_interval {
            Some(every) => {
                let conn = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .connect_with(opts.clone())
                    .await?;
                let wrote = Arc::new(Notify::new());
                let stop = CancellationToken::new();
                tokio::spawn(checkpoint_after_writes(
                    conn,
                    wrote.clone(),
                    every,
                    stop.clone(),
                ));
                (Some(wrote), Some(stop.drop_guard()))
            }
            None => (None, None),
        };
        let read = SqlitePoolOptions::new()
            .max_connections(cfg.max_connections)
            .test_before_acquire(false)
            .after_connect(|conn, _| Box::pin(stable_plans(conn)))
            .acquire_timeout(cfg.acquire_timeout)
            .connect_with(opts.read_only(true))
            .await?;
        // Read the held deduplication scopes now rather than in the first
        // request; the writer reads whatever is appended after.
        let mut held = WriterState::default();
        catch_up(&mut *read.acquire().await?, &mut held.scopes).await?;
        if direct::shareable(&file) {
            held.direct = Some(Direct::new(DirectConfig {
                path: file,
                full_sync: cfg.sqlite_full_sync,
                autocheckpoint: cfg
                    .sqlite_checkpoint_interval
                    .map(|_| BACKSTOP_CHECKPOINT_PAGES),
                max_pages: cfg.sqlite_max_bytes.map(|bytes| (bytes / 4096).max(1)),
            }));
        }
        let (write_queue, rx) = WriteQueue::new(4096);
        let pool = write.clone();
        let accepted = wrote.clone();
        let full = Arc::new(AtomicBool::new(false));
        let writes = full.clone();
        let handoff = Arc::new(Handoff::default());
        let workers = handoff.clone();
        let subscribed = Arc::new(Subscribed::default());
        let subs = subscribed.clone();
        let wanted = Arc::new(AtomicBool::new(false));
        let conn = WriterConn::new(pool, Some(wanted.clone()));
        tokio::spawn(run_writer::<Sqlite>(
            rx,
            conn,
            held,
            workers,
            subs,
            move |r| {
                match r {
                    Ok(()) => writes.store(false, Ordering::Relaxed),
                    Err(Unavailable::Full) => writes.store(true, Ordering::Relaxed),
                    Err(Unavailable::Down) => {}
                }
                if let Some(w) = &accepted {
                    w.notify_one();
                }
            },
        ));
        Ok(SqliteStore {
            read,
            write,
            write_queue,
            handoff,
            subscribed,
            wrote,
            _checkpointer: checkpointer,
            wanted,
            full,
        })
    }
}

/// Closes the writer's connection instead of returning it to the pool when
/// a transaction is still open on it: when a write fails for lack of space
/// (SQLITE_FULL, I/O errors) SQLite may have rolled the transaction back
/// already, the driver's own ROLLBACK then fails, and the connection would
/// refuse every later BEGIN. The pool opens a fresh one for the next write.
async fn close_if_in_transaction(conn: &mut sqlx::SqliteConnection) -> sqlx::Result<bool> {
    // A committed or rolled-back transaction leaves nothing to wait for: the
    // connection's worker answered it already.
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // Runs the rollback a dropped transaction queued.
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!(
            "the database writer's connection was left in a transaction; opening a new one"
        );
        return Ok(false);
    }
    Ok(true)
}

/// Reads the deduplication claims appended since `held` last looked. Rows
/// come in chunks of up to `CATCH_UP_CHUNK`, each as one string, because
/// at start this may be the whole log: a million rows one by one take
/// about 4 s through the driver, and 1 s this way.
async fn catch_up(db: &mut sqlx::SqliteConnection, held: &mut HeldScopes) -> StoreResult<()> {
    const CATCH_UP_CHUNK: i64 = 10_000;
    let now = crate::util::now_ms();
    loop {
        // Scopes are base64url after a kind letter: never a space.
        let (last, rows, n): (Option<i64>, Option<String>, i64) = sqlx::query_as(
            "SELECT MAX(seq), group_concat(seq || ' ' || scope || ' ' || expires_at, ' '), COUNT(*) FROM \
             (SELECT seq, scope, expires_at FROM dedup_log WHERE seq > $1 ORDER BY seq LIMIT $2)",
        )
        .bind(held.seen())
        .bind(CATCH_UP_CHUNK)
        .fetch_one(&mut *db)
        .await?;
        let (Some(last), Some(rows)) = (last, rows) else {
            return Ok(());
        };
        let mut fields = rows.split(' ');
        while let (Some(seq), Some(scope), Some(until)) =
            (fields.next(), fields.next(), fields.next())
        {
            match (seq.parse(), until.parse()) {
                (Ok(seq), Ok(until)) => held.note(seq, scope, until, now),
                _ => tracing::error!(seq, "unreadable dedup_log row"),
            }
        }
        held.note_seen(last);
        if n < CATCH_UP_CHUNK {
            return Ok(());
        }
    }
}

/// Copies the WAL back into the database file soon after writes, on a
/// connection of its own: the writer then never pauses a commit group for
/// a checkpoint and its fsyncs. PASSIVE waits for no one, so it runs
/// beside the writer and the readers; an idle store sleeps here without
/// waking.
async fn checkpoint_after_writes(
    conn: SqlitePool,
    wrote: Arc<Notify>,
    every: Duration,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = wrote.notified() => {}
            _ = stop.cancelled() => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => break,
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&conn)
            .await
        {
            tracing::warn!(error = %e, "checkpointing the SQLite WAL failed; the writer will do it");
        }
    }
    conn.close().await;
}

/// Statements of a batch sent to SQLite's connection thread in one
/// execution ([`Dialect::write_alone`], [`Dialect::run_writes`]). A batch
/// under load holds six: the notifications and the deliveries accepted,
/// then, as a group of their own ([`Write::is_apart`]), the outcomes, the
/// attempts and two statistics rows. A folded text is prepared and cached
/// whole, so a group starts a new execution: the texts follow one group's
/// row counts (a few dozen shapes), not every combination of both (some
/// hundreds, each prepared once more).
const FOLD: usize = 8;

/// Runs `writes`' statements ([pieces](Write::pieces)) in order, as
/// [`folded`] groups them.
async fn run_folded(
    conn: &mut sqlx::SqliteConnection,
    writes: Vec<Write<'_>>,
    around: Option<(&str, &str)>,
) -> StoreResult<()> {
    for mut q in folded(writes, around) {
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// `writes`' statements ([pieces](Write::pieces)) in order, up to [`FOLD`]
/// to an execution and a group ([`Write::is_apart`]) starting a new one,
/// the first preceded by `around.0` and the last followed by `around.1`
/// (a transaction's BEGIN and COMMIT).
fn folded(writes: Vec<Write<'_>>, around: Option<(&str, &str)>) -> Vec<sqlx::QueryBuilder<Sqlite>> {
    let pieces: Vec<Write> = writes.into_iter().flat_map(Write::pieces).collect();
    let n = pieces.len();
    let mut pieces = pieces.into_iter().enumerate().peekable();
    let mut out = Vec::new();
    while pieces.peek().is_some() {
        let mut q = sqlx::QueryBuilder::<Sqlite>::new("");
        let mut taken = 0;
        while let Some((i, w)) =
            pieces.next_if(|(_, w)| taken == 0 || (taken < FOLD && !w.is_apart()))
        {
            taken += 1;
            match around {
                Some((begin, _)) if i == 0 => {
                    q.push(begin);
                    q.push("; ");
                }
                _ if taken > 1 => {
                    q.push("; ");
                }
                _ => {}
            }
            w.push(&mut q);
            if let (Some((_, commit)), true) = (around, i + 1 == n) {
                q.push("; ");
                q.push(commit);
            }
        }
        out.push(q);
    }
    out
}

/// What SQLite's writer task keeps between its transactions: the held
/// deduplication scopes, and its own connection to the file (none for an
/// in-memory database).
#[derive(Default)]
pub struct WriterState {
    scopes: HeldScopes,
    direct: Option<Direct>,
}

/// Rows a batch may hold and still be written on the writer's thread
/// without telling the runtime it blocks: a millisecond or two of
/// SQLite's work.
const INLINE_ROWS: usize = 256;

impl Dialect for Sqlite {
    type Held = WriterState;
    const NOTIFY: Option<&'static str> = None;
    /// Counting by creation time: without statistics the planner walks the
    /// whole status index (in GROUP BY order) instead of the range of the
    /// covering (created_at, status, channel) index.
    const BY_CREATED: &'static str = " INDEXED BY deliveries_created";
    const WAITING: &'static str = WAITING_EQUALITIES;
    const WRITES_ON_THIS_THREAD: bool = true;
    /// Frequency caps need no lock: the accepting transaction takes
    /// SQLite's write lock up front (BEGIN IMMEDIATE), so counts and inserts
    /// of other processes sharing the file can't interleave.
    const CAP_LOCK: Option<&'static str> = None;
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";

    /// The writes go to the connection's thread together, up to
    /// [`FOLD`] statements in one execution, the first carrying the
    /// `BEGIN IMMEDIATE` and the last the `COMMIT`: each execution is a
    /// hand-off to that thread and back (two thread wake-ups), and a batch
    /// under load holds six statements. Each statement's row count is
    /// padded to one of twelve (`dialect::VALUES_SIZES`), so the texts
    /// stay few and prepared. A write that fails leaves the transaction
    /// open: it is rolled back here, and the writer closes the connection.
    async fn write_alone(
        conn: &mut sqlx::SqliteConnection,
        writes: Vec<Write<'_>>,
        _notify: bool,
    ) -> StoreResult<()> {
        let r = run_folded(&mut *conn, writes, Some((Self::BEGIN_WRITE, "COMMIT"))).await;
        if r.is_err() {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
        }
        r
    }
    /// On the writer's own connection, on this thread ([`direct`]); for
    /// a large batch the runtime is told this thread blocks, so its other
    /// tasks move to another.
    fn write_held<'a>(
        held: &mut WriterState,
        writes: Vec<Write<'a>>,
    ) -> Result<StoreResult<()>, Vec<Write<'a>>> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let Some(direct) = held.direct.as_mut() else {
            return Err(writes);
        };
        let pieces: Vec<Write> = writes.into_iter().flat_map(Write::pieces).collect();
        let rows: usize = pieces.iter().map(Write::rows).sum();
        let large = rows > INLINE_ROWS
            && Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
        let r = if large {
            tokio::task::block_in_place(|| direct.write(&pieces))
        } else {
            direct.write(&pieces)
        };
        match r {
            Ok(()) => Ok(Ok(())),
            Err(NotWritten::Failed(e)) => Ok(Err(e)),
            Err(NotWritten::Busy) => Err(pieces),
        }
    }
    /// Folded as in [`Dialect::write_alone`], inside the transaction the
    /// caller began (a batch with Idempotency-Keys, deduplication or caps).
    async fn run_writes(
        conn: &mut sqlx::SqliteConnection,
        writes: Vec<Write<'_>>,
        _notify: bool,
    ) -> StoreResult<()> {
        run_folded(conn, writes, None).await
    }
    const LOCK_ROW: &'static str = "";
    const PURGE_SCOPES: &'static str = "DELETE FROM dedup_log WHERE expires_at <= $1";

    /// Claims deduplication scopes (scope, delivery id, expiry): appends the
    /// free ones to `dedup_log` and returns the winning delivery ids. The
    /// transaction holds SQLite's write lock (BEGIN IMMEDIATE), so after
    /// reading the rows other processes appended, `held` is the whole truth
    /// until commit. See `held.rs`.
    async fn claim_scopes(
        tx: &mut sqlx::Transaction<'_, Sqlite>,
        held: &mut WriterState,
        claims: &[(&str, &str, i64)],
        now: i64,
    ) -> StoreResult<HashSet<String>> {
        let held = &mut held.scopes;
        catch_up(tx, held).await?;
        let free: Vec<&(&str, &str, i64)> = claims
            .iter()
            .filter(|(scope, _, _)| !held.holds(scope, now))
            .collect();
        if free.is_empty() {
            return Ok(HashSet::new());
        }
        let mut last = held.seen();
        for chunk in free.chunks(INSERT_CHUNK) {
            let mut q =
                sqlx::QueryBuilder::<Sqlite>::new("INSERT INTO dedup_log (scope, expires_at) ");
            q.push_values(chunk, |mut b, (scope, _, until)| {
                b.push_bind(*scope).push_bind(*until);
            });
            // The last row's seq: under the write lock, every row up to it
            // is either read above or appended here.
            last = q.build().execute(&mut **tx).await?.last_insert_rowid();
        }
        let claimed: Vec<(&str, i64)> = free.iter().map(|(s, _, until)| (*s, *until)).collect();
        held.claim_pending(&claimed, last);
        Ok(free.iter().map(|(_, id, _)| id.to_string()).collect())
    }

    /// One statement: SQLite runs it under the write lock, so two
    /// processes sharing the file can't claim the same row. Due rows in
    /// priority order, each status and priority a range of the (status,
    /// priority, due_at) index, so a backlog of low-priority work can't
    /// hold up an auth code. INDEXED BY: without statistics the planner
    /// might read another index and sort every waiting row.
    fn claim_sql() -> &'static str {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "UPDATE deliveries SET status = 'sending', due_at = $1, claim_token = $2, updated_at = $3 \
                 WHERE id IN ({}) RETURNING id, notification_id, recipient, channel, category, address, content, attempts, retry_base, claim_token, traceparent, template_key, created_at",
                due_in_priority::<Sqlite>(DueIndex::ByStatusAndPriority, " INDEXED BY deliveries_due", "")
            )
        });
        &SQL
    }

    fn next_due_sql() -> &'static str {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            next_due_sql::<Sqlite>(DueIndex::ByStatusAndPriority, " INDEXED BY deliveries_due")
        });
        &SQL
    }

    fn discard_pending(held: &mut WriterState) {
        held.scopes.discard_pending();
    }

    fn commit_pending(held: &mut WriterState, now: i64) {
        held.scopes.commit_pending(now);
    }
}

impl Engine for SqliteStore {
    type Db = Sqlite;
    const BACKEND: Backend = Backend::Sqlite;

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    fn writer(&self) -> &SqlitePool {
        if let Some(w) = &self.wrote {
            w.notify_one();
        }
        self.wanted.store(true, Ordering::Relaxed);
        &self.write
    }

    /// No other process to tell: one process holds the streams.
    fn inbox_channel(&self) -> Option<&str> {
        None
    }

    fn write_queue(&self) -> &WriteQueue {
        &self.write_queue
    }

    fn handoff(&self) -> &Arc<Handoff> {
        &self.handoff
    }

    fn subscribed(&self) -> &Subscribed {
        &self.subscribed
    }

    /// Ready for accepts unless the last ones failed for lack of space;
    /// then a write of 128 KiB (committed, then removed; more than a
    /// typical send with its rendered deliveries) says whether there is
    /// room again, so the store recovers without one. A smaller probe
    /// could fit in the space a refused send left over and say "ready"
    /// while sends still fail.
    async fn writes_ready(&self) -> StoreResult<()> {
        if !self.full.load(Ordering::Relaxed) {
            return Ok(());
        }
        let probe = async {
            sqlx::query(
                "INSERT OR REPLACE INTO settings (name, value) VALUES ('write_probe', hex(randomblob(65536)))",
            )
            .execute(self.writer())
            .await?;
            sqlx::query("DELETE FROM settings WHERE name = 'write_probe'")
                .execute(self.writer())
                .await?;
            StoreResult::Ok(())
        };
        match probe.await {
            Ok(()) => {
                self.full.store(false, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                if e.unavailable() == Some(Unavailable::Full) {
                    self.full.store(true, Ordering::Relaxed);
                }
                Err(e)
            }
        }
    }

    async fn listen_wakeups(&self) -> StoreResult<Option<BoxStream<'static, ()>>> {
        Ok(None)
    }

    async fn listen_inbox(&self) -> StoreResult<Option<BoxStream<'static, String>>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::pace::Buckets;
    use crate::store::prelude::*;
    use crate::store::{
        Accept, AcceptOutcome, Accepted, DeliverySummary, NewDelivery, NotificationRow,
    };

    fn config(dir: &std::path::Path, every: Option<Duration>) -> DatabaseConfig {
        DatabaseConfig {
            url: format!("sqlite://{}/t.db", dir.display()),
            backend: Backend::Sqlite,
            max_connections: 2,
            schema: None,
            sqlite_full_sync: false,
            sqlite_checkpoint_interval: every,
            sqlite_max_bytes: None,
            acquire_timeout: Duration::from_secs(30),
            writers: 2,
        }
    }

    /// A writer's state with its own connection to the store's file in
    /// `dir`, as `SqliteStore::open` makes it.
    fn direct_state(dir: &std::path::Path) -> WriterState {
        WriterState {
            scopes: HeldScopes::default(),
            direct: Some(Direct::new(DirectConfig {
                path: dir.join("t.db"),
                full_sync: false,
                autocheckpoint: None,
                max_pages: None,
            })),
        }
    }

    /// One row (`k`, `n`) for the table `t` the tests below make.
    fn t_row(k: &str, n: i64) -> Write<'static> {
        let mut rows = crate::store::dialect::Rows::default();
        rows.row().text(k.to_string()).int(n).text(None::<String>);
        Write::insert("INSERT INTO t (k, n, note) ", rows, "")
    }

    async fn t_store(dir: &std::path::Path) -> SqliteStore {
        let store = SqliteStore::open(&config(dir, None)).await.unwrap();
        sqlx::raw_sql("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT)")
            .execute(&store.write)
            .await
            .unwrap();
        store
    }

    async fn t_keys(store: &SqliteStore) -> Vec<String> {
        sqlx::query_scalar("SELECT k FROM t ORDER BY k")
            .fetch_all(&store.read)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_writers_own_connection_waits_for_no_lock_and_hands_the_batch_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = t_store(dir.path()).await;
        let mut state = direct_state(dir.path());
        let mut other = store.write.acquire().await.unwrap();
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut *other)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let back = match Sqlite::write_held(&mut state, vec![t_row("a", 1), t_row("b", 2)]) {
            Err(back) => back,
            Ok(r) => panic!("written under another connection's lock: {:?}", r.err()),
        };
        assert!(started.elapsed() < Duration::from_secs(1), "it waited");
        assert_eq!(back.len(), 2, "every write comes back");
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut *other)
            .await
            .unwrap();
        drop(other);
        assert!(t_keys(&store).await.is_empty(), "nothing written");
        Sqlite::write_held(&mut state, back)
            .map_err(|_| "handed back again")
            .unwrap()
            .unwrap();
        assert_eq!(t_keys(&store).await, ["a", "b"]);
    }

    /// Takes the write lock on `conn` and lets it go 200 ms later.
    async fn lock_for_a_moment<C>(mut conn: C) -> tokio::task::JoinHandle<()>
    where
        C: std::ops::DerefMut<Target = sqlx::SqliteConnection> + Send + 'static,
    {
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.unwrap();
        })
    }

    /// `write_plain` while `lock` holds the write lock: it waits for it.
    async fn write_plain_under(
        lock: tokio::task::JoinHandle<()>,
        conn: &mut crate::store::writer::WriterConn<Sqlite>,
        state: &mut WriterState,
        writes: Vec<Write<'_>>,
    ) {
        let started = std::time::Instant::now();
        crate::store::writer::write_plain(conn, state, writes, false)
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "written under the lock"
        );
        lock.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_the_pools_connection_locked_out_is_written_on_the_writers_own_once_that_is_free(
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = t_store(dir.path()).await;
        let mut state = direct_state(dir.path());
        let mut conn = crate::store::writer::WriterConn::<Sqlite>::new(store.write.clone(), None);

        // The pool's connection (a claim, say) holds the lock.
        let lock = lock_for_a_moment(store.write.acquire().await.unwrap()).await;
        let writes = vec![t_row("a", 1), t_row("b", 2)];
        write_plain_under(lock, &mut conn, &mut state, writes).await;
        assert_eq!(t_keys(&store).await, ["a", "b"]);
        assert_eq!(
            state.direct.as_ref().unwrap().prepared(),
            3,
            "BEGIN, the insert and COMMIT: written on the writer's own connection"
        );

        // Another process's connection holds it: the batch goes through the
        // pool's connection, which waits its turn.
        conn.give_back();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let outside = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let lock = lock_for_a_moment(Box::new(outside)).await;
        write_plain_under(lock, &mut conn, &mut state, vec![t_row("c", 3)]).await;
        assert_eq!(t_keys(&store).await, ["a", "b", "c"]);
    }

    /// Statements on the writer's own connection stop at a failing row
    /// (`OR FAIL`) instead of undoing their own rows: the transaction
    /// around them still undoes everything, a statement's rows before the
    /// failing one and every statement before it.
    #[tokio::test]
    async fn a_statement_failing_midway_on_the_writers_own_connection_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = t_store(dir.path()).await;
        let mut state = direct_state(dir.path());
        let mut rows = crate::store::dialect::Rows::default();
        for (k, n) in [("b", 1), ("c", 2), ("b", 3), ("d", 4)] {
            rows.row().text(k).int(n).text(None::<&str>);
        }
        let repeated = Write::insert("INSERT INTO t (k, n, note) ", rows, "");
        let r = Sqlite::write_held(&mut state, vec![t_row("a", 0), repeated])
            .map_err(|_| "handed back")
            .unwrap();
        let e = r.expect_err("the third row repeats the first's key");
        assert!(e.to_string().contains("UNIQUE"), "{e}");
        assert!(t_keys(&store).await.is_empty(), "rolled back whole");

        // An UPDATE whose second row breaks NOT NULL, after rows written.
        let update = |b: Option<i64>| {
            let mut rows = crate::store::dialect::Rows::default();
            rows.row().text("a").int(5);
            rows.row().text("b").int(b);
            Write::from(
                "UPDATE t SET n = v.column2 FROM ",
                rows,
                " WHERE t.k = v.column1",
            )
        };
        let r = Sqlite::write_held(&mut state, vec![t_row("a", 1), t_row("b", 2), update(None)])
            .map_err(|_| "handed back")
            .unwrap();
        let e = r.expect_err("n is NOT NULL");
        assert!(e.to_string().contains("NOT NULL"), "{e}");
        assert!(t_keys(&store).await.is_empty(), "rolled back whole");

        // The same statements, well-formed, are written.
        Sqlite::write_held(
            &mut state,
            vec![t_row("a", 1), t_row("b", 2), update(Some(6))],
        )
        .map_err(|_| "handed back")
        .unwrap()
        .unwrap();
        let n: Vec<i64> = sqlx::query_scalar("SELECT n FROM t ORDER BY k")
            .fetch_all(&store.read)
            .await
            .unwrap();
        assert_eq!(n, [5, 6]);
    }

    #[tokio::test]
    async fn a_failed_batch_on_the_writers_own_connection_leaves_nothing_and_the_next_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = t_store(dir.path()).await;
        let mut state = direct_state(dir.path());
        // The second row repeats the first's key.
        let r = Sqlite::write_held(&mut state, vec![t_row("a", 1), t_row("a", 2)])
            .map_err(|_| "handed back")
            .unwrap();
        let e = r.expect_err("a repeated key fails the batch");
        assert!(e.to_string().contains("UNIQUE"), "{e}");
        assert_eq!(
            e.unavailable(),
            None,
            "the batch's fault, not the database's"
        );
        assert!(t_keys(&store).await.is_empty(), "rolled back");
        for (i, k) in ["b", "c", "d"].into_iter().enumerate() {
            Sqlite::write_held(&mut state, vec![t_row(k, i as i64)])
                .map_err(|_| "handed back")
                .unwrap()
                .unwrap();
        }
        assert_eq!(t_keys(&store).await, ["b", "c", "d"]);
        let direct = state.direct.as_ref().unwrap();
        assert_eq!(
            direct.prepared(),
            3,
            "BEGIN, the insert and COMMIT stay prepared across batches"
        );
        let note: Option<String> = sqlx::query_scalar("SELECT note FROM t WHERE k = 'b'")
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_eq!(note, None);
    }

    /// The same statement, placeholders and padding; the writer's own
    /// connection then makes it `OR FAIL` (`direct::or_fail`).
    #[test]
    fn the_writers_own_connection_runs_the_text_the_pool_would() {
        for n in [1, 3, 5, 64] {
            let mut rows = crate::store::dialect::Rows::default();
            for i in 0..n {
                rows.row().text(format!("k{i}")).int(i).text(None::<String>);
            }
            let mut copy = crate::store::dialect::Rows::default();
            for i in 0..n {
                copy.row().text(format!("k{i}")).int(i).text(None::<String>);
            }
            let tail = " ON CONFLICT (k) DO NOTHING";
            let a = Write::insert("INSERT INTO t ", rows, tail);
            let mut direct = String::new();
            a.sqlite_text(&mut direct);
            let mut values = 0;
            a.each_value(|_| values += 1);
            assert_eq!(values, 3 * n as usize, "padding is not bound");
            let mut q = sqlx::QueryBuilder::<Sqlite>::new("");
            Write::insert("INSERT INTO t ", copy, tail).push(&mut q);
            assert_eq!(direct, q.sql().as_str(), "{n} rows");
        }
        let mut rows = crate::store::dialect::Rows::default();
        rows.row().text("x".to_string()).int(1);
        let mut copy = crate::store::dialect::Rows::default();
        copy.row().text("x".to_string()).int(1);
        let (a, b) = (
            Write::from(
                "UPDATE t SET n = v.column2 FROM ",
                rows,
                " WHERE t.k = v.column1",
            ),
            Write::from(
                "UPDATE t SET n = v.column2 FROM ",
                copy,
                " WHERE t.k = v.column1",
            ),
        );
        let mut direct = String::new();
        a.sqlite_text(&mut direct);
        let mut q = sqlx::QueryBuilder::<Sqlite>::new("");
        b.push(&mut q);
        assert_eq!(direct, q.sql().as_str());
    }

    fn db_pages(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join("t.db")).unwrap().len() / 4096
    }

    /// One request with one webhook delivery claiming `scope`.
    fn accept_with_scope(scope: &str) -> Accept {
        let now = crate::util::now_ms();
        let nid = uuid::Uuid::now_v7().to_string();
        let did = uuid::Uuid::now_v7().to_string();
        let answer = Accepted {
            id: nid.clone(),
            deliveries: vec![DeliverySummary {
                id: did.clone(),
                recipient: "r".into(),
                channel: "webhook".into(),
                status: "queued".into(),
                reason: None,
            }],
            replayed: false,
            ..Default::default()
        };
        Accept {
            notification: NotificationRow {
                id: nid,
                template_key: None,
                template_version: None,
                data: "{}".into(),
                category: "transactional".into(),
                priority: "normal".into(),
                locale: None,
                dedup_key: Some("k".into()),
                send_at: None,
                api_key_id: None,
                created_at: now,
                ..Default::default()
            },
            deliveries: vec![NewDelivery {
                id: did,
                template_key: None,
                recipient: "r".into(),
                recipient_data: "{}".into(),
                channel: "webhook".into(),
                address: "http://127.0.0.1:9/".into(),
                content: "{}".into(),
                status: "queued",
                reason: None,
                priority: 1,
                due_at: Some(now + 3_600_000),
                dedup: Some((scope.to_string(), now + 60_000)),
                cap: None,
            }],
            idempotency: None,
            answer_json: serde_json::to_string(&answer).unwrap(),
            answer,
            fence: None,
        }
    }

    fn won(outcome: AcceptOutcome) -> bool {
        match outcome {
            AcceptOutcome::Created(body) => !body.contains("duplicate"),
            AcceptOutcome::Existing(_) | AcceptOutcome::Lost => {
                panic!("no Idempotency-Key or fan-out was given")
            }
        }
    }

    /// Sends one delivery claiming `scope`: whether it won the scope.
    async fn claims(store: &SqliteStore, scope: &str) -> bool {
        won(store.accept(accept_with_scope(scope)).await.unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stores_sharing_a_file_hold_each_others_dedup_scopes() {
        // Two stores on one file are what two processes are: each has its
        // own writer and its own scopes in memory.
        let dir = tempfile::tempdir().unwrap();
        let a = Arc::new(SqliteStore::open(&config(dir.path(), None)).await.unwrap());
        let b = Arc::new(SqliteStore::open(&config(dir.path(), None)).await.unwrap());
        for round in 0..5 {
            let scope = format!("k-round-{round}");
            let mut sends = Vec::new();
            for i in 0..40 {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let accept = accept_with_scope(&scope);
                sends.push(tokio::spawn(
                    async move { store.accept(accept).await.unwrap() },
                ));
            }
            let mut winners = 0;
            for s in sends {
                winners += won(s.await.unwrap()) as usize;
            }
            assert_eq!(winners, 1, "round {round}: {winners} sends won one scope");
        }
        // A store opened later reads the held scopes at start.
        let c = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        assert!(!claims(&c, "k-round-0").await);
        assert!(claims(&c, "k-new").await);
        assert!(!claims(&a, "k-new").await);
    }

    #[tokio::test]
    async fn the_claim_takes_the_earliest_due_of_every_waiting_status_priority_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        // (status, priority, due_at), written queued and then set so.
        let rows = [
            ("queued", 1, 500),
            ("retrying", 1, 100),
            ("sending", 1, 300), // its lease ended
            ("scheduled", 1, 200),
            ("scheduled", 1, 5_000), // not due yet
            ("queued", 0, 900),      // high priority
            ("failed", 1, 50),       // not waiting
            ("queued", 2, 10),       // low priority
        ];
        let mut ids = vec![];
        for (i, (status, priority, due)) in rows.iter().enumerate() {
            let a = accept_with_scope(&format!("k{i}"));
            let id = a.deliveries[0].id.clone();
            store.accept(a).await.unwrap();
            sqlx::query(
                "UPDATE deliveries SET status = $2, priority = $3, due_at = $4 WHERE id = $1",
            )
            .bind(&id)
            .bind(status)
            .bind(priority)
            .bind(due)
            .execute(store.writer())
            .await
            .unwrap();
            ids.push(id);
        }
        let set = |v: &[usize]| -> HashSet<String> { v.iter().map(|&i| ids[i].clone()).collect() };
        let claimed = |c: Vec<crate::store::Claimed>| -> HashSet<String> {
            c.into_iter().map(|c| c.id).collect()
        };
        assert_eq!(store.next_due().await.unwrap(), Some(10));
        let first = store.claim(1_000, 90_000, 3, "a").await.unwrap();
        assert_eq!(
            claimed(first),
            set(&[5, 1, 3]),
            "high priority, then the earliest due"
        );
        let second = store.claim(1_000, 90_000, 3, "b").await.unwrap();
        assert_eq!(claimed(second), set(&[2, 0, 7]));
        assert!(store.claim(1_000, 90_000, 3, "c").await.unwrap().is_empty());
        // What is left waiting: the claimed rows' leases, and the one
        // scheduled for later.
        assert_eq!(store.next_due().await.unwrap(), Some(5_000));
        let depth = store.queue_depth(1_000).await.unwrap();
        let by_status: Vec<(String, i64)> = depth.into_iter().map(|d| (d.status, d.n)).collect();
        assert_eq!(
            by_status,
            vec![("scheduled".to_string(), 1), ("sending".to_string(), 6)]
        );
    }

    #[tokio::test]
    async fn handing_claims_back_reads_the_sending_rows_not_the_whole_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        let detail = plan(&store, crate::store::queue::RELEASE, "token", 0).await;
        assert_eq!(
            detail,
            ["SEARCH deliveries USING INDEX deliveries_due (status=?)"]
        );
    }

    /// The plan's lines for `sql`, its two parameters bound.
    async fn plan(store: &SqliteStore, sql: &str, text: &str, n: i64) -> Vec<String> {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .bind(text)
                .bind(n)
                .fetch_all(store.writer())
                .await
                .unwrap();
        rows.into_iter().map(|r| r.3).collect()
    }

    #[tokio::test]
    async fn listing_the_sending_rows_reads_the_waiting_rows_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        let filter = crate::store::DeliveryFilter {
            status: Some("sending".into()),
            ..Default::default()
        };
        // The status is bound: only the index's condition, named in
        // SQLite's form, lets the planner read that index.
        let q = crate::store::queue::list_query::<Sqlite>(&filter, None, 50);
        let detail = plan(&store, q.sql().as_str(), "sending", 50).await;
        assert!(
            detail[0].starts_with("SEARCH deliveries USING INDEX deliveries_due (status=?)"),
            "{detail:?}"
        );
    }

    #[tokio::test]
    async fn writing_a_delivery_builds_no_throwaway_table() {
        // A partial index's condition is evaluated for every row written;
        // an `IN` list of more than two values in it made SQLite build a
        // b-tree of the list for each row.
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        for sql in [
            "EXPLAIN INSERT INTO deliveries (id, notification_id, recipient, recipient_data, \
             channel, category, address, content, status, priority, created_at, updated_at) \
             VALUES ('d', 'n', 'r', '{}', 'webhook', 'transactional', 'a', '{}', 'sending', 1, \
             0, 0)",
            "EXPLAIN UPDATE deliveries SET status = 'sent', due_at = NULL, claim_token = NULL \
             WHERE id = 'd'",
        ] {
            use sqlx::Row;
            let ops: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(store.writer())
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("opcode"))
                .collect();
            assert!(ops.iter().any(|op| op == "IdxInsert"), "{sql}: {ops:?}");
            assert!(
                !ops.iter().any(|op| op == "OpenEphemeral"),
                "{sql}: {ops:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_cap_counts_capped_rows_and_rows_from_before_the_flag_from_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        let count = crate::store::writer::CAP_COUNT;
        // Recipient, channel, category, since, template.
        let args = || {
            use sqlx::Arguments;
            let mut a = sqlx::sqlite::SqliteArguments::default();
            a.add("u").unwrap();
            a.add("sms").unwrap();
            a.add("marketing").unwrap();
            a.add(0i64).unwrap();
            a.add(None::<String>).unwrap();
            a
        };
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as_with(
            sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {count}")),
            args(),
        )
        .fetch_all(store.writer())
        .await
        .unwrap();
        let detail: Vec<String> = rows.into_iter().map(|r| r.3).collect();
        assert!(
            detail
                .iter()
                .any(|d| d.contains("USING INDEX deliveries_cap (")),
            "{detail:?}"
        );
        assert!(
            !detail.iter().any(|d| d.starts_with("SCAN deliveries")),
            "{detail:?}"
        );
        sqlx::query(
            "INSERT INTO notifications (id, data, category, priority, created_at) \
             VALUES ('n', '{}', 'marketing', 'normal', 5)",
        )
        .execute(store.writer())
        .await
        .unwrap();
        // A row written before the flag existed (no `capped` named) counts,
        // as does a capped one; an uncapped one doesn't.
        for (id, capped, status) in [
            ("a", None, "sent"),
            ("b", Some(1), "sent"),
            ("c", Some(0), "sent"),
            ("d", Some(1), "sending"),
            ("e", Some(0), "sending"),
            ("f", Some(1), "suppressed"),
        ] {
            let (columns, value) = match capped {
                Some(c) => (", capped", format!(", {c}")),
                None => ("", String::new()),
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO deliveries (id, notification_id, recipient, recipient_data, \
                 channel, category, address, content, status, priority, due_at, created_at, \
                 updated_at{columns}) VALUES ('{id}', 'n', 'u', '{{}}', 'sms', 'marketing', \
                 'a', '{{}}', '{status}', 1, 10, 5, 5{value})"
            )))
            .execute(store.writer())
            .await
            .unwrap();
        }
        let n: i64 = sqlx::query_scalar_with(count, args())
            .fetch_one(store.writer())
            .await
            .unwrap();
        assert_eq!(n, 3);
    }

    #[tokio::test]
    async fn due_deliveries_are_written_claimed_for_the_workers_with_room() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        let h = Queue::handoff(&store).clone();
        let due = |scope: &str| {
            let mut a = accept_with_scope(scope);
            a.deliveries[0].due_at = Some(crate::util::now_ms());
            a
        };
        let status = |id: String| {
            let store = &store;
            async move {
                let d = store.get_delivery(&id).await.unwrap().unwrap();
                (d.status, d.due_at.unwrap())
            }
        };
        // No workers here: written queued, and the workers are told.
        let first = due("k1");
        let first_id = first.deliveries[0].id.clone();
        store.accept(first).await.unwrap();
        assert_eq!(status(first_id.clone()).await.0, "queued");
        assert!(h.take_queued());

        // Workers with room for one: the first due delivery is written
        // claimed with their token and a lease, and handed over.
        h.attach("tok", Duration::from_secs(60), 1);
        let (a, b) = (due("k2"), due("k3"));
        let (a_id, b_id) = (a.deliveries[0].id.clone(), b.deliveries[0].id.clone());
        let t0 = crate::util::now_ms();
        store.accept(a).await.unwrap();
        let (st, lease) = status(a_id.clone()).await;
        assert_eq!(st, "sending");
        assert!(
            lease >= t0 + 59_000,
            "leased until {lease}, accepted at {t0}"
        );
        assert!(!h.take_queued(), "nothing waits in the table");
        // No room for the second until the first is taken: it waits in the
        // table, and the workers are told.
        store.accept(b).await.unwrap();
        assert_eq!(status(b_id.clone()).await.0, "queued");
        assert!(h.take_queued());
        let taken = h.take(10, crate::util::now_ms());
        assert_eq!(taken.len(), 1);
        assert_eq!(
            (taken[0].id.as_str(), taken[0].claim_token.as_str()),
            (a_id.as_str(), "tok")
        );
        assert_eq!(taken[0].content, "{}");

        // The claim query leaves the handed-over row alone and takes the
        // waiting ones.
        let now = crate::util::now_ms();
        let claimed = store.claim(now, now + 60_000, 10, "tok").await.unwrap();
        let mut ids: Vec<String> = claimed.into_iter().map(|c| c.id).collect();
        ids.sort();
        let mut want = vec![first_id, b_id];
        want.sort();
        assert_eq!(ids, want);

        // A scheduled delivery is never handed over.
        let later = accept_with_scope("k4");
        let later_id = later.deliveries[0].id.clone();
        store.accept(later).await.unwrap();
        assert_eq!(status(later_id).await.0, "queued");
        assert!(h.take(10, crate::util::now_ms()).is_empty());

        // Releasing the token (a graceful stop) hands a handed-over row
        // back at once.
        h.detach();
        assert!(store.release("tok", crate::util::now_ms()).await.unwrap() >= 1);
        assert_eq!(status(a_id).await.0, "queued");
    }

    #[tokio::test]
    async fn retention_purges_what_finished_before_the_cutoff_and_nothing_else() {
        use crate::store::Upkeep;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        let day = 86_400_000;
        let now = crate::util::now_ms();
        // (status, created, updated) in days before now; cutoff 7 days ago.
        let rows = [
            ("sent", 10, 9, false),
            ("failed", 10, 8, false),
            ("sent", 10, 1, true),
            ("retrying", 10, 9, true),
            ("sending", 10, 9, true),
            ("suppressed", 1, 1, true),
        ];
        let mut ids = Vec::new();
        for (i, (status, created, updated, _)) in rows.iter().enumerate() {
            let a = accept_with_scope(&format!("p{i}"));
            let id = a.deliveries[0].id.clone();
            store.accept(a).await.unwrap();
            sqlx::query(
                "UPDATE deliveries SET status = $2, created_at = $3, updated_at = $4 WHERE id = $1",
            )
            .bind(&id)
            .bind(status)
            .bind(now - created * day)
            .bind(now - updated * day)
            .execute(&store.write)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO delivery_attempts (delivery_id, number, provider, started_at, \
                 duration_ms, outcome) VALUES ($1, 1, 'webhook', 0, 1, 'ok')",
            )
            .bind(&id)
            .execute(&store.write)
            .await
            .unwrap();
            ids.push(id);
        }
        assert_eq!(store.purge_finished(now - 7 * day).await.unwrap(), 2);
        for (id, (status, _, _, kept)) in ids.iter().zip(rows) {
            let left = store.get_delivery(id).await.unwrap().is_some();
            assert_eq!(left, kept, "{status}");
            let attempts: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM delivery_attempts WHERE delivery_id = $1")
                    .bind(id)
                    .fetch_one(&store.write)
                    .await
                    .unwrap();
            assert_eq!(attempts, kept as i64, "{status}");
        }
    }

    /// The writer keeps its connection while jobs keep coming; a write
    /// of another task's (through `writer()`) still gets its turn after
    /// the batch under way, not after the whole queue.
    #[tokio::test]
    async fn another_write_gets_the_connection_while_the_queue_is_full() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&config(dir.path(), None)).await.unwrap());
        const N: usize = 3_000;
        let mut tasks = Vec::with_capacity(N);
        for i in 0..N {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .accept(accept_with_scope(&format!("q{i}")))
                    .await
                    .unwrap();
            }));
        }
        // Once the writer has committed its first batch, the rest wait in
        // its queue.
        let written = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM notifications")
                .fetch_one(&store.read)
                .await
                .unwrap()
        };
        while written().await == 0 {
            tokio::task::yield_now().await;
        }
        // The other write records how many requests were written before it.
        sqlx::query(
            "INSERT INTO settings (name, value) SELECT 'other', COUNT(*) FROM notifications",
        )
        .execute(store.writer())
        .await
        .unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let before: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = 'other'")
            .fetch_one(&store.read)
            .await
            .unwrap();
        let before: usize = before.parse().unwrap();
        assert!(
            before < N / 2,
            "the other write waited for {before} of {N} queued requests"
        );
    }

    #[tokio::test]
    async fn a_failed_batch_leaves_nothing_behind_and_writes_go_on() {
        use crate::store::writer::{write_batch, WriteJob, WriterConn};
        use tokio::sync::oneshot;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        let plain = || {
            let mut a = accept_with_scope("unused");
            a.deliveries[0].dedup = None;
            a
        };
        let good = plain();
        let mut bad = plain();
        bad.deliveries[0].id = good.deliveries[0].id.clone();
        let (good_n, bad_n) = (good.notification.id.clone(), bad.notification.id.clone());
        let (g_tx, g_rx) = oneshot::channel();
        let (b_tx, b_rx) = oneshot::channel();
        let batch = vec![
            WriteJob::Accept(Box::new(good), g_tx),
            WriteJob::Accept(Box::new(bad), b_tx),
        ];
        let mut conn = WriterConn::new(store.write.clone(), None);
        let h = Queue::handoff(&store).clone();
        let mut held = WriterState::default();
        write_batch::<Sqlite>(&mut conn, &mut held, &h, &Subscribed::default(), batch)
            .await
            .unwrap();
        assert!(matches!(g_rx.await.unwrap(), Ok(AcceptOutcome::Created(_))));
        assert!(
            b_rx.await.unwrap().is_err(),
            "the conflicting request fails alone"
        );
        let count = |id: String| {
            let store = &store;
            async move {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM notifications WHERE id = $1")
                    .bind(id)
                    .fetch_one(&store.read)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(count(good_n).await, 1);
        assert_eq!(count(bad_n).await, 0, "the failed batch left a row");
        // The writer and every other writer go on.
        drop(conn);
        assert!(won(store.accept(plain()).await.unwrap()));
        sqlx::query("INSERT INTO settings (name, value) VALUES ('after', 'x')")
            .execute(store.writer())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn every_connection_plans_without_looking_at_bound_values() {
        use libsqlite3_sys as ffi;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        // Two read connections (a new one each), and the write connection.
        let r1 = store.read.acquire().await.unwrap();
        let r2 = store.read.acquire().await.unwrap();
        let w = store.write.acquire().await.unwrap();
        for mut c in [r1, r2, w] {
            let mut h = c.lock_handle().await.unwrap();
            let mut on: std::ffi::c_int = -1;
            let rc = unsafe {
                ffi::sqlite3_db_config(
                    h.as_raw_handle().as_ptr(),
                    ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                    -1 as std::ffi::c_int,
                    &mut on as *mut std::ffi::c_int,
                )
            };
            assert_eq!(rc, ffi::SQLITE_OK);
            assert_eq!(on, 1, "the query planner stability guarantee is on");
        }
    }

    #[tokio::test]
    async fn sqlite_allocates_through_mimalloc_and_counts_nothing() {
        use libmimalloc_sys as mi;
        use libsqlite3_sys as ffi;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        sqlx::query("SELECT COUNT(*) FROM deliveries")
            .execute(store.reader())
            .await
            .unwrap();
        // SAFETY: plain library calls; the block is freed by SQLite.
        unsafe {
            assert_eq!(ffi::sqlite3_memory_used(), 0, "no memory statistics");
            let p = ffi::sqlite3_malloc(100);
            assert!(!p.is_null());
            assert!(mi::mi_is_in_heap_region(p), "SQLite's block is mimalloc's");
            assert!(ffi::sqlite3_msize(p) >= 100);
            ffi::sqlite3_free(p);
        }
    }

    #[tokio::test]
    async fn outcomes_commit_with_accepted_requests_and_survive_a_request_that_fails() {
        use crate::store::writer::{write_batch, WriteJob, WriterConn};
        use crate::store::{AttemptRow, Completion};
        use tokio::sync::oneshot;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        let h = Queue::handoff(&store).clone();
        h.attach("tok", Duration::from_secs(60), 10);
        let mut sent = accept_with_scope("w1");
        sent.deliveries[0].due_at = Some(crate::util::now_ms());
        let sent_id = sent.deliveries[0].id.clone();
        store.accept(sent).await.unwrap();
        assert_eq!(
            h.take(10, crate::util::now_ms()).len(),
            1,
            "handed over, claimed"
        );
        let done = |id: &str| Completion {
            delivery_id: id.to_string(),
            claim_token: "tok".into(),
            status: "sent",
            reason: None,
            due_at: None,
            attempt: AttemptRow {
                delivery_id: id.to_string(),
                number: 1,
                provider: "webhook".into(),
                started_at: crate::util::now_ms(),
                duration_ms: 1,
                outcome: "ok".into(),
                status_code: Some(200),
                response: Some("ok".into()),
                error: None,
            },
            template: None,
            channel: "webhook".into(),
            accepted_at: 0,
            trace: None,
        };
        // One batch: the outcome, a request, and a second request reusing
        // the first one's delivery id, which fails the transaction.
        let good = accept_with_scope("w2");
        let mut bad = accept_with_scope("w3");
        bad.deliveries[0].id = good.deliveries[0].id.clone();
        let good_id = good.deliveries[0].id.clone();
        let (c_tx, c_rx) = oneshot::channel();
        let (g_tx, g_rx) = oneshot::channel();
        let (b_tx, b_rx) = oneshot::channel();
        let batch = vec![
            WriteJob::Complete(vec![done(&sent_id)], crate::util::now_ms(), c_tx),
            WriteJob::Accept(Box::new(good), g_tx),
            WriteJob::Accept(Box::new(bad), b_tx),
        ];
        let mut held = WriterState::default();
        let mut conn = WriterConn::new(store.write.clone(), None);
        write_batch::<Sqlite>(&mut conn, &mut held, &h, &Subscribed::default(), batch)
            .await
            .unwrap();
        c_rx.await.unwrap().unwrap();
        assert!(matches!(g_rx.await.unwrap(), Ok(AcceptOutcome::Created(_))));
        assert!(
            b_rx.await.unwrap().is_err(),
            "the conflicting request fails alone"
        );
        let d = store.get_delivery(&sent_id).await.unwrap().unwrap();
        assert_eq!((d.status.as_str(), d.attempts), ("sent", 1));
        assert_eq!(store.attempts_of(&sent_id).await.unwrap().len(), 1);
        assert!(store.get_delivery(&good_id).await.unwrap().is_some());

        // Through the store: an outcome and requests in flight together all land.
        let mut again = accept_with_scope("w4");
        again.deliveries[0].due_at = Some(crate::util::now_ms());
        let again_id = again.deliveries[0].id.clone();
        store.accept(again).await.unwrap();
        h.take(10, crate::util::now_ms());
        let (a, b) = (accept_with_scope("w5"), accept_with_scope("w6"));
        let outcome = [done(&again_id)];
        let (r1, r2, r3) = tokio::join!(
            store.complete(&outcome, crate::util::now_ms()),
            store.accept(a),
            store.accept(b)
        );
        r1.unwrap();
        assert!(won(r2.unwrap()) && won(r3.unwrap()));
        let d = store.get_delivery(&again_id).await.unwrap().unwrap();
        assert_eq!((d.status.as_str(), d.attempts), ("sent", 1));
    }

    #[tokio::test]
    async fn a_store_reads_a_log_longer_than_one_chunk_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let first = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        let until = crate::util::now_ms() + 3_600_000;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25001) \
             INSERT INTO dedup_log (scope, expires_at) SELECT 'k' || i, $1 FROM n",
        )
        .bind(until)
        .execute(&first.write)
        .await
        .unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        // The last first: each accept reads what is new since the last look.
        for held in ["k25001", "k1", "k10000", "k10001", "k20001"] {
            assert!(!claims(&store, held).await, "{held} is not held");
        }
        assert!(claims(&store, "k25002").await);
    }

    #[tokio::test]
    async fn an_expired_scope_can_be_claimed_again_and_is_purged() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        let mut first = accept_with_scope("k-short");
        let now = crate::util::now_ms();
        first.deliveries[0].dedup.as_mut().unwrap().1 = now + 50;
        assert!(won(store.accept(first).await.unwrap()));
        assert!(!claims(&store, "k-short").await);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(claims(&store, "k-short").await);
        // Purging removes the expired claim and keeps the live one.
        store
            .purge_idempotency(crate::util::now_ms())
            .await
            .unwrap();
        let left: Vec<(String,)> = sqlx::query_as("SELECT scope FROM dedup_log")
            .fetch_all(&store.read)
            .await
            .unwrap();
        assert_eq!(left, vec![("k-short".to_string(),)]);
        assert!(!claims(&store, "k-short").await);
    }

    #[tokio::test]
    async fn the_checkpointer_copies_the_wal_into_the_file_soon_after_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), Some(Duration::from_millis(10))))
            .await
            .unwrap();
        // The schema is still in the WAL: far below the writer's own
        // checkpoint threshold, and nothing has woken the checkpointer.
        assert!(db_pages(dir.path()) <= 1, "{} pages", db_pages(dir.path()));
        store.take("channel:sms", 1.0, 10.0, 1, 0).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while db_pages(dir.path()) <= 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the WAL was not checkpointed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn without_a_checkpointer_small_writes_stay_in_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&config(dir.path(), None)).await.unwrap();
        store.take("channel:sms", 1.0, 10.0, 1, 0).await.unwrap();
        // Give a checkpointer, were there one, many times its interval.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(db_pages(dir.path()) <= 1, "{} pages", db_pages(dir.path()));
    }

    /// A batch's accepted part and its outcomes' part are folded apart:
    /// the texts sent follow each part's row count, not every combination
    /// of the two (each new text is prepared again, and kept).
    #[test]
    fn folded_texts_follow_each_group_not_their_combinations() {
        use crate::store::dialect::Rows;
        let rows = |n: usize| {
            let mut rows = Rows::default();
            for i in 0..n {
                rows.row().text(format!("r{i}")).int(i as i64);
            }
            rows
        };
        let mut texts = HashSet::new();
        let mut executions = 0;
        for accepted in 1..=40 {
            for finished in 0..=40 {
                let mut writes = vec![
                    Write::insert("INSERT INTO n (a, b) ", rows(accepted), ""),
                    Write::insert("INSERT INTO d (a, b) ", rows(accepted), ""),
                ];
                if finished > 0 {
                    let mut outcome = Write::from(
                        "UPDATE d SET b = v.column2 FROM ",
                        rows(finished),
                        " WHERE d.a = v.column1",
                    );
                    outcome.set_apart();
                    writes.push(outcome);
                    writes.push(Write::insert("INSERT INTO a (a, b) ", rows(finished), ""));
                }
                let sent = folded(writes, Some(("BEGIN IMMEDIATE", "COMMIT")));
                assert_eq!(sent.len(), if finished > 0 { 2 } else { 1 });
                executions += sent.len();
                texts.extend(sent.iter().map(|q| q.sql().as_str().to_owned()));
            }
        }
        assert!(executions > 3000);
        // Sizes up to 40 fall in eleven of the twelve: the accepted part
        // alone with its COMMIT, or followed by the outcomes' part; and the
        // outcomes' part, with the COMMIT. Combined, it would be 11 × 12.
        let sizes = crate::store::dialect::VALUES_SIZES
            .iter()
            .filter(|&&s| s < 40)
            .count()
            + 1;
        assert_eq!(sizes, 11);
        assert_eq!(texts.len(), 3 * sizes, "{} texts", texts.len());
    }

    /// The number of rows of `table` (`t` or `u`) and the sum of their `b`.
    async fn counted(conn: &mut sqlx::SqliteConnection, table: &str) -> (i64, i64) {
        let sql = match table {
            "t" => "SELECT COUNT(*), SUM(b) FROM t",
            _ => "SELECT COUNT(*), SUM(b) FROM u",
        };
        sqlx::query_as(sql).fetch_one(conn).await.unwrap()
    }

    /// A batch of many statements goes to SQLite's thread folded, several
    /// to an execution, and is still one transaction: written whole and in
    /// order, or, when a statement in a later execution fails, not at all,
    /// leaving the connection ready for the next batch.
    #[tokio::test]
    async fn a_folded_batch_is_one_transaction_across_its_executions() {
        use crate::store::dialect::Rows;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/f.db", dir.path().display());
        let opts = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER); \
             CREATE TABLE u (a TEXT PRIMARY KEY, b INTEGER)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let rows = |table: &str, ids: Vec<usize>| {
            let mut rows = Rows::default();
            for i in ids {
                rows.row().text(format!("{table}{i}")).int(i as i64);
            }
            rows
        };
        let into = |table: &'static str| -> &'static str {
            match table {
                "t" => "INSERT INTO t (a, b) ",
                _ => "INSERT INTO u (a, b) ",
            }
        };
        // 300 rows in each table: 5 + 5 statements of at most 64 rows, more
        // than one execution holds.
        let batch = |u: Vec<usize>| {
            vec![
                Write::insert(into("t"), rows("t", (0..300).collect()), ""),
                Write::insert(into("u"), rows("u", u), ""),
            ]
        };
        assert!(
            batch((0..300).collect())
                .into_iter()
                .flat_map(Write::pieces)
                .count()
                > FOLD
        );
        Sqlite::write_alone(&mut conn, batch((0..300).collect()), false)
            .await
            .unwrap();
        assert!(!conn.is_in_transaction());
        let sum = (0..300).sum::<i64>();
        assert_eq!(counted(&mut conn, "t").await, (300, sum));
        assert_eq!(counted(&mut conn, "u").await, (300, sum));

        // The next batch's rows of t are new, and so are the first three
        // statements' of u, but the fourth (in the second execution)
        // repeats a key of u: everything the batch wrote is rolled back.
        sqlx::raw_sql("DELETE FROM t")
            .execute(&mut conn)
            .await
            .unwrap();
        let err =
            Sqlite::write_alone(&mut conn, batch((300..492).chain(0..108).collect()), false).await;
        assert!(err.is_err(), "a repeated key fails the batch");
        assert!(!conn.is_in_transaction());
        assert_eq!(counted(&mut conn, "t").await.0, 0);
        assert_eq!(counted(&mut conn, "u").await, (300, sum));

        // And the connection takes the next batch.
        Sqlite::write_alone(&mut conn, batch((300..600).collect()), false)
            .await
            .unwrap();
        assert_eq!(counted(&mut conn, "t").await, (300, sum));
        assert_eq!(counted(&mut conn, "u").await.0, 600);
    }
}
