//! Status events to registered endpoints: the endpoints, each endpoint's
//! queue of messages (one row per event and endpoint, claimed with a lease
//! like deliveries are) and its attempt log.
//!
//! An event is written by the statement, or in the transaction, that makes
//! the change it reports (an outcome written by the group-commit writer, a
//! receipt's move, an in-app message read), so a crash loses none and a
//! change rolled back sends none. Those writes join `endpoints` and so
//! write rows only for endpoints enabled and subscribed at that moment; and
//! [`Subscribed`] keeps the types any enabled endpoint wants in memory, so
//! with no endpoint the hot path writes and reads nothing more.
//! See docs/decisions/0027-status-events-to-endpoints.md.

use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use sqlx::QueryBuilder;
use tokio::sync::Notify;

use super::dialect::{Dialect, Engine, Rows, RowsAffected, Write, INSERT_CHUNK};
use super::{Completion, StoreResult};
use crate::config::Backend;
use crate::domain::event::{EventType, Mask};
use crate::domain::Status;

/// The event types some enabled endpoint wants, as last read, and the
/// signal that events were written in this process.
#[derive(Default)]
pub struct Subscribed {
    mask: AtomicU32,
    written: Notify,
}

impl Subscribed {
    pub fn mask(&self) -> Mask {
        Mask(self.mask.load(Ordering::Acquire))
    }

    pub fn set(&self, m: Mask) {
        self.mask.store(m.0, Ordering::Release);
    }

    /// Events were committed: wakes this process's event sender.
    pub fn written(&self) {
        self.written.notify_one();
    }

    /// Waits until events are written here.
    pub async fn wait_written(&self) {
        self.written.notified().await
    }
}

/// An endpoint as stored. Not `Debug` nor `Serialize`: it holds secrets.
#[derive(Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub event_types: String,
    pub enabled: i64,
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One event for one endpoint.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MessageRow {
    pub endpoint_id: String,
    pub id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub delivery_id: Option<String>,
    pub notification_id: Option<String>,
    pub recipient: Option<String>,
    pub channel: Option<String>,
    pub status: Option<String>,
    pub detail: Option<String>,
    pub provider: Option<String>,
    pub created_at: i64,
    pub state: String,
    pub due_at: Option<i64>,
    pub attempts: i64,
    pub retry_base: i64,
    pub claim_token: Option<String>,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// One line of an endpoint's attempt log.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EndpointAttemptRow {
    pub id: String,
    pub endpoint_id: String,
    pub message_id: String,
    pub number: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: String,
    pub status_code: Option<i64>,
    pub response: Option<String>,
    pub error: Option<String>,
}

/// What became of a claimed message.
#[derive(Clone, Debug)]
pub struct MessageOutcome {
    pub endpoint_id: String,
    pub message_id: String,
    pub claim_token: String,
    /// `succeeded`, `pending` (retry at `due_at`) or `failed`.
    pub state: &'static str,
    pub due_at: Option<i64>,
    /// `None`: no attempt was made (the endpoint is gone or disabled).
    pub attempt: Option<EndpointAttemptRow>,
    pub error: Option<String>,
}

/// Which messages a list shows.
#[derive(Clone, Debug, Default)]
pub struct MessageFilter {
    pub state: Option<String>,
    pub before_id: Option<String>,
}

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// The columns of `endpoint_messages` a new event fills, in order.
const MESSAGE_COLUMNS: &str = "INSERT INTO endpoint_messages (endpoint_id, id, type, delivery_id, \
     notification_id, recipient, channel, status, detail, provider, created_at, state, due_at, \
     attempts, retry_base, updated_at) ";

/// Endpoints enabled and subscribed to the type `$t` (SQL with `{t}` for
/// the type's expression).
macro_rules! subscribers {
    ($t:literal) => {
        concat!(
            " JOIN endpoints e ON e.enabled = 1 AND (e.event_types = '*' OR e.event_types LIKE \
             '%,' || ",
            $t,
            " || ',%')"
        )
    };
}

