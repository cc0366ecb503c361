//! Topics and their subscribers: named groups of stored recipients that a
//! send addresses as one. A send to a topic is fanned out in the
//! background, a keyset page of subscribers (by recipient id) at a time:
//! [`Topics::subscriber_batch`] reads one page with the profiles the
//! accept path needs. See docs/decisions/0030-topics-fan-out-in-the-background.md.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::QueryBuilder;

use super::dialect::{Dialect, Engine, RowsAffected, DELIVERY_COLUMNS, INSERT_CHUNK};
use super::{DeliveryRow, RecipientRow, StoreResult};

/// A stored topic.
#[derive(Clone, Debug, Default, Serialize, sqlx::FromRow)]
pub struct TopicRow {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a subscribe did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscribed {
    /// How many were newly subscribed (the others already were).
    Added(u64),
    /// There is no such topic; nothing written.
    NoTopic,
    /// These ids name no stored recipient; nothing written.
    Unknown(Vec<String>),
}

/// Topics and subscriptions.
#[async_trait]
pub trait Topics: Send + Sync + 'static {
    /// Creates or replaces a topic's name and description; true if new.
    async fn put_topic(&self, t: &TopicRow) -> StoreResult<bool>;

    async fn get_topic(&self, key: &str) -> StoreResult<Option<TopicRow>>;

    /// Topics by key, after `after`, at most `limit`.
    async fn list_topics(&self, after: Option<&str>, limit: i64) -> StoreResult<Vec<TopicRow>>;

    /// Deletes a topic and its subscriptions; false when there was none.
    async fn delete_topic(&self, key: &str) -> StoreResult<bool>;

    /// Subscribes stored recipients (an id already subscribed is left as
    /// it is). Nothing is written when the topic or any recipient is
    /// unknown.
    async fn subscribe(&self, topic: &str, ids: &[String], now: i64) -> StoreResult<Subscribed>;

    /// Unsubscribes; returns how many were subscribed. `None` when there
    /// is no such topic.
    async fn unsubscribe(&self, topic: &str, ids: &[String]) -> StoreResult<Option<u64>>;

    /// A page of a topic's subscribers (recipient id, subscribed at), by
    /// recipient id, after `after`.
    async fn subscribers(
        &self,
        topic: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<(String, i64)>>;

    /// How many subscribed at or before `at` (all, when `None`).
    async fn count_subscribers(&self, topic: &str, at: Option<i64>) -> StoreResult<i64>;

    /// The topics a recipient is subscribed to, by key.
    async fn topics_of(&self, recipient: &str) -> StoreResult<Vec<String>>;

    /// The next page of a fan-out: the profiles of the subscribers after
    /// `after` (by id) who subscribed at or before `at`.
    async fn subscriber_batch(
        &self,
        topic: &str,
        after: Option<&str>,
        at: i64,
        limit: i64,
    ) -> StoreResult<Vec<RecipientRow>>;

    /// Up to `limit` deliveries of a notification, in no set order: a
    /// send to a topic may have a million, and ordering them would sort
    /// them all.
    async fn first_deliveries(
        &self,
        notification_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRow>>;
}

#[async_trait]
impl<S, D> Topics for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn put_topic(&self, t: &TopicRow) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let existed: Option<i64> =
            sqlx::query_scalar("SELECT created_at FROM topics WHERE key = $1")
                .bind(&t.key)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO topics (key, name, description, created_at, updated_at) VALUES ($1, \
             $2, $3, $4, $4) ON CONFLICT (key) DO UPDATE SET name = excluded.name, description \
             = excluded.description, updated_at = excluded.updated_at",
        )
        .bind(&t.key)
        .bind(&t.name)
        .bind(&t.description)
        .bind(t.updated_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(existed.is_none())
    }

    async fn get_topic(&self, key: &str) -> StoreResult<Option<TopicRow>> {
        Ok(
            sqlx::query_as::<_, TopicRow>("SELECT * FROM topics WHERE key = $1")
                .bind(key)
                .fetch_optional(self.reader())
                .await?,
        )
    }

