//! Recipient profiles: addresses, preferences and quiet hours, their push
//! devices, and their erasure.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::dialect::{Dialect, Engine, RowsAffected, INSERT_CHUNK};
use super::inbox::INBOX_TOKEN_REVOKE;
use super::{DeviceRow, ErasedRecipient, PutDevice, RecipientRow, StoreResult};

/// Recipient profiles.
#[async_trait]
pub trait Recipients: Send + Sync + 'static {
    /// Creates or replaces a profile; true if it was new.
    async fn put_recipient(&self, r: &RecipientRow) -> StoreResult<bool>;

    async fn get_recipients(&self, ids: &[String]) -> StoreResult<Vec<RecipientRow>>;

    /// Replaces a profile's preferences (JSON) alone; false when there is
    /// no such profile.
    async fn set_preferences(&self, id: &str, preferences: &str, now: i64) -> StoreResult<bool>;

    /// Erases a recipient: its profile, its inbox messages, and (by
    /// raising its token generation) every inbox token issued for it.
    async fn delete_recipient(&self, id: &str) -> StoreResult<ErasedRecipient>;

    /// Adds a device to its recipient, or replaces the one with its id;
    /// refuses a new one when the recipient has `max` already.
    async fn put_device(&self, d: &DeviceRow, max: usize) -> StoreResult<PutDevice>;

    /// A recipient's devices, oldest first.
    async fn list_devices(&self, recipient: &str) -> StoreResult<Vec<DeviceRow>>;

    /// Removes one device; false when the recipient had no such device.
    async fn delete_device(&self, recipient: &str, id: &str) -> StoreResult<bool>;
}

#[async_trait]
impl<S, D> Recipients for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn put_recipient(&self, r: &RecipientRow) -> StoreResult<bool> {
        let existed: Option<i64> =
            sqlx::query_scalar("SELECT created_at FROM recipients WHERE id = $1")
                .bind(&r.id)
                .fetch_optional(self.writer())
                .await?;
        sqlx::query(
            "INSERT INTO recipients (id, email, phone, webhook_url, locale, timezone, \
             preferences, quiet_hours, created_at, updated_at, chat) VALUES ($1, $2, $3, $4, $5, \
             $6, $7, $8, $9, $9, $10) ON CONFLICT (id) DO UPDATE SET email = excluded.email, phone \
             = excluded.phone, webhook_url = excluded.webhook_url, chat = excluded.chat, locale = excluded.locale, \
             timezone = excluded.timezone, preferences = excluded.preferences, quiet_hours = \
             excluded.quiet_hours, updated_at = excluded.updated_at",
        )
        .bind(&r.id)
        .bind(&r.email)
        .bind(&r.phone)
        .bind(&r.webhook_url)
        .bind(&r.locale)
        .bind(&r.timezone)
        .bind(&r.preferences)
        .bind(&r.quiet_hours)
        .bind(r.updated_at)
        .bind(&r.chat)
        .execute(self.writer())
        .await?;
        Ok(existed.is_none())
    }

    async fn get_recipients(&self, ids: &[String]) -> StoreResult<Vec<RecipientRow>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<D>::new("SELECT * FROM recipients WHERE id IN (");
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id.clone());
            }
            q.push(")");
            out.extend(
                q.build_query_as::<RecipientRow>()
                    .fetch_all(self.reader())
                    .await?,
            );
        }
        Ok(out)
    }

    async fn set_preferences(&self, id: &str, preferences: &str, now: i64) -> StoreResult<bool> {
        let r =
            sqlx::query("UPDATE recipients SET preferences = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(preferences)
                .bind(now)
                .execute(self.writer())
                .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn delete_recipient(&self, id: &str) -> StoreResult<ErasedRecipient> {
        let mut tx = self.begin_write().await?;
        let profile = sqlx::query("DELETE FROM recipients WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let messages = sqlx::query("DELETE FROM inbox_messages WHERE recipient = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM devices WHERE recipient = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM topic_subscriptions WHERE recipient = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let token_generation: i64 = sqlx::query_scalar(INBOX_TOKEN_REVOKE)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ErasedRecipient {
            profile: profile.rows_affected() == 1,
            messages: messages.rows_affected(),
            token_generation,
        })
    }

    async fn put_device(&self, d: &DeviceRow, max: usize) -> StoreResult<PutDevice> {
        let mut tx = self.begin_write().await?;
        let profile: Option<i64> =
            sqlx::query_scalar("SELECT created_at FROM recipients WHERE id = $1")
                .bind(&d.recipient)
                .fetch_optional(&mut *tx)
                .await?;
        if profile.is_none() {
            return Ok(PutDevice::NoRecipient);
        }
        let existed: Option<i64> =
            sqlx::query_scalar("SELECT created_at FROM devices WHERE id = $1")
                .bind(&d.id)
                .fetch_optional(&mut *tx)
                .await?;
        if existed.is_none() {
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE recipient = $1")
                    .bind(&d.recipient)
                    .fetch_one(&mut *tx)
                    .await?;
            if count as usize >= max {
                return Ok(PutDevice::Full);
            }
        }
        sqlx::query(
            "INSERT INTO devices (id, recipient, kind, endpoint, p256dh, auth, token, platform, \
             app, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (id) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, \
             platform = excluded.platform, app = excluded.app, updated_at = excluded.updated_at",
        )
        .bind(&d.id)
        .bind(&d.recipient)
        .bind(&d.kind)
        .bind(&d.endpoint)
        .bind(&d.p256dh)
        .bind(&d.auth)
        .bind(&d.token)
        .bind(&d.platform)
        .bind(&d.app)
        .bind(d.updated_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if existed.is_none() {
            PutDevice::Created
        } else {
            PutDevice::Replaced
        })
    }

    async fn list_devices(&self, recipient: &str) -> StoreResult<Vec<DeviceRow>> {
        Ok(sqlx::query_as::<_, DeviceRow>(
            "SELECT * FROM devices WHERE recipient = $1 ORDER BY created_at, id",
        )
        .bind(recipient)
        .fetch_all(self.reader())
        .await?)
    }

    async fn delete_device(&self, recipient: &str, id: &str) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM devices WHERE recipient = $1 AND id = $2")
            .bind(recipient)
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
