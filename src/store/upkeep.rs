//! What keeps the store fit: which backend it is, whether it is ready, and
//! purging what has expired or finished. Readiness and purges touch every
//! aggregate's tables, so they are an aggregate of their own.

use async_trait::async_trait;

use super::dialect::{Dialect, Engine, RowsAffected};
use super::StoreResult;
use crate::config::Backend;

/// Readiness and purges.
#[async_trait]
pub trait Upkeep: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// True when the database answers and every migration is applied.
    async fn ready(&self) -> StoreResult<bool>;

    async fn purge_idempotency(&self, now: i64) -> StoreResult<u64>;

    async fn purge_finished(&self, before: i64) -> StoreResult<u64>;
}

#[async_trait]
impl<S, D> Upkeep for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn purge_idempotency(&self, now: i64) -> StoreResult<u64> {
        sqlx::query(D::PURGE_SCOPES)
            .bind(now)
            .execute(self.writer())
            .await?;
        sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(
            sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                .bind(now)
                .execute(self.writer())
                .await?
                .rows_affected(),
        )
    }

    async fn purge_finished(&self, before: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        // Finished before `before`, so created before it too: read through
        // the creation-time index (its predicate repeated for SQLite);
        // there is no index on `updated_at` for the hot path to keep up.
        let finished = "SELECT id FROM deliveries WHERE created_at < $1 AND status <> \
                        'sending' AND status IN ('sent', 'failed', 'suppressed', 'cancelled', \
                        'delivered', 'undelivered', 'bounced', 'complained') AND updated_at < $1";
        for table in ["delivery_attempts", "delivery_receipts"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE delivery_id IN ({finished})"
            )))
            .bind(before)
            .execute(&mut *tx)
            .await?;
        }
        // A finished run's step records and digest events go with it.
        for table in ["workflow_steps", "workflow_digest_events"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE run_id IN ({finished})"
            )))
            .bind(before)
            .execute(&mut *tx)
            .await?;
        }
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM deliveries WHERE id IN ({finished})"
        )))
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Status events sent or given up on, and endpoints' attempt logs
        // (their ids are time-ordered, so the primary key finds the old).
        sqlx::query(
            "DELETE FROM endpoint_messages WHERE created_at < $1 AND state IN ('succeeded', \
             'failed')",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM endpoint_attempts WHERE id < $1")
            .bind(crate::util::id_floor(before))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM notifications WHERE created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM deliveries d WHERE d.notification_id = notifications.id)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    fn backend(&self) -> Backend {
        S::BACKEND
    }

    async fn ready(&self) -> StoreResult<bool> {
        self.writes_ready().await?;
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(self.reader())
                .await?;
        Ok(applied as usize >= S::migrator().iter().count())
    }
}