    async fn list_topics(&self, after: Option<&str>, limit: i64) -> StoreResult<Vec<TopicRow>> {
        Ok(sqlx::query_as::<_, TopicRow>(
            "SELECT * FROM topics WHERE key > $1 ORDER BY key LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.reader())
        .await?)
    }

    async fn delete_topic(&self, key: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM topic_subscriptions WHERE topic = $1")
            .bind(key)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM topics WHERE key = $1")
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    async fn subscribe(&self, topic: &str, ids: &[String], now: i64) -> StoreResult<Subscribed> {
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT created_at FROM topics WHERE key = $1")
                .bind(topic)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(Subscribed::NoTopic);
        }
        let mut known = std::collections::HashSet::with_capacity(ids.len());
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<D>::new("SELECT id FROM recipients WHERE id IN (");
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id.clone());
            }
            q.push(")");
            let found: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
            known.extend(found);
        }
        let unknown: Vec<String> = ids
            .iter()
            .filter(|id| !known.contains(*id))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Ok(Subscribed::Unknown(unknown));
        }
        let mut added = 0;
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<D>::new(
                "INSERT INTO topic_subscriptions (topic, recipient, created_at) ",
            );
            q.push_values(chunk, |mut b, id| {
                b.push_bind(topic.to_string())
                    .push_bind(id.clone())
                    .push_bind(now);
            });
            q.push(" ON CONFLICT (topic, recipient) DO NOTHING");
            added += q.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(Subscribed::Added(added))
    }

    async fn unsubscribe(&self, topic: &str, ids: &[String]) -> StoreResult<Option<u64>> {
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT created_at FROM topics WHERE key = $1")
                .bind(topic)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let mut removed = 0;
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<D>::new("DELETE FROM topic_subscriptions WHERE topic = ");
            q.push_bind(topic.to_string()).push(" AND recipient IN (");
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id.clone());
            }
            q.push(")");
            removed += q.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(Some(removed))
    }

    async fn subscribers(
        &self,
        topic: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as::<_, (String, i64)>(
            "SELECT recipient, created_at FROM topic_subscriptions WHERE topic = $1 AND \
             recipient > $2 ORDER BY recipient LIMIT $3",
        )
        .bind(topic)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.reader())
        .await?)
    }

    async fn count_subscribers(&self, topic: &str, at: Option<i64>) -> StoreResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM topic_subscriptions WHERE topic = $1 AND ($2 IS NULL OR \
             created_at <= $2)",
        )
        .bind(topic)
        .bind(at)
        .fetch_one(self.reader())
        .await?)
    }

    async fn topics_of(&self, recipient: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT topic FROM topic_subscriptions WHERE recipient = $1 ORDER BY topic",
        )
        .bind(recipient)
        .fetch_all(self.reader())
        .await?)
    }

    async fn subscriber_batch(
        &self,
        topic: &str,
        after: Option<&str>,
        at: i64,
        limit: i64,
    ) -> StoreResult<Vec<RecipientRow>> {
        Ok(sqlx::query_as::<_, RecipientRow>(
            "SELECT r.* FROM topic_subscriptions s JOIN recipients r ON r.id = s.recipient \
             WHERE s.topic = $1 AND s.recipient > $2 AND s.created_at <= $3 \
             ORDER BY s.recipient LIMIT $4",
        )
        .bind(topic)
        .bind(after.unwrap_or(""))
        .bind(at)
        .bind(limit)
        .fetch_all(self.reader())
        .await?)
    }

    async fn first_deliveries(
        &self,
        notification_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRow>> {
        Ok(sqlx::query_as::<_, DeliveryRow>(const_format::concatcp!(
            "SELECT ",
            DELIVERY_COLUMNS,
            " FROM deliveries WHERE notification_id = $1 LIMIT $2"
        ))
        .bind(notification_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await?)
    }
}
