//! SQLite: an embedded file in WAL mode. Reads use a pool; every write goes
//! through one connection (SQLite allows one writer at a time, and queueing
//! writers in the pool is cheaper and fairer than retrying on SQLITE_BUSY).
//! Accepted requests are committed in groups by one writer task.

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

use super::common::{next_batch, AcceptQueue, DELIVERY_COLUMNS};
use super::*;
use crate::config::{Backend, DatabaseConfig};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    accept_queue: AcceptQueue,
    /// Wakes the checkpointer after writes (when there is one).
    wrote: Option<Arc<Notify>>,
    /// Stops the checkpointer when the store goes.
    _checkpointer: Option<DropGuard>,
}

/// The WAL size (pages) at which the writer checkpoints itself, when a
/// checkpointer of its own normally does it: only reached if that one
/// falls behind.
const BACKSTOP_CHECKPOINT_PAGES: u32 = 4_000;

impl SqliteStore {
    const NOTIFY: Option<&'static str> = None;
    /// Counting by creation time: without statistics the planner walks the
    /// whole status index (in GROUP BY order) instead of the range of the
    /// covering (created_at, status, channel) index.
    const BY_CREATED: &'static str = " INDEXED BY deliveries_created";
    /// Frequency caps need no lock: the accepting transaction takes
    /// SQLite's write lock up front (BEGIN IMMEDIATE), so counts and inserts
    /// of other processes sharing the file can't interleave.
    const CAP_LOCK: Option<&'static str> = None;
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const LOCK_ROW: &'static str = "";

    pub async fn open(cfg: &DatabaseConfig) -> StoreResult<Self> {
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
                std::fs::create_dir_all(dir).map_err(|e| sqlx::Error::Io(e))?;
            }
        }
        opts = opts.statement_cache_capacity(256);
        let mut write_opts = opts.clone();
        if cfg.sqlite_checkpoint_interval.is_some() {
            write_opts =
                write_opts.pragma("wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES.to_string());
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
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
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.read_only(true))
            .await?;
        let (accept_queue, rx) = AcceptQueue::new(4096);
        let pool = write.clone();
        let accepted = wrote.clone();
        tokio::spawn(async move {
            while let Some(batch) = next_batch(&rx).await {
                Self::write_accepts(&pool, batch).await;
                if let Some(w) = &accepted {
                    w.notify_one();
                }
            }
        });
        Ok(SqliteStore {
            read,
            write,
            accept_queue,
            wrote,
            _checkpointer: checkpointer,
        })
    }

    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    fn writer(&self) -> &SqlitePool {
        if let Some(w) = &self.wrote {
            w.notify_one();
        }
        &self.write
    }

    /// No other process to tell: one process holds the streams.
    fn inbox_channel(&self) -> Option<&str> {
        None
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

store_impl!(SqliteStore, Sqlite, {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
        token: &str,
    ) -> StoreResult<Vec<Claimed>> {
        // One statement: SQLite runs it under the write lock, so two
        // processes sharing the file can't claim the same row. Due rows in
        // priority order, each priority a range of the (priority, due_at)
        // index, so a backlog of low-priority work can't hold up an auth
        // code. INDEXED BY: without statistics the planner prefers the
        // status index and sorts every waiting row.
        Ok(sqlx::query_as::<_, Claimed>(const_format::concatcp!(
            "UPDATE deliveries SET status = 'sending', due_at = $1, claim_token = $2, updated_at = $3 \
             WHERE id IN (",
            due_in_priority!(" INDEXED BY deliveries_due", ""),
            ") RETURNING id, notification_id, recipient, channel, category, address, content, attempts, retry_base, claim_token"))
            .bind(lease_until).bind(token).bind(now).bind(limit)
            .fetch_all(self.writer())
            .await?)
    }

    async fn next_due(&self) -> StoreResult<Option<i64>> {
        Ok(
            sqlx::query_scalar::<_, Option<i64>>(next_due_sql!(" INDEXED BY deliveries_due"))
                .fetch_one(self.reader())
                .await?,
        )
    }

    async fn wakeups(&self) -> StoreResult<Option<BoxStream<'static, ()>>> {
        Ok(None)
    }

    async fn inbox_announce(&self, _event: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn inbox_events(&self) -> StoreResult<Option<BoxStream<'static, String>>> {
        Ok(None)
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, every: Option<Duration>) -> DatabaseConfig {
        DatabaseConfig {
            url: format!("sqlite://{}/t.db", dir.display()),
            backend: Backend::Sqlite,
            max_connections: 2,
            schema: None,
            sqlite_full_sync: false,
            sqlite_checkpoint_interval: every,
        }
    }

    fn db_pages(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join("t.db")).unwrap().len() / 4096
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
        store
            .take_tokens("channel:sms", 1.0, 10.0, 1, 0)
            .await
            .unwrap();
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
        store
            .take_tokens("channel:sms", 1.0, 10.0, 1, 0)
            .await
            .unwrap();
        // Give a checkpointer, were there one, many times its interval.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(db_pages(dir.path()) <= 1, "{} pages", db_pages(dir.path()));
    }
}
