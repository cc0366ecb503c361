//! Receipts and the suppression list. A receipt moves a sent delivery
//! forward (never back: the statuses it may move from are those of a lower
//! [`receipt_rank`](crate::domain::Status::receipt_rank), so the move is
//! one conditional UPDATE and receipts may come in any order or twice), is
//! recorded beside the delivery's attempts, and may put the delivery's
//! address on the suppression list, all in one transaction. Accepting a
//! send reads the list for the addresses it plans to send to.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::QueryBuilder;

use super::dialect::{Dialect, Engine, RowsAffected, INSERT_CHUNK};
use super::events::delivery_events;
use super::stats::Tally;
use super::StoreResult;
use crate::domain::event::EventType;
use crate::domain::Status;

/// One receipt as the delivery's log shows it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ReceiptRow {
    pub id: String,
    pub delivery_id: String,
    pub source: String,
    pub event: String,
    pub status: Option<String>,
    pub moved: i64,
    pub detail: String,
    pub received_at: i64,
}

/// One address on the suppression list.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct SuppressionRow {
    pub channel: String,
    pub address: String,
    pub reason: String,
    pub source: String,
    pub detail: String,
    pub delivery_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A receipt to apply to its delivery.
#[derive(Clone, Debug)]
pub struct NewReceipt {
    pub delivery_id: String,
    pub source: &'static str,
    pub event: String,
    /// The status it means; `None`: recorded only.
    pub status: Option<Status>,
    /// The suppression reason the delivery's address is listed with.
    pub suppress: Option<&'static str>,
    pub detail: String,
}

/// What applying a receipt did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// No such delivery (purged, or not ours): nothing was written.
    Unknown,
    /// The same receipt was recorded before: nothing was written.
    Repeated,
    /// Recorded; `moved` says whether it changed the delivery's status,
    /// `listed` whether it put the address on the suppression list,
    /// `early` that it would have moved a delivery whose outcome is still
    /// being written (`sending`): the same receipt again later moves it.
    Recorded {
        channel: String,
        /// The delivery's notification (for the lines logged about it).
        notification_id: String,
        moved: bool,
        listed: bool,
        early: bool,
    },
}

/// Which suppressions a page lists.
#[derive(Clone, Debug, Default)]
pub struct SuppressionFilter {
    pub channel: Option<String>,
    pub reason: Option<String>,
    /// The page starts after this (channel, address).
    pub after: Option<(String, String)>,
}

/// Receipts and the suppression list.
#[async_trait]
pub trait Receipts: Send + Sync + 'static {
    async fn apply_receipt(&self, r: &NewReceipt, now: i64) -> StoreResult<Applied>;

    /// A delivery's receipts, in the order received.
    async fn receipts_of(&self, delivery_id: &str) -> StoreResult<Vec<ReceiptRow>>;

    /// Of `pairs` (channel, listed address), those on the list, with
    /// their reasons.
    async fn suppressed_among(
        &self,
        pairs: &[(String, String)],
    ) -> StoreResult<Vec<(String, String, String)>>;

    /// Suppressions ordered by channel and address.
    async fn list_suppressions(
        &self,
        f: &SuppressionFilter,
        limit: i64,
    ) -> StoreResult<Vec<SuppressionRow>>;

    async fn get_suppression(
        &self,
        channel: &str,
        address: &str,
    ) -> StoreResult<Option<SuppressionRow>>;

    /// Adds or replaces an entry; true if it was new.
    async fn put_suppression(&self, row: &SuppressionRow) -> StoreResult<bool>;

    /// Removes an entry; true if there was one.
    async fn delete_suppression(&self, channel: &str, address: &str) -> StoreResult<bool>;
}

const UPSERT: &str = "INSERT INTO suppressions (channel, address, reason, source, detail, \
     delivery_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
     ON CONFLICT (channel, address) DO UPDATE SET reason = excluded.reason, source = \
     excluded.source, detail = excluded.detail, delivery_id = excluded.delivery_id, \
     updated_at = excluded.updated_at";