/// Delivery events from attempts' outcomes, for the group-commit writer:
/// rows (id, type, delivery, claim token, status, detail, provider, time),
/// written only where the outcome's claim still holds. Must run before the
/// outcomes' UPDATE: it reads the claim as it was (on SQLite the statements
/// run in order; on PostgreSQL they are one statement and see one
/// snapshot).
pub(super) fn completion_events<'a>(
    writes: &mut Vec<Write<'a>>,
    mask: Mask,
    completions: &'a [Completion],
    now: i64,
) -> bool {
    let mut any = false;
    let wanted: Vec<(&Completion, EventType)> = completions
        .iter()
        .filter_map(|c| {
            let t = EventType::of_status(Status::parse(c.status).ok()?)?;
            mask.has(t).then_some((c, t))
        })
        .collect();
    for chunk in wanted.chunks(INSERT_CHUNK) {
        let mut rows = Rows::default();
        for (c, t) in chunk {
            rows.row()
                .text(crate::util::new_id())
                .text(t.as_str())
                .text(&c.delivery_id)
                .text(&c.claim_token)
                .text(c.status)
                .text(c.last_error())
                .text(&c.attempt.provider)
                .int(now);
        }
        writes.push(Write::from(
            const_format::concatcp!(
                MESSAGE_COLUMNS,
                "SELECT e.id, v.column1, v.column2, d.id, d.notification_id, d.recipient, \
                 d.channel, v.column5, v.column6, v.column7, v.column8, 'pending', v.column8, \
                 0, 0, v.column8 FROM "
            ),
            rows,
            concat!(
                " JOIN deliveries d ON d.id = v.column3 AND d.claim_token = v.column4",
                subscribers!("v.column2"),
                " WHERE d.channel <> 'workflow'"
            ),
        ));
        any = true;
    }
    any
}

/// Whether outcomes among `completions` may complete their notifications
/// (a final status) and some endpoint wants to hear of it.
pub(super) fn may_complete(mask: Mask, completions: &[Completion]) -> bool {
    mask.has(EventType::NotificationCompleted)
        && completions
            .iter()
            .any(|c| Status::parse(c.status).is_ok_and(|s| s.is_final()))
}

/// `notification.completed` for the notifications of `delivery_ids` that
/// have no delivery left waiting, in the transaction that wrote the last
/// one's outcome. On PostgreSQL the notifications are locked first (in id
/// order), so of two transactions finishing one notification's last two
/// deliveries the second sees the first's outcome. The event's id is
/// derived from the notification's, so it is written once.
pub(super) async fn notifications_completed<D: Dialect>(
    tx: &mut sqlx::Transaction<'_, D>,
    delivery_ids: &[&str],
    now: i64,
) -> StoreResult<bool> {
    let mut any = false;
    for chunk in delivery_ids.chunks(INSERT_CHUNK) {
        if D::CONCURRENT_WRITERS {
            let mut q = QueryBuilder::<D>::new(
                "SELECT id FROM notifications WHERE id IN (SELECT notification_id FROM \
                 deliveries WHERE id IN (",
            );
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id.to_string());
            }
            q.push(")) ORDER BY id FOR NO KEY UPDATE");
            q.build().execute(&mut **tx).await?;
        }
        let mut q = QueryBuilder::<D>::new(const_format::concatcp!(
            MESSAGE_COLUMNS,
            "SELECT e.id, 'completed_' || n.id, 'notification.completed', NULL, n.id, NULL, \
             NULL, NULL, NULL, NULL, "
        ));
        q.push_bind(now)
            .push(", 'pending', ")
            .push_bind(now)
            .push(", 0, 0, ")
            .push_bind(now)
            .push(concat!(
                " FROM notifications n",
                subscribers!("'notification.completed'"),
                " WHERE n.id IN (SELECT notification_id FROM deliveries WHERE id IN ("
            ));
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(id.to_string());
        }
        q.push(
            ") AND status NOT IN ('queued', 'scheduled', 'sending', 'retrying')) AND NOT EXISTS \
             (SELECT 1 FROM deliveries x WHERE x.notification_id = n.id AND x.status IN \
             ('queued', 'scheduled', 'sending', 'retrying')) ON CONFLICT (endpoint_id, id) DO \
             NOTHING",
        );
        any |= q.build().execute(&mut **tx).await?.rows_affected() > 0;
    }
    Ok(any)
}

