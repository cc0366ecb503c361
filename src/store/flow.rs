//! State that paces sending and is shared by every process: rate-limit
//! token buckets, provider pauses and circuit breakers, and settings
//! stored once (the signing secret). See
//! docs/decisions/0004-rate-limits-in-the-database.md and
//! docs/decisions/0007-provider-pauses-and-breakers-in-the-database.md.

use async_trait::async_trait;

use super::dialect::{Dialect, Engine, RowsAffected};
use super::StoreResult;
use crate::flow::pace::Buckets;
use crate::flow::provider_state::{SharedState, Stored};

/// Settings stored once; the store is also flow's [`Buckets`] and
/// [`SharedState`] (implemented below for every backend).
#[async_trait]
pub trait Flow: Send + Sync + 'static {
    /// Stores `value` under `name` unless something is there already;
    /// returns what is stored (so concurrent first starts agree).
    async fn setting_init(&self, name: &str, value: &str) -> StoreResult<(String, bool)>;
}

#[async_trait]
impl<S, D> Flow for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn setting_init(&self, name: &str, value: &str) -> StoreResult<(String, bool)> {
        let r = sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(self.writer())
        .await?;
        let stored = sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(self.writer())
            .await?;
        Ok((stored, r.rows_affected() == 1))
    }
}

#[async_trait]
impl<S, D> Buckets for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn take(
        &self,
        name: &str,
        per_ms: f64,
        burst: f64,
        want: i64,
        now: i64,
    ) -> anyhow::Result<i64> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO rate_buckets (name, tokens, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(burst)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let (tokens, updated_at): (f64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT tokens, updated_at FROM rate_buckets WHERE name = $1{}",
            D::LOCK_ROW
        )))
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        let available = (tokens + (now - updated_at).max(0) as f64 * per_ms).min(burst);
        let granted = (available.floor() as i64).clamp(0, want);
        sqlx::query("UPDATE rate_buckets SET tokens = $2, updated_at = $3 WHERE name = $1")
            .bind(name)
            .bind(available - granted as f64)
            .bind(now.max(updated_at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(granted)
    }
}

#[async_trait]
impl<S, D> SharedState for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn load(&self) -> anyhow::Result<Vec<Stored>> {
        let rows: Vec<(String, Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT key, paused_until, open_until FROM provider_state ORDER BY key")
                .fetch_all(self.reader())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(key, paused_until, open_until)| Stored {
                key,
                paused_until,
                open_until,
            })
            .collect())
    }

    async fn pause(&self, key: &str, until: i64, now: i64) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO provider_state (key, paused_until, updated_at) VALUES ($1, \
             $2, $3) ON CONFLICT (key) DO UPDATE SET updated_at = \
             excluded.updated_at, paused_until = CASE WHEN \
             provider_state.paused_until > excluded.paused_until THEN \
             provider_state.paused_until ELSE excluded.paused_until END",
        )
        .bind(key)
        .bind(until)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn breaker(&self, key: &str, open_until: Option<i64>, now: i64) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO provider_state (key, open_until, updated_at) VALUES ($1, $2, \
             $3) ON CONFLICT (key) DO UPDATE SET open_until = excluded.open_until, \
             updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(open_until)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn claim_probe(
        &self,
        key: &str,
        seen: i64,
        lease_until: i64,
        now: i64,
    ) -> anyhow::Result<bool> {
        let r = sqlx::query(
            "UPDATE provider_state SET open_until = $3, updated_at = $4 \
             WHERE key = $1 AND open_until = $2 AND open_until <= $4",
        )
        .bind(key)
        .bind(seen)
        .bind(lease_until)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
