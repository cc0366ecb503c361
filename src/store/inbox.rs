//! In-app inbox messages, and the token generation that revokes a
//! recipient's inbox tokens. A new message is announced to other
//! processes in the transaction that stores it (PostgreSQL NOTIFY; SQLite
//! has one process holding the streams, and nothing to tell).

use async_trait::async_trait;
use futures::stream::BoxStream;
use sqlx::QueryBuilder;

use super::dialect::{Dialect, Engine, RowsAffected};
use super::events::delivery_events;
use super::{InboxMessage, NewInboxMessage, StoreResult};
use crate::domain::event::EventType;

/// Raises a recipient's inbox token generation; returns the new one.
pub(super) const INBOX_TOKEN_REVOKE: &str =
    "INSERT INTO inbox_token_generations (recipient, generation) VALUES ($1, 1) \
     ON CONFLICT (recipient) DO UPDATE SET generation = inbox_token_generations.generation + 1 \
     RETURNING generation";

/// Tells the other processes' streams about `event` on `channel`
/// (PostgreSQL's; SQLite has none).
async fn notify<'e, D: Dialect, E: sqlx::Executor<'e, Database = D>>(
    executor: E,
    channel: Option<&str>,
    event: &str,
) -> StoreResult<()> {
    if let Some(channel) = channel {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(event)
            .execute(executor)
            .await?;
    }
    Ok(())
}