/// One event of `kind` per delivery in `deliveries` (id, status, detail),
/// in the transaction that moved them: receipts, in-app reads.
pub(super) async fn delivery_events<D: Dialect>(
    tx: &mut sqlx::Transaction<'_, D>,
    kind: EventType,
    deliveries: &[(String, Option<String>, Option<String>)],
    now: i64,
) -> StoreResult<bool> {
    let mut any = false;
    for chunk in deliveries.chunks(INSERT_CHUNK) {
        let mut rows = Rows::default();
        for (id, status, detail) in chunk {
            rows.row()
                .text(crate::util::new_id())
                .text(kind.as_str())
                .text(id)
                .text(status)
                .text(detail)
                .int(now);
        }
        let mut q = QueryBuilder::<D>::new("");
        Write::from(
            const_format::concatcp!(
                MESSAGE_COLUMNS,
                "SELECT e.id, v.column1, v.column2, d.id, d.notification_id, d.recipient, \
                 d.channel, v.column4, v.column5, d.provider, v.column6, 'pending', v.column6, \
                 0, 0, v.column6 FROM "
            ),
            rows,
            concat!(
                " JOIN deliveries d ON d.id = v.column3",
                subscribers!("v.column2"),
                " WHERE d.channel <> 'workflow'"
            ),
        )
        .push(&mut q);
        any |= q.build().execute(&mut **tx).await?.rows_affected() > 0;
    }
    Ok(any)
}

