//! API keys and the console sessions opened with them: who may call
//! missive, and who is signed in to the console.

use async_trait::async_trait;

use super::dialect::{Dialect, Engine, RowsAffected};
use super::{ApiKeyRow, ConsoleSessionRow, SessionView, StoreResult};

/// API keys and console sessions.
#[async_trait]
pub trait Keys: Send + Sync + 'static {
    async fn count_active_keys(&self) -> StoreResult<i64>;

    async fn insert_key(&self, key: &ApiKeyRow) -> StoreResult<()>;

    async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRow>>;

    async fn list_keys(&self) -> StoreResult<Vec<ApiKeyRow>>;

    async fn revoke_key(&self, id: &str, now: i64) -> StoreResult<bool>;

    async fn touch_key(&self, id: &str, now: i64) -> StoreResult<()>;

    async fn session_insert(&self, s: &ConsoleSessionRow) -> StoreResult<()>;

    /// The session with this id hash, if it has not expired and its key is
    /// not revoked.
    async fn session_get(&self, id: &str, now: i64) -> StoreResult<Option<SessionView>>;

    async fn session_delete(&self, id: &str) -> StoreResult<()>;
}

#[async_trait]
impl<S, D> Keys for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn count_active_keys(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")
                .fetch_one(self.reader())
                .await?,
        )
    }

    async fn insert_key(&self, k: &ApiKeyRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, prefix, key_hash, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&k.id)
        .bind(&k.name)
        .bind(&k.prefix)
        .bind(&k.key_hash)
        .bind(&k.scopes)
        .bind(k.created_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRow>> {
        Ok(
            sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys WHERE key_hash = $1")
                .bind(hash)
                .fetch_optional(self.reader())
                .await?,
        )
    }

    async fn list_keys(&self) -> StoreResult<Vec<ApiKeyRow>> {
        Ok(
            sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys ORDER BY created_at, id")
                .fetch_all(self.reader())
                .await?,
        )
    }

    async fn revoke_key(&self, id: &str, now: i64) -> StoreResult<bool> {
        let r =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(self.writer())
                .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn touch_key(&self, id: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn session_insert(&self, s: &ConsoleSessionRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO console_sessions (id, key_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.id)
        .bind(&s.key_id)
        .bind(&s.csrf)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn session_get(&self, id: &str, now: i64) -> StoreResult<Option<SessionView>> {
        Ok(sqlx::query_as::<_, SessionView>(
            "SELECT s.key_id, k.name AS key_name, k.scopes, k.last_used_at AS key_last_used_at, \
             s.csrf, s.expires_at \
             FROM console_sessions s JOIN api_keys k ON k.id = s.key_id \
             WHERE s.id = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(self.reader())
        .await?)
    }

    async fn session_delete(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM console_sessions WHERE id = $1")
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
