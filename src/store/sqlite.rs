//! SQLite: an embedded file in WAL mode. Reads use a pool; every write goes
//! through one connection (SQLite allows one writer at a time, and queueing
//! writers in the pool is cheaper and fairer than retrying on SQLITE_BUSY).
//! Accepted requests are committed in groups by one writer task.

use std::str::FromStr;
use std::time::Duration;

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
}

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
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts.clone())
            .await?;
        MIGRATOR.run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.read_only(true))
            .await?;
        let (accept_queue, rx) = AcceptQueue::new(4096);
        let pool = write.clone();
        tokio::spawn(async move {
            while let Some(batch) = next_batch(&rx).await {
                Self::write_accepts(&pool, batch).await;
            }
        });
        Ok(SqliteStore {
            read,
            write,
            accept_queue,
        })
    }

    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    fn writer(&self) -> &SqlitePool {
        &self.write
    }

    /// No other process to tell: one process holds the streams.
    fn inbox_channel(&self) -> Option<&str> {
        None
    }
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