/// Endpoints, their messages and attempt logs.
#[async_trait]
pub trait Endpoints: Send + Sync + 'static {
    /// The in-memory set of subscribed event types.
    fn subscribed(&self) -> &Subscribed;

    /// Reads which event types enabled endpoints want into
    /// [`Endpoints::subscribed`].
    async fn refresh_subscribed(&self) -> StoreResult<Mask>;

    async fn count_endpoints(&self) -> StoreResult<i64>;

    async fn create_endpoint(&self, e: &EndpointRow) -> StoreResult<()>;

    /// Every endpoint, oldest first.
    async fn list_endpoints(&self) -> StoreResult<Vec<EndpointRow>>;

    async fn get_endpoint(&self, id: &str) -> StoreResult<Option<EndpointRow>>;

    /// Writes an endpoint's URL, description, types and enabled state;
    /// false if there is none.
    async fn update_endpoint(&self, e: &EndpointRow) -> StoreResult<bool>;

    /// Deletes an endpoint with its messages and attempt log.
    async fn delete_endpoint(&self, id: &str) -> StoreResult<bool>;

    /// Makes `secret` the endpoint's, the current one signing beside it
    /// until `previous_until`.
    async fn rotate_endpoint_secret(
        &self,
        id: &str,
        secret: &str,
        previous_until: i64,
        now: i64,
    ) -> StoreResult<Option<EndpointRow>>;

    /// Claims up to `limit` due messages until `lease_until`.
    async fn claim_messages(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
        token: &str,
    ) -> StoreResult<Vec<MessageRow>>;

    /// The earliest due time of a waiting message.
    async fn next_message_due(&self) -> StoreResult<Option<i64>>;

    /// Records a message's outcome, its attempt and the endpoint's failing
    /// run; disables the endpoint (logging it) when it has been failing
    /// since `disable_before` or earlier. True if this disabled it.
    async fn record_message(
        &self,
        o: &MessageOutcome,
        disable_before: i64,
        now: i64,
    ) -> StoreResult<bool>;

    async fn list_messages(
        &self,
        endpoint_id: &str,
        f: &MessageFilter,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>>;

    async fn get_message(&self, endpoint_id: &str, id: &str) -> StoreResult<Option<MessageRow>>;

    /// The endpoint's attempt log, newest first (one message's when given).
    async fn list_endpoint_attempts(
        &self,
        endpoint_id: &str,
        message_id: Option<&str>,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<EndpointAttemptRow>>;

    /// Sends one message again, whatever became of it; false if it is
    /// already waiting or being sent (or there is none).
    async fn replay_message(&self, endpoint_id: &str, id: &str, now: i64) -> StoreResult<bool>;

    /// Sends again every failed message created at `since` or later.
    async fn replay_failed(&self, endpoint_id: &str, since: i64, now: i64) -> StoreResult<u64>;
}

#[async_trait]
impl<S, D> Endpoints for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    fn subscribed(&self) -> &Subscribed {
        Engine::subscribed(self)
    }

    async fn refresh_subscribed(&self) -> StoreResult<Mask> {
        let types: Vec<String> =
            sqlx::query_scalar("SELECT event_types FROM endpoints WHERE enabled = 1")
                .fetch_all(self.reader())
                .await?;
        let mask = Mask(types.iter().fold(0, |m, t| m | Mask::of_stored(t).0));
        Engine::subscribed(self).set(mask);
        Ok(mask)
    }

    async fn count_endpoints(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM endpoints")
            .fetch_one(self.reader())
            .await?)
    }

    async fn create_endpoint(&self, e: &EndpointRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO endpoints (id, url, description, event_types, enabled, \
             disabled_reason, secret, previous_secret, previous_secret_until, failing_since, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, NULL, $6, NULL, NULL, NULL, \
             $7, $7)",
        )
        .bind(&e.id)
        .bind(&e.url)
        .bind(&e.description)
        .bind(&e.event_types)
        .bind(e.enabled)
        .bind(&e.secret)
        .bind(e.created_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn list_endpoints(&self) -> StoreResult<Vec<EndpointRow>> {
        Ok(
            sqlx::query_as::<_, EndpointRow>("SELECT * FROM endpoints ORDER BY created_at, id")
                .fetch_all(self.reader())
                .await?,
        )
    }

    async fn get_endpoint(&self, id: &str) -> StoreResult<Option<EndpointRow>> {
        Ok(
            sqlx::query_as::<_, EndpointRow>("SELECT * FROM endpoints WHERE id = $1")
                .bind(id)
                .fetch_optional(self.writer())
                .await?,
        )
    }

    async fn update_endpoint(&self, e: &EndpointRow) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE endpoints SET url = $2, description = $3, event_types = $4, enabled = $5, \
             disabled_reason = $6, failing_since = $7, updated_at = $8 WHERE id = $1",
        )
        .bind(&e.id)
        .bind(&e.url)
        .bind(&e.description)
        .bind(&e.event_types)
        .bind(e.enabled)
        .bind(&e.disabled_reason)
        .bind(e.failing_since)
        .bind(e.updated_at)
        .execute(self.writer())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn delete_endpoint(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM endpoint_attempts WHERE endpoint_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM endpoint_messages WHERE endpoint_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM endpoints WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    async fn rotate_endpoint_secret(
        &self,
        id: &str,
        secret: &str,
        previous_until: i64,
        now: i64,
    ) -> StoreResult<Option<EndpointRow>> {
        Ok(sqlx::query_as::<_, EndpointRow>(
            "UPDATE endpoints SET previous_secret = secret, previous_secret_until = $3, secret = \
             $2, updated_at = $4 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(secret)
        .bind(previous_until)
        .bind(now)
        .fetch_optional(self.writer())
        .await?)
    }

    async fn claim_messages(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
        token: &str,
    ) -> StoreResult<Vec<MessageRow>> {
        let lock = match S::BACKEND {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE endpoint_messages SET state = 'sending', due_at = $1, claim_token = $2, \
             updated_at = $3 WHERE (endpoint_id, id) IN (SELECT endpoint_id, id FROM \
             endpoint_messages WHERE state IN ('pending', 'sending') AND due_at <= $3 ORDER BY \
             due_at LIMIT $4{lock}) RETURNING *"
        );
        Ok(sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(sql))
            .bind(lease_until)
            .bind(token)
            .bind(now)
            .bind(limit)
            .fetch_all(self.writer())
            .await?)
    }

    async fn next_message_due(&self) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MIN(due_at) FROM endpoint_messages WHERE state IN ('pending', 'sending')",
        )
        .fetch_one(self.reader())
        .await?)
    }

    async fn record_message(
        &self,
        o: &MessageOutcome,
        disable_before: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let bump = i64::from(o.attempt.is_some());
        let moved = sqlx::query(
            "UPDATE endpoint_messages SET state = $4, due_at = $5, attempts = attempts + $6, \
             claim_token = NULL, last_error = $7, updated_at = $8 WHERE endpoint_id = $1 AND \
             id = $2 AND claim_token = $3",
        )
        .bind(&o.endpoint_id)
        .bind(&o.message_id)
        .bind(&o.claim_token)
        .bind(o.state)
        .bind(o.due_at)
        .bind(bump)
        .bind(&o.error)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut disabled = false;
        if let Some(a) = &o.attempt {
            insert_attempt(&mut tx, a).await?;
            if a.outcome == "ok" {
                sqlx::query(
                    "UPDATE endpoints SET failing_since = NULL WHERE id = $1 AND failing_since \
                     IS NOT NULL",
                )
                .bind(&o.endpoint_id)
                .execute(&mut *tx)
                .await?;
            } else if moved.rows_affected() == 1 {
                sqlx::query(
                    "UPDATE endpoints SET failing_since = COALESCE(failing_since, $2) WHERE id \
                     = $1",
                )
                .bind(&o.endpoint_id)
                .bind(a.started_at)
                .execute(&mut *tx)
                .await?;
                let reason = "disabled: every attempt failed for events.disable_after";
                let off: Option<i64> = sqlx::query_scalar(
                    "UPDATE endpoints SET enabled = 0, disabled_reason = $3, updated_at = $4 \
                     WHERE id = $1 AND enabled = 1 AND failing_since <= $2 RETURNING \
                     failing_since",
                )
                .bind(&o.endpoint_id)
                .bind(disable_before)
                .bind(reason)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(since) = off {
                    disabled = true;
                    insert_attempt(
                        &mut tx,
                        &EndpointAttemptRow {
                            id: crate::util::new_id(),
                            endpoint_id: o.endpoint_id.clone(),
                            message_id: o.message_id.clone(),
                            number: 0,
                            started_at: now,
                            duration_ms: 0,
                            outcome: "disabled".into(),
                            status_code: None,
                            response: None,
                            error: Some(format!(
                                "endpoint disabled: every attempt has failed since {}",
                                crate::util::rfc3339(since)
                            )),
                        },
                    )
                    .await?;
                    // What waits for it fails now; a replay sends it once
                    // the endpoint is enabled again.
                    sqlx::query(
                        "UPDATE endpoint_messages SET state = 'failed', due_at = NULL, \
                         last_error = 'endpoint disabled', updated_at = $2 WHERE endpoint_id = \
                         $1 AND state = 'pending'",
                    )
                    .bind(&o.endpoint_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(disabled)
    }

    async fn list_messages(
        &self,
        endpoint_id: &str,
        f: &MessageFilter,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>> {
        let mut q = QueryBuilder::<D>::new("SELECT * FROM endpoint_messages WHERE endpoint_id = ");
        q.push_bind(endpoint_id.to_string());
        if let Some(s) = &f.state {
            q.push(" AND state = ").push_bind(s.clone());
        }
        if let Some(b) = &f.before_id {
            q.push(" AND id < ").push_bind(b.clone());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        Ok(q.build_query_as::<MessageRow>()
            .fetch_all(self.reader())
            .await?)
    }

    async fn get_message(&self, endpoint_id: &str, id: &str) -> StoreResult<Option<MessageRow>> {
        Ok(sqlx::query_as::<_, MessageRow>(
            "SELECT * FROM endpoint_messages WHERE endpoint_id = $1 AND id = $2",
        )
        .bind(endpoint_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?)
    }

    async fn list_endpoint_attempts(
        &self,
        endpoint_id: &str,
        message_id: Option<&str>,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<EndpointAttemptRow>> {
        let mut q = QueryBuilder::<D>::new("SELECT * FROM endpoint_attempts WHERE endpoint_id = ");
        q.push_bind(endpoint_id.to_string());
        if let Some(m) = message_id {
            q.push(" AND message_id = ").push_bind(m.to_string());
        }
        if let Some(b) = before_id {
            q.push(" AND id < ").push_bind(b.to_string());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        Ok(q.build_query_as::<EndpointAttemptRow>()
            .fetch_all(self.reader())
            .await?)
    }

    async fn replay_message(&self, endpoint_id: &str, id: &str, now: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE endpoint_messages SET state = 'pending', due_at = $3, retry_base = \
             attempts, last_error = NULL, claim_token = NULL, updated_at = $3 WHERE endpoint_id \
             = $1 AND id = $2 AND state IN ('succeeded', 'failed')",
        )
        .bind(endpoint_id)
        .bind(id)
        .bind(now)
        .execute(self.writer())
        .await?;
        if r.rows_affected() > 0 {
            Engine::subscribed(self).written();
        }
        Ok(r.rows_affected() == 1)
    }

    async fn replay_failed(&self, endpoint_id: &str, since: i64, now: i64) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE endpoint_messages SET state = 'pending', due_at = $3, retry_base = \
             attempts, last_error = NULL, claim_token = NULL, updated_at = $3 WHERE endpoint_id \
             = $1 AND state = 'failed' AND created_at >= $2",
        )
        .bind(endpoint_id)
        .bind(since)
        .bind(now)
        .execute(self.writer())
        .await?;
        if r.rows_affected() > 0 {
            Engine::subscribed(self).written();
        }
        Ok(r.rows_affected())
    }
}

async fn insert_attempt<D: Dialect>(
    tx: &mut sqlx::Transaction<'_, D>,
    a: &EndpointAttemptRow,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO endpoint_attempts (id, endpoint_id, message_id, number, started_at, \
         duration_ms, outcome, status_code, response, error) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, $8, $9, $10)",
    )
    .bind(&a.id)
    .bind(&a.endpoint_id)
    .bind(&a.message_id)
    .bind(a.number)
    .bind(a.started_at)
    .bind(a.duration_ms)
    .bind(&a.outcome)
    .bind(a.status_code)
    .bind(&a.response)
    .bind(&a.error)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
