//! The queue: notifications and their deliveries, from the accepted
//! request (written by the group-commit [`writer`](super::writer)) through
//! claiming, completing, retrying, cancelling and replaying, to the lists
//! and counts the API and console show. The deliveries table is the queue
//! (docs/decisions/0001-the-deliveries-table-is-the-queue.md).

use async_trait::async_trait;
use futures::stream::BoxStream;
use sqlx::{AssertSqlSafe, QueryBuilder};

use std::sync::Arc;

use super::attempts::audit_requeued;
use super::dialect::{Dialect, Engine, RowsAffected, DELIVERY_COLUMNS, INSERT_CHUNK, WAITING};
use super::events::notifications_completed;
use super::handoff::Handoff;
use super::stats::Tally;
use super::{
    Accept, AcceptOutcome, Claimed, Completion, DeliveryFilter, DeliveryRow, IdempotencyRecord,
    MinuteCount, NotificationRow, QueueDepth, StatusCount, StoreResult, Transition,
};
use crate::domain::event::EventType;

/// Notifications and their deliveries.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    async fn find_idempotency(
        &self,
        api_key_id: &str,
        key: &str,
        now: i64,
    ) -> StoreResult<Option<IdempotencyRecord>>;

    async fn accept(&self, accept: Accept) -> StoreResult<AcceptOutcome>;

    /// Deliveries the accepting writer hands this process's workers, and
    /// the signal that due work waits in the queue.
    fn handoff(&self) -> &Arc<Handoff>;

    async fn get_notification(&self, id: &str) -> StoreResult<Option<NotificationRow>>;

    async fn deliveries_of(&self, notification_id: &str) -> StoreResult<Vec<DeliveryRow>>;

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRow>>;

    async fn get_delivery(&self, id: &str) -> StoreResult<Option<DeliveryRow>>;

    /// failed → queued, now, recording an audit entry (`note`) in its
    /// attempt log, as the bulk replay does.
    async fn retry_delivery(&self, id: &str, note: &str, now: i64) -> StoreResult<Transition>;

    /// queued/scheduled/retrying → cancelled.
    async fn cancel_delivery(&self, id: &str, now: i64) -> StoreResult<Transition>;

    /// Cancels what has not started sending of a notification, and of
    /// what its workflow runs' steps sent; returns their channels.
    async fn cancel_notification_channels(
        &self,
        notification_id: &str,
        now: i64,
    ) -> StoreResult<Vec<String>>;

    /// Re-queues every failed delivery matching `filter` (the dead-letter
    /// replay), recording an audit entry in each one's attempt log; returns
    /// how many.
    async fn retry_failed(&self, filter: &DeliveryFilter, note: &str, now: i64)
        -> StoreResult<u64>;

    /// Claims up to `limit` due deliveries (including `sending` ones whose
    /// lease ended) for `lease_until`, marking them with `token`.
    async fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
        token: &str,
    ) -> StoreResult<Vec<Claimed>>;

    /// Records attempts and the next state of each delivery, in one transaction.
    async fn complete(&self, completions: &[Completion], now: i64) -> StoreResult<()>;

    /// Puts claimed deliveries back to wait until their time, with a reason
    /// (e.g. rate_limited): not an attempt.
    async fn defer(
        &self,
        token: &str,
        waits: &[(String, i64)],
        reason: &str,
        now: i64,
    ) -> StoreResult<()>;

    /// Hands claimed deliveries back to the queue (shutdown).
    async fn release(&self, token: &str, now: i64) -> StoreResult<u64>;

    /// The earliest `due_at` among waiting deliveries.
    async fn next_due(&self) -> StoreResult<Option<i64>>;

    /// A stream that yields whenever another process accepted work
    /// (PostgreSQL LISTEN/NOTIFY); `None` where the backend has none.
    async fn wakeups(&self) -> StoreResult<Option<BoxStream<'static, ()>>>;

    /// Deliveries created since `since`, counted by status and channel.
    async fn delivery_counts(&self, since: i64) -> StoreResult<Vec<StatusCount>>;

    /// Deliveries created since `since`, counted per minute and status.
    async fn deliveries_per_minute(&self, since: i64) -> StoreResult<Vec<MinuteCount>>;

    /// Waiting deliveries by status (queued, scheduled, retrying, sending),
    /// with the earliest due time among those due by `now`.
    async fn queue_depth(&self, now: i64) -> StoreResult<Vec<QueueDepth>>;
}