/// In-app inbox messages.
#[async_trait]
pub trait Inbox: Send + Sync + 'static {
    /// The generation a recipient's inbox tokens must carry (0 until its
    /// tokens are first revoked).
    async fn inbox_token_generation(&self, recipient: &str) -> StoreResult<i64>;

    /// Revokes every inbox token issued for `recipient`; returns the new
    /// generation.
    async fn revoke_inbox_tokens(&self, recipient: &str) -> StoreResult<i64>;

    /// Stores an in-app message unless its delivery stored one already;
    /// returns it if it is new. `event` is announced to other processes in
    /// the same transaction (see [`Inbox::inbox_announce`]).
    async fn inbox_insert(
        &self,
        m: &NewInboxMessage,
        event: &str,
    ) -> StoreResult<Option<InboxMessage>>;

    /// A recipient's listed (not archived) messages, newest first.
    async fn inbox_list(
        &self,
        recipient: &str,
        unread_only: bool,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<InboxMessage>>;

    async fn inbox_unread_count(&self, recipient: &str) -> StoreResult<i64>;

    /// Listed messages stored after `after_id`, oldest first (stream replay).
    async fn inbox_after(
        &self,
        recipient: &str,
        after_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<InboxMessage>>;

    async fn inbox_get(&self, recipient: &str, id: &str) -> StoreResult<Option<InboxMessage>>;

    /// Marks a listed message read. `None` if there is none; the flag says
    /// whether it was unread until now.
    async fn inbox_mark_read(
        &self,
        recipient: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<Option<(InboxMessage, bool)>>;

    /// Marks every listed message read; returns the ids that were unread.
    async fn inbox_mark_all_read(&self, recipient: &str, now: i64) -> StoreResult<Vec<String>>;

    async fn inbox_archive(&self, recipient: &str, id: &str, now: i64) -> StoreResult<bool>;

    /// Tells every process (PostgreSQL NOTIFY on `missive_inbox`, or
    /// `missive_inbox_<schema>`) about an inbox change; does nothing on
    /// SQLite, where one process holds the streams.
    async fn inbox_announce(&self, event: &str) -> StoreResult<()>;

    /// The inbox events announced by any process, this one included; `None`
    /// where the backend has none.
    async fn inbox_events(&self) -> StoreResult<Option<BoxStream<'static, String>>>;
}

#[async_trait]
impl<S, D> Inbox for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn inbox_token_generation(&self, recipient: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT generation FROM inbox_token_generations WHERE recipient = $1",
        )
        .bind(recipient)
        .fetch_optional(self.reader())
        .await?
        .unwrap_or(0))
    }

    async fn revoke_inbox_tokens(&self, recipient: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(INBOX_TOKEN_REVOKE)
            .bind(recipient)
            .fetch_one(self.writer())
            .await?)
    }

    async fn inbox_insert(
        &self,
        m: &NewInboxMessage,
        event: &str,
    ) -> StoreResult<Option<InboxMessage>> {
        let mut tx = self.begin_write().await?;
        let stored = sqlx::query_as::<_, InboxMessage>(
            "INSERT INTO inbox_messages (id, recipient, delivery_id, notification_id, title, \
             body, action_url, data, category, created_at) VALUES ($1, $2, $3, $4, $5, $6, \
             $7, COALESCE((SELECT data FROM notifications WHERE id = $4), '{}'), $8, $9) ON \
             CONFLICT (delivery_id) DO NOTHING RETURNING *",
        )
        .bind(&m.id)
        .bind(&m.recipient)
        .bind(&m.delivery_id)
        .bind(&m.notification_id)
        .bind(&m.title)
        .bind(&m.body)
        .bind(&m.action_url)
        .bind(&m.category)
        .bind(m.created_at)
        .fetch_optional(&mut *tx)
        .await?;
        if stored.is_some() {
            notify::<D, _>(&mut *tx, self.inbox_channel(), event).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn inbox_list(
        &self,
        recipient: &str,
        unread_only: bool,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<InboxMessage>> {
        let mut q = QueryBuilder::<D>::new("SELECT * FROM inbox_messages WHERE recipient = ");
        q.push_bind(recipient.to_string())
            .push(" AND archived_at IS NULL");
        if unread_only {
            q.push(" AND read_at IS NULL");
        }
        if let Some(v) = before_id {
            q.push(" AND id < ").push_bind(v.to_string());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        Ok(q.build_query_as::<InboxMessage>()
            .fetch_all(self.reader())
            .await?)
    }

    async fn inbox_unread_count(&self, recipient: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM inbox_messages WHERE recipient = $1 AND archived_at IS NULL \
             AND read_at IS NULL",
        )
        .bind(recipient)
        .fetch_one(self.reader())
        .await?)
    }

    async fn inbox_after(
        &self,
        recipient: &str,
        after_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<InboxMessage>> {
        Ok(sqlx::query_as::<_, InboxMessage>(
            "SELECT * FROM inbox_messages WHERE recipient = $1 AND archived_at IS NULL AND id \
             > $2 ORDER BY id LIMIT $3",
        )
        .bind(recipient)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await?)
    }

    async fn inbox_get(&self, recipient: &str, id: &str) -> StoreResult<Option<InboxMessage>> {
        Ok(sqlx::query_as::<_, InboxMessage>(
            "SELECT * FROM inbox_messages WHERE recipient = $1 AND id = $2",
        )
        .bind(recipient)
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    async fn inbox_mark_read(
        &self,
        recipient: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<Option<(InboxMessage, bool)>> {
        let events = self.subscribed().mask().has(EventType::DeliveryRead);
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query_as::<_, InboxMessage>(
            "UPDATE inbox_messages SET read_at = $3 WHERE recipient = $1 AND id = $2 \
             AND archived_at IS NULL AND read_at IS NULL RETURNING *",
        )
        .bind(recipient)
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(m) = changed {
            // The read's status event, in the read's transaction.
            let wrote = events
                && delivery_events(
                    &mut tx,
                    EventType::DeliveryRead,
                    &[(m.delivery_id.clone(), Some("read".into()), None)],
                    now,
                )
                .await?;
            tx.commit().await?;
            if wrote {
                self.subscribed().written();
            }
            return Ok(Some((m, true)));
        }
        tx.commit().await?;
        Ok(sqlx::query_as::<_, InboxMessage>(
            "SELECT * FROM inbox_messages WHERE recipient = $1 AND id = $2 AND archived_at IS NULL",
        )
        .bind(recipient)
        .bind(id)
        .fetch_optional(self.writer())
        .await?
        .map(|m| (m, false)))
    }

    async fn inbox_mark_all_read(&self, recipient: &str, now: i64) -> StoreResult<Vec<String>> {
        if !self.subscribed().mask().has(EventType::DeliveryRead) {
            return Ok(sqlx::query_scalar::<_, String>(
                "UPDATE inbox_messages SET read_at = $2 WHERE recipient = $1 AND archived_at IS \
                 NULL AND read_at IS NULL RETURNING id",
            )
            .bind(recipient)
            .bind(now)
            .fetch_all(self.writer())
            .await?);
        }
        // The reads' status events, in the reads' transaction.
        let mut tx = self.begin_write().await?;
        let read: Vec<(String, String)> = sqlx::query_as(
            "UPDATE inbox_messages SET read_at = $2 WHERE recipient = $1 AND archived_at IS \
             NULL AND read_at IS NULL RETURNING id, delivery_id",
        )
        .bind(recipient)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let deliveries: Vec<_> = read
            .iter()
            .map(|(_, d)| (d.clone(), Some("read".to_string()), None))
            .collect();
        let wrote = delivery_events(&mut tx, EventType::DeliveryRead, &deliveries, now).await?;
        tx.commit().await?;
        if wrote {
            self.subscribed().written();
        }
        Ok(read.into_iter().map(|(id, _)| id).collect())
    }

    async fn inbox_archive(&self, recipient: &str, id: &str, now: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE inbox_messages SET archived_at = $3 WHERE recipient = $1 \
             AND id = $2 AND archived_at IS NULL",
        )
        .bind(recipient)
        .bind(id)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn inbox_announce(&self, event: &str) -> StoreResult<()> {
        notify::<D, _>(self.writer(), self.inbox_channel(), event).await
    }

    async fn inbox_events(&self) -> StoreResult<Option<BoxStream<'static, String>>> {
        self.listen_inbox().await
    }
}