#[async_trait]
impl<S, D> Receipts for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn apply_receipt(&self, r: &NewReceipt, now: i64) -> StoreResult<Applied> {
        // A write transaction from the start (SQLite's BEGIN IMMEDIATE), so
        // the reads below can't be overtaken by another process's write.
        let mut tx = self.begin_write().await?;
        // Forward only: from the statuses ranked below the receipt's.
        let mut moved = None;
        if let Some(to) = r.status {
            let from: Vec<&str> = Status::ALL
                .iter()
                .filter(|s| s.moved_by_receipt(to))
                .map(|s| s.as_str())
                .collect();
            if !from.is_empty() {
                let mut q = QueryBuilder::<D>::new("UPDATE deliveries SET status = ");
                q.push_bind(to.as_str())
                    .push(", updated_at = ")
                    .push_bind(now);
                if to != Status::Delivered {
                    q.push(", last_error = ").push_bind(r.detail.clone());
                }
                q.push(" WHERE id = ")
                    .push_bind(r.delivery_id.clone())
                    .push(" AND status IN (");
                let mut sep = q.separated(", ");
                for s in from {
                    sep.push_bind(s);
                }
                q.push(") RETURNING channel, address, template_key, provider, notification_id");
                moved = q
                    .build_query_as::<(String, String, Option<String>, Option<String>, String)>()
                    .fetch_optional(&mut *tx)
                    .await?;
            }
        }
        let (channel, address, status, notification_id) = match moved.clone() {
            Some((c, a, _, _, n)) => (c, a, to_str(r.status), n),
            None => {
                let row: Option<(String, String, String, String)> = sqlx::query_as(
                    "SELECT channel, address, status, notification_id FROM deliveries WHERE id = $1",
                )
                .bind(&r.delivery_id)
                .fetch_optional(&mut *tx)
                .await?;
                match row {
                    Some(row) => row,
                    None => return Ok(Applied::Unknown),
                }
            }
        };
        // The same receipt again (a provider's retry) is not recorded
        // again, unless it moves the delivery now where the first could
        // not (that one came while the delivery was still being sent).
        let repeated: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM delivery_receipts WHERE delivery_id = $1 AND source = $2 \
             AND event = $3 AND detail = $4",
        )
        .bind(&r.delivery_id)
        .bind(r.source)
        .bind(&r.event)
        .bind(&r.detail)
        .fetch_one(&mut *tx)
        .await?;
        if repeated > 0 && moved.is_none() {
            return Ok(Applied::Repeated);
        }
        sqlx::query(
            "INSERT INTO delivery_receipts (id, delivery_id, source, event, status, moved, \
             detail, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(crate::util::new_id())
        .bind(&r.delivery_id)
        .bind(r.source)
        .bind(&r.event)
        .bind(r.status.map(|s| s.as_str().to_string()))
        .bind(moved.is_some() as i64)
        .bind(&r.detail)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // The address is bad whatever order receipts come in; only a
        // delivery that reached the provider has one to judge.
        let reached = Status::parse(&status).is_ok_and(|s| s.was_sent() || s == Status::Sending);
        let listed = match r.suppress {
            Some(reason) if reached && !address.is_empty() => {
                let channel = crate::domain::Channel::parse(&channel).ok();
                match channel.filter(|c| crate::domain::receipt::LISTED_CHANNELS.contains(c)) {
                    Some(c) => {
                        sqlx::query(UPSERT)
                            .bind(c.as_str())
                            .bind(crate::domain::receipt::listed_address(c, &address))
                            .bind(reason)
                            .bind(r.source)
                            .bind(&r.detail)
                            .bind(Some(r.delivery_id.clone()))
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        };
        // The move counted in the delivery statistics, in its transaction.
        if let (Some((channel, _, template, provider, _)), Some(to)) = (&moved, r.status) {
            let mut tally = Tally::default();
            tally.moved(template.clone(), channel.clone(), provider.clone(), to, now);
            tally.apply(&mut tx).await?;
        }
        // The move's status event, in the move's transaction.
        let event = match (&moved, r.status.and_then(EventType::of_status)) {
            (Some(_), Some(t)) if self.subscribed().mask().has(t) => {
                let one = [(
                    r.delivery_id.clone(),
                    r.status.map(|s| s.as_str().to_string()),
                    Some(r.detail.clone()),
                )];
                delivery_events(&mut tx, t, &one, now).await?
            }
            _ => false,
        };
        tx.commit().await?;
        if event {
            self.subscribed().written();
        }
        let early = moved.is_none() && r.status.is_some() && status == Status::Sending.as_str();
        Ok(Applied::Recorded {
            channel,
            notification_id,
            moved: moved.is_some(),
            listed,
            early,
        })
    }

    async fn receipts_of(&self, delivery_id: &str) -> StoreResult<Vec<ReceiptRow>> {
        Ok(sqlx::query_as::<_, ReceiptRow>(
            "SELECT * FROM delivery_receipts WHERE delivery_id = $1 ORDER BY id",
        )
        .bind(delivery_id)
        .fetch_all(self.reader())
        .await?)
    }

    async fn suppressed_among(
        &self,
        pairs: &[(String, String)],
    ) -> StoreResult<Vec<(String, String, String)>> {
        // One primary-key range per channel: (channel, address IN ...).
        let mut channels: Vec<&str> = pairs.iter().map(|(c, _)| c.as_str()).collect();
        channels.sort_unstable();
        channels.dedup();
        let mut out = Vec::new();
        for channel in channels {
            let addresses: Vec<&str> = pairs
                .iter()
                .filter(|(c, _)| c == channel)
                .map(|(_, a)| a.as_str())
                .collect();
            for chunk in addresses.chunks(INSERT_CHUNK) {
                let mut q = QueryBuilder::<D>::new(
                    "SELECT channel, address, reason FROM suppressions WHERE channel = ",
                );
                q.push_bind(channel.to_string()).push(" AND address IN (");
                let mut sep = q.separated(", ");
                for a in chunk {
                    sep.push_bind(a.to_string());
                }
                q.push(")");
                out.extend(
                    q.build_query_as::<(String, String, String)>()
                        .fetch_all(self.reader())
                        .await?,
                );
            }
        }
        Ok(out)
    }

    async fn list_suppressions(
        &self,
        f: &SuppressionFilter,
        limit: i64,
    ) -> StoreResult<Vec<SuppressionRow>> {
        let mut q = QueryBuilder::<D>::new("SELECT * FROM suppressions WHERE 1 = 1");
        if let Some(c) = &f.channel {
            q.push(" AND channel = ").push_bind(c.clone());
        }
        if let Some(r) = &f.reason {
            q.push(" AND reason = ").push_bind(r.clone());
        }
        if let Some((c, a)) = &f.after {
            q.push(" AND (channel > ")
                .push_bind(c.clone())
                .push(" OR (channel = ")
                .push_bind(c.clone())
                .push(" AND address > ")
                .push_bind(a.clone())
                .push("))");
        }
        q.push(" ORDER BY channel, address LIMIT ").push_bind(limit);
        Ok(q.build_query_as::<SuppressionRow>()
            .fetch_all(self.reader())
            .await?)
    }

    async fn get_suppression(
        &self,
        channel: &str,
        address: &str,
    ) -> StoreResult<Option<SuppressionRow>> {
        Ok(sqlx::query_as::<_, SuppressionRow>(
            "SELECT * FROM suppressions WHERE channel = $1 AND address = $2",
        )
        .bind(channel)
        .bind(address)
        .fetch_optional(self.reader())
        .await?)
    }

    async fn put_suppression(&self, row: &SuppressionRow) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let existed: Option<i64> = sqlx::query_scalar(
            "SELECT created_at FROM suppressions WHERE channel = $1 AND address = $2",
        )
        .bind(&row.channel)
        .bind(&row.address)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(UPSERT)
            .bind(&row.channel)
            .bind(&row.address)
            .bind(&row.reason)
            .bind(&row.source)
            .bind(&row.detail)
            .bind(row.delivery_id.clone())
            .bind(row.updated_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(existed.is_none())
    }

    async fn delete_suppression(&self, channel: &str, address: &str) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM suppressions WHERE channel = $1 AND address = $2")
            .bind(channel)
            .bind(address)
            .execute(self.writer())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}

fn to_str(s: Option<Status>) -> String {
    s.map(|s| s.as_str().to_string()).unwrap_or_default()
}