#[async_trait]
impl<S, D> Queue for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn find_idempotency(
        &self,
        api_key_id: &str,
        key: &str,
        now: i64,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        Ok(sqlx::query_as::<_, IdempotencyRecord>(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys \
             WHERE api_key_id = $1 AND idem_key = $2 AND expires_at > $3",
        )
        .bind(api_key_id)
        .bind(key)
        .bind(now)
        .fetch_optional(self.reader())
        .await?)
    }

    async fn accept(&self, accept: Accept) -> StoreResult<AcceptOutcome> {
        self.write_queue().submit(accept).await
    }

    fn handoff(&self) -> &Arc<Handoff> {
        Engine::handoff(self)
    }

    async fn get_notification(&self, id: &str) -> StoreResult<Option<NotificationRow>> {
        Ok(
            sqlx::query_as::<_, NotificationRow>("SELECT * FROM notifications WHERE id = $1")
                .bind(id)
                .fetch_optional(self.reader())
                .await?,
        )
    }

    async fn deliveries_of(&self, notification_id: &str) -> StoreResult<Vec<DeliveryRow>> {
        Ok(sqlx::query_as::<_, DeliveryRow>(const_format::concatcp!(
            "SELECT ",
            DELIVERY_COLUMNS,
            " FROM deliveries WHERE notification_id = $1 ORDER BY id"
        ))
        .bind(notification_id)
        .fetch_all(self.reader())
        .await?)
    }

    async fn list_deliveries(
        &self,
        f: &DeliveryFilter,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRow>> {
        Ok(list_query::<D>(f, before_id, limit)
            .build_query_as::<DeliveryRow>()
            .fetch_all(self.reader())
            .await?)
    }

    async fn get_delivery(&self, id: &str) -> StoreResult<Option<DeliveryRow>> {
        Ok(sqlx::query_as::<_, DeliveryRow>(const_format::concatcp!(
            "SELECT ",
            DELIVERY_COLUMNS,
            " FROM deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    async fn retry_delivery(&self, id: &str, note: &str, now: i64) -> StoreResult<Transition> {
        let mut tx = self.begin_write().await?;
        // As in retry_failed: the audit entry takes the next attempt
        // number, and the new retry cycle starts after it.
        let row = sqlx::query_as::<_, DeliveryRow>(const_format::concatcp!(
            "UPDATE deliveries SET status = 'queued', reason = NULL, due_at = $2, attempts = \
             attempts + 1, retry_base = attempts + 1, last_error = NULL, updated_at = $2 \
             WHERE id = $1 AND status = 'failed' RETURNING ",
            DELIVERY_COLUMNS
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = &row {
            audit_requeued(&mut tx, &[(r.id.clone(), r.attempts)], note, now).await?;
            if let Some(sql) = D::NOTIFY {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        transition(self, id, row).await
    }

    async fn cancel_delivery(&self, id: &str, now: i64) -> StoreResult<Transition> {
        const SQL: &str = const_format::concatcp!(
            "UPDATE deliveries SET status = 'cancelled', reason = 'cancelled by request', \
             due_at = NULL, updated_at = $2 WHERE id = $1 AND status IN ('queued', \
             'scheduled', 'retrying') RETURNING ",
            DELIVERY_COLUMNS
        );
        let events = self
            .subscribed()
            .mask()
            .has(EventType::NotificationCompleted);
        // The cancel is counted in the delivery statistics, and may
        // complete its notification (its event): both in its transaction.
        let mut tx = self.begin_write().await?;
        let row = sqlx::query_as::<_, DeliveryRow>(SQL)
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let wrote = match &row {
            Some(r) => {
                let mut tally = Tally::default();
                tally.cancelled(&[(r.template_key.clone(), r.channel.clone())], now);
                tally.apply(&mut tx).await?;
                events && notifications_completed(&mut tx, &[r.id.as_str()], now).await?
            }
            None => false,
        };
        tx.commit().await?;
        if wrote {
            self.subscribed().written();
        }
        transition(self, id, row).await
    }

    async fn cancel_notification_channels(
        &self,
        notification_id: &str,
        now: i64,
    ) -> StoreResult<Vec<String>> {
        let events = self
            .subscribed()
            .mask()
            .has(EventType::NotificationCompleted);
        let mut tx = self.begin_write().await?;
        // A send to a topic first stops its fan-out (its row's id is the
        // notification's), even mid-way: a batch being written either
        // committed before this (and its deliveries are cancelled below,
        // in a statement that sees them) or finds the row cancelled and
        // writes nothing.
        let mut channels = sqlx::query_scalar::<_, String>(
            "UPDATE deliveries SET status = 'cancelled', reason = 'cancelled by request', \
             due_at = NULL, claim_token = NULL, updated_at = $2 WHERE id = $1 AND channel = \
             'fanout' AND status IN ('queued', 'scheduled', 'retrying', 'sending') RETURNING \
             channel",
        )
        .bind(notification_id)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        const SQL: &str = "UPDATE deliveries SET status = 'cancelled', reason = 'cancelled by \
             request', due_at = NULL, updated_at = $2 WHERE status IN ('queued', 'scheduled', \
             'retrying') AND (notification_id = $1 OR notification_id IN (SELECT n.id FROM \
             notifications n JOIN deliveries r ON n.parent_run = r.id WHERE r.notification_id \
             = $1)) RETURNING id, channel, template_key";
        let cancelled: Vec<(String, String, Option<String>)> = sqlx::query_as(SQL)
            .bind(notification_id)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        let mut tally = Tally::default();
        let counted: Vec<(Option<String>, String)> = cancelled
            .iter()
            .map(|(_, c, t)| (t.clone(), c.clone()))
            .collect();
        tally.cancelled(&counted, now);
        tally.apply(&mut tx).await?;
        // Cancelling may complete notifications: their events are written
        // in the cancel's transaction.
        let wrote = if events && !cancelled.is_empty() {
            let ids: Vec<&str> = cancelled.iter().map(|(id, _, _)| id.as_str()).collect();
            notifications_completed(&mut tx, &ids, now).await?
        } else {
            false
        };
        tx.commit().await?;
        if wrote {
            self.subscribed().written();
        }
        channels.extend(cancelled.into_iter().map(|(_, c, _)| c));
        Ok(channels)
    }

    async fn retry_failed(&self, f: &DeliveryFilter, note: &str, now: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        // The audit entry takes the next attempt number; the new retry
        // cycle starts after it.
        let mut q = QueryBuilder::<D>::new(
            "UPDATE deliveries SET status = 'queued', reason = NULL, last_error = NULL, due_at = ",
        );
        q.push_bind(now)
            .push(", updated_at = ")
            .push_bind(now)
            .push(", attempts = attempts + 1, retry_base = attempts + 1 WHERE status = 'failed'");
        push_status_scope(&mut q, "failed");
        push_filter(&mut q, f);
        q.push(" RETURNING id, attempts");
        let requeued: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
        audit_requeued(&mut tx, &requeued, note, now).await?;
        if !requeued.is_empty() {
            if let Some(sql) = D::NOTIFY {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(requeued.len() as u64)
    }

    async fn complete(&self, completions: &[Completion], now: i64) -> StoreResult<()> {
        self.write_queue().complete(completions.to_vec(), now).await
    }

    async fn defer(
        &self,
        token: &str,
        waits: &[(String, i64)],
        reason: &str,
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for chunk in waits.chunks(INSERT_CHUNK) {
            let mut q =
                QueryBuilder::<D>::new("UPDATE deliveries SET status = 'scheduled', reason = ");
            q.push_bind(reason.to_string())
                .push(", due_at = v.column2, claim_token = NULL, updated_at = ")
                .push_bind(now)
                .push(" FROM (");
            q.push_values(chunk, |mut b, (id, due)| {
                b.push_bind(id.clone()).push_bind(*due);
            });
            q.push(") AS v WHERE deliveries.id = v.column1 AND deliveries.claim_token = ")
                .push_bind(token.to_string());
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn release(&self, token: &str, now: i64) -> StoreResult<u64> {
        let r = sqlx::query(RELEASE)
            .bind(token)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(r.rows_affected())
    }

    async fn queue_depth(&self, now: i64) -> StoreResult<Vec<QueueDepth>> {
        Ok(sqlx::query_as::<_, QueueDepth>(
            "SELECT status, COUNT(*) AS n, MIN(CASE WHEN due_at <= $1 THEN due_at END) AS \
             oldest_due FROM deliveries WHERE status IN ('queued', 'scheduled', 'retrying', \
             'sending') GROUP BY status ORDER BY status",
        )
        .bind(now)
        .fetch_all(self.reader())
        .await?)
    }

    async fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
        token: &str,
    ) -> StoreResult<Vec<Claimed>> {
        Ok(sqlx::query_as::<_, Claimed>(D::claim_sql())
            .bind(lease_until)
            .bind(token)
            .bind(now)
            .bind(limit)
            .fetch_all(self.writer())
            .await?)
    }

    async fn next_due(&self) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar::<_, Option<i64>>(D::next_due_sql())
            .fetch_one(self.reader())
            .await?)
    }

    async fn wakeups(&self) -> StoreResult<Option<BoxStream<'static, ()>>> {
        self.listen_wakeups().await
    }

    async fn delivery_counts(&self, since: i64) -> StoreResult<Vec<StatusCount>> {
        Ok(sqlx::query_as::<_, StatusCount>(AssertSqlSafe(format!(
            "SELECT status, channel, COUNT(*) AS n FROM ({}) AS c GROUP BY status, channel \
             ORDER BY status, channel",
            by_created::<D>("status, channel")
        )))
        .bind(since)
        .fetch_all(self.reader())
        .await?)
    }

    async fn deliveries_per_minute(&self, since: i64) -> StoreResult<Vec<MinuteCount>> {
        Ok(sqlx::query_as::<_, MinuteCount>(AssertSqlSafe(format!(
            "SELECT created_at / 60000 AS minute, status, channel, COUNT(*) AS n FROM ({}) AS c \
             GROUP BY created_at / 60000, status, channel ORDER BY minute, status, channel",
            by_created::<D>("created_at, status, channel")
        )))
        .bind(since)
        .fetch_all(self.reader())
        .await?)
    }
}

/// A worker's claimed rows back to waiting. The waiting rows' predicate is
/// repeated so that SQLite reads the `sending` range of their index instead
/// of every delivery (it uses a partial index only where the query names
/// its condition).
pub(super) const RELEASE: &str = const_format::concatcp!(
    "UPDATE deliveries SET status = CASE WHEN attempts > retry_base THEN 'retrying' ELSE \
     'queued' END, due_at = $2, claim_token = NULL, updated_at = $2 WHERE claim_token = $1 \
     AND status = 'sending' AND ",
    WAITING
);

/// `columns` of the deliveries created since `$1`: every status but
/// `sending` from the covering `(created_at, status, channel)` index, and
/// the few `sending` ones from the waiting rows' index.
fn by_created<D: Dialect>(columns: &str) -> String {
    format!(
        "SELECT {columns} FROM deliveries{} WHERE created_at >= $1 AND status <> 'sending' \
         UNION ALL SELECT {columns} FROM deliveries WHERE status = 'sending' AND {WAITING} \
         AND created_at >= $1",
        D::BY_CREATED
    )
}

/// The partial index a filter on `status` is served by, as its predicate
/// repeated (SQLite uses a partial index only where the query names the
/// index's predicate). `sent` has no index of its own: most rows are sent,
/// so the primary key read newest first finds a page of them at once; its
/// `status <> 'sending'` lets PostgreSQL read a recipient's or a channel's
/// rows from their indexes, which leave out the rows in flight.
/// See docs/decisions/0022-status-indexes-leave-out-the-hot-path.md and
/// docs/decisions/0042-postgresql-filter-indexes-leave-out-rows-in-flight.md.
/// For `sending` the status is bound, so the index's own condition is
/// named in the backend's form ([`Dialect::WAITING`]).
fn push_status_scope<D: Dialect>(q: &mut QueryBuilder<D>, status: &str) {
    match status {
        "sent" => q.push(" AND status <> 'sending'"),
        "sending" => q.push(" AND ").push(D::WAITING),
        _ => q.push(" AND status NOT IN ('sending', 'sent')"),
    };
}

/// A page of the delivery log, newest first. Filtered by status, one
/// range of that status's index. Otherwise every status but `sending`
/// (on PostgreSQL the recipient, channel and cap indexes leave out the
/// rows in flight, so the query names that), then the few `sending` rows
/// from the waiting rows' index, merged.
pub(super) fn list_query<D: Dialect>(
    f: &DeliveryFilter,
    before_id: Option<&str>,
    limit: i64,
) -> QueryBuilder<D> {
    const SELECT: &str = const_format::concatcp!("SELECT ", DELIVERY_COLUMNS, " FROM deliveries");
    let mut q = QueryBuilder::<D>::new("");
    let page = |q: &mut QueryBuilder<D>| {
        push_filter(q, f);
        if let Some(v) = before_id {
            q.push(" AND id < ").push_bind(v.to_string());
        }
    };
    match &f.status {
        Some(v) => {
            q.push(SELECT).push(" WHERE status = ").push_bind(v.clone());
            push_status_scope(&mut q, v);
            page(&mut q);
        }
        None => {
            q.push("SELECT * FROM (")
                .push(SELECT)
                .push(" WHERE status <> 'sending'");
            page(&mut q);
            q.push(" ORDER BY id DESC LIMIT ")
                .push_bind(limit)
                .push(") AS settled UNION ALL ")
                .push(SELECT)
                .push(" WHERE status = 'sending' AND ")
                .push(WAITING);
            page(&mut q);
        }
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
    q
}

/// ` AND …` for each of the list filters except `status`.
fn push_filter<D: Dialect>(q: &mut QueryBuilder<D>, f: &DeliveryFilter) {
    if let Some(v) = &f.channel {
        q.push(" AND channel = ").push_bind(v.clone());
    }
    if let Some(v) = &f.recipient {
        q.push(" AND recipient = ").push_bind(v.clone());
    }
    if let Some(v) = &f.template {
        q.push(" AND template_key = ").push_bind(v.clone());
    }
    if let Some(v) = &f.notification {
        q.push(" AND notification_id = ").push_bind(v.clone());
    }
    // Ids are time-ordered, so a time range is also an id range
    // (widened by ID_TIME_SLACK_MS): newest first then reads the
    // primary key (or (status, id)) from the range's end instead
    // of sorting every row of the range.
    if let Some(v) = f.since {
        q.push(" AND created_at >= ").push_bind(v);
        q.push(" AND id >= ")
            .push_bind(crate::util::id_floor(v - crate::util::ID_TIME_SLACK_MS));
    }
    if let Some(v) = f.until {
        q.push(" AND created_at < ").push_bind(v);
        q.push(" AND id < ")
            .push_bind(crate::util::id_floor(v + crate::util::ID_TIME_SLACK_MS));
    }
}

/// The answer to a state change: the changed row, or why nothing changed.
async fn transition<Q: Queue + ?Sized>(
    store: &Q,
    id: &str,
    changed: Option<DeliveryRow>,
) -> StoreResult<Transition> {
    Ok(match changed {
        Some(row) => Transition::Done(Box::new(row)),
        None => match store.get_delivery(id).await? {
            Some(row) => Transition::WrongStatus(row.status),
            None => Transition::NotFound,
        },
    })
}
