//! PostgreSQL: for many instances on one database. Claiming uses
//! `FOR UPDATE SKIP LOCKED`, so workers in any number of processes take
//! disjoint batches; new work wakes every process through LISTEN/NOTIFY.

use std::str::FromStr;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::Postgres;

use super::common::{next_batch, AcceptQueue, DELIVERY_COLUMNS, WAITING};
use super::*;
use crate::config::{Backend, DatabaseConfig};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The LISTEN/NOTIFY channel. Notifications carry no payload: they only say
/// "look at the queue".
const WAKE_CHANNEL: &str = "missive_wake";

/// Transactions that write accepted requests at once.
const ACCEPT_WRITERS: usize = 4;

pub struct PgStore {
    pool: PgPool,
    accept_queue: AcceptQueue,
}

impl PgStore {
    const NOTIFY: Option<&'static str> = Some("SELECT pg_notify('missive_wake', '')");

    pub async fn open(cfg: &DatabaseConfig) -> StoreResult<Self> {
        let mut opts = PgConnectOptions::from_str(&cfg.url)?;
        if let Some(schema) = &cfg.schema {
            // Make the schema with a plain connection first, then point every
            // pooled connection at it.
            let admin = PgPoolOptions::new().max_connections(1).connect_with(opts.clone()).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")))
                .execute(&admin)
                .await?;
            admin.close().await;
            opts = opts.options([("search_path", schema.as_str())]);
        }
        let size = cfg.max_connections.max(ACCEPT_WRITERS as u32 + 2);
        // Open every connection up front: a new connection costs a TLS
        // handshake (tens of ms), which must not land on a request.
        let pool = PgPoolOptions::new()
            .max_connections(size)
            .min_connections(size)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        let (accept_queue, rx) = AcceptQueue::new(4096);
        for _ in 0..ACCEPT_WRITERS {
            let rx = rx.clone();
            let pool = pool.clone();
            tokio::spawn(async move {
                while let Some(batch) = next_batch(&rx).await {
                    Self::write_accepts(&pool, batch).await;
                }
            });
        }
        Ok(PgStore { pool, accept_queue })
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }
}

store_impl!(PgStore, Postgres, {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn claim(&self, now: i64, lease_until: i64, limit: i64, token: &str) -> StoreResult<Vec<Claimed>> {
        Ok(sqlx::query_as::<_, Claimed>(const_format::concatcp!(
            "UPDATE deliveries d SET status = 'sending', due_at = $1, claim_token = $2, updated_at = $3 \
             FROM (SELECT id FROM deliveries WHERE status IN ", WAITING, " AND due_at <= $3 \
                   ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) c \
             WHERE d.id = c.id \
             RETURNING d.id, d.notification_id, d.recipient, d.channel, d.category, d.address, d.content, d.attempts, d.retry_base, d.claim_token"))
            .bind(lease_until).bind(token).bind(now).bind(limit)
            .fetch_all(self.writer())
            .await?)
    }

    async fn next_due(&self) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar::<_, i64>(const_format::concatcp!(
            "SELECT due_at FROM deliveries WHERE status IN ", WAITING, " ORDER BY due_at LIMIT 1"))
            .fetch_optional(self.reader())
            .await?)
    }

    async fn wakeups(&self) -> StoreResult<Option<BoxStream<'static, ()>>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(WAKE_CHANNEL).await?;
        // A dropped connection is re-established by the listener; the
        // worker's poll covers anything sent while it was away.
        Ok(Some(listener.into_stream().map(|_| ()).boxed()))
    }
});
