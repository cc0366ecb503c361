//! Workflow runs. A run is a row in `deliveries` (channel `workflow`) that
//! is claimed and leased like any delivery; what its steps did is in
//! `workflow_steps`, written in the transaction that moves the run on, and
//! only by the process whose claim on the run still holds.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::dialect::{Dialect, Engine, RowsAffected};
use super::stats::Tally;
use super::StoreResult;

/// What one step of a run did (or is waiting for).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct StepRecord {
    pub step: i64,
    pub step_id: String,
    /// `done`, `skipped`, `failed` or `waiting`.
    pub state: String,
    pub detail: Option<String>,
    /// The notification a send step made.
    pub notification_id: Option<String>,
    /// For `first_success`: the place of the channel being tried.
    pub attempt: i64,
    pub updated_at: i64,
}

/// A delivery a run's step made, as the run's conditions read it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChildDelivery {
    pub notification_id: String,
    pub id: String,
    pub channel: String,
    pub status: String,
    /// In-app: whether the recipient has read it.
    pub read: bool,
}

/// Where a run goes next.
pub struct RunMove {
    pub run_id: String,
    /// The claim the run is held with; the move happens only while it holds.
    pub token: String,
    /// The run's new place (its row's content).
    pub cursor: String,
    /// `scheduled` (the next step is due at `due_at`), `sent` (finished)
    /// or `failed`.
    pub status: &'static str,
    pub due_at: Option<i64>,
    pub error: Option<String>,
    pub records: Vec<StepRecord>,
}

#[async_trait]
pub trait Runs: Send + Sync + 'static {
    /// The records of a run's steps, in step order.
    async fn run_steps(&self, run_id: &str) -> StoreResult<Vec<StepRecord>>;

    /// The deliveries of the notifications a run's steps made.
    async fn run_children(&self, notification_ids: &[String]) -> StoreResult<Vec<ChildDelivery>>;

    /// Moves a run on and writes its step records, in one transaction, if
    /// the claim `token` still holds; false (nothing written) if not.
    async fn move_run(&self, m: &RunMove, now: i64) -> StoreResult<bool>;

    /// Joins the run to the open digest of `scope` (workflow, recipient,
    /// digest key) with its event `data`, opening one (that closes at
    /// `closes_at`) if none is open; and moves the run with `m` — `opened`
    /// if it opened the digest, else `merged` with the owner's id — all in
    /// one transaction, while the claim holds. `None`: the claim no longer
    /// holds, nothing written.
    async fn join_digest(
        &self,
        scope: (&str, &str, &str),
        data: &str,
        closes_at: i64,
        opened: &RunMove,
        merged: &(dyn Fn(String) -> RunMove + Send + Sync),
        now: i64,
    ) -> StoreResult<Option<Joined>>;

    /// Closes a run's open digest (later events open a new one) and moves
    /// the run, in one transaction, while the claim holds. Returns how
    /// many events it got; `None`: the claim no longer holds.
    async fn close_digest(&self, m: &RunMove, now: i64) -> StoreResult<Option<i64>>;

    /// The events a run's digest collected, in the order they were
    /// accepted (the first `limit`), and how many there were.
    async fn digest_events(&self, run_id: &str, limit: i64) -> StoreResult<(Vec<String>, i64)>;

    /// Cancels the runs of `workflow` started with `cancel_key` that have
    /// steps still to run (only those of `recipients`, when given), and
    /// what their steps sent that has not started sending. Returns the
    /// runs cancelled.
    async fn cancel_runs(
        &self,
        workflow: &str,
        cancel_key: &str,
        recipients: Option<&[String]>,
        now: i64,
    ) -> StoreResult<u64>;
}

/// How a run joined a digest.
#[derive(Clone, Debug, PartialEq)]
pub enum Joined {
    /// It opened the digest and collects the events.
    Opened,
    /// Its event went into the digest of this run.
    Merged(String),
}

const WAITING: &str = "('queued', 'scheduled', 'retrying')";

#[async_trait]
impl<S, D> Runs for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn run_steps(&self, run_id: &str) -> StoreResult<Vec<StepRecord>> {
        Ok(sqlx::query_as::<_, StepRecord>(
            "SELECT step, step_id, state, detail, notification_id, attempt, updated_at \
             FROM workflow_steps WHERE run_id = $1 ORDER BY step",
        )
        .bind(run_id)
        .fetch_all(self.reader())
        .await?)
    }

    async fn run_children(&self, ids: &[String]) -> StoreResult<Vec<ChildDelivery>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<D>::new(
            "SELECT d.notification_id, d.id, d.channel, d.status, \
             (m.read_at IS NOT NULL) AS read FROM deliveries d LEFT JOIN inbox_messages m \
             ON m.delivery_id = d.id WHERE d.notification_id IN (",
        );
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.clone());
        }
        q.push(") ORDER BY d.id");
        Ok(q.build_query_as::<ChildDelivery>()
            .fetch_all(self.writer())
            .await?)
    }

    async fn move_run(&self, m: &RunMove, now: i64) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if !moved_in::<D>(&mut tx, m, now).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn join_digest(
        &self,
        (workflow, recipient, key): (&str, &str, &str),
        data: &str,
        closes_at: i64,
        opened: &RunMove,
        merged: &(dyn Fn(String) -> RunMove + Send + Sync),
        now: i64,
    ) -> StoreResult<Option<Joined>> {
        let mut tx = self.begin_write().await?;
        // The digest of a run that can no longer collect (cancelled,
        // failed) is closed first.
        sqlx::query(
            "DELETE FROM workflow_digests WHERE workflow_key = $1 AND recipient = $2 AND \
             digest_key = $3 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = \
             workflow_digests.run_id AND d.status IN ('queued', 'scheduled', 'retrying', \
             'sending'))",
        )
        .bind(workflow)
        .bind(recipient)
        .bind(key)
        .execute(&mut *tx)
        .await?;
        let opened_now = sqlx::query(
            "INSERT INTO workflow_digests (workflow_key, recipient, digest_key, run_id, \
             closes_at, count, created_at) VALUES ($1, $2, $3, $4, $5, 1, $6) \
             ON CONFLICT (workflow_key, recipient, digest_key) DO NOTHING",
        )
        .bind(workflow)
        .bind(recipient)
        .bind(key)
        .bind(&opened.run_id)
        .bind(closes_at)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let (owner, seq) = if opened_now {
            (opened.run_id.clone(), 1)
        } else {
            // The row lock this takes is held to the commit: the owner
            // closing the digest waits for this event to be in.
            let (owner, seq): (String, i64) = sqlx::query_as(
                "UPDATE workflow_digests SET count = count + 1 WHERE workflow_key = $1 AND \
                 recipient = $2 AND digest_key = $3 RETURNING run_id, count",
            )
            .bind(workflow)
            .bind(recipient)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            (owner, seq)
        };
        sqlx::query(
            "INSERT INTO workflow_digest_events (run_id, source_run, seq, data, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&owner)
        .bind(&opened.run_id)
        .bind(seq)
        .bind(data)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let (m, joined) = if opened_now {
            (None, Joined::Opened)
        } else {
            (Some(merged(owner.clone())), Joined::Merged(owner))
        };
        if !moved_in::<D>(&mut tx, m.as_ref().unwrap_or(opened), now).await? {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(joined))
    }

    async fn close_digest(&self, m: &RunMove, now: i64) -> StoreResult<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let count: Option<i64> =
            sqlx::query_scalar("DELETE FROM workflow_digests WHERE run_id = $1 RETURNING count")
                .bind(&m.run_id)
                .fetch_optional(&mut *tx)
                .await?;
        if !moved_in::<D>(&mut tx, m, now).await? {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(count.unwrap_or(0)))
    }

    async fn digest_events(&self, run_id: &str, limit: i64) -> StoreResult<(Vec<String>, i64)> {
        let events: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM workflow_digest_events WHERE run_id = $1 ORDER BY source_run \
             LIMIT $2",
        )
        .bind(run_id)
        .bind(limit)
        .fetch_all(self.writer())
        .await?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM workflow_digest_events WHERE run_id = $1")
                .bind(run_id)
                .fetch_one(self.writer())
                .await?;
        Ok((events, count))
    }

    async fn cancel_runs(
        &self,
        workflow: &str,
        cancel_key: &str,
        recipients: Option<&[String]>,
        now: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let mut q = QueryBuilder::<D>::new(
            "UPDATE deliveries SET status = 'cancelled', reason = 'cancelled by cancel_key', \
             due_at = NULL, updated_at = ",
        );
        q.push_bind(now);
        q.push(format!(
            " WHERE channel = 'workflow' AND status IN {WAITING} AND notification_id IN \
             (SELECT id FROM notifications WHERE workflow_key = "
        ));
        q.push_bind(workflow);
        q.push(" AND cancel_key = ");
        q.push_bind(cancel_key);
        q.push(")");
        if let Some(rs) = recipients {
            q.push(" AND recipient IN (");
            let mut list = q.separated(", ");
            for r in rs {
                list.push_bind(r.clone());
            }
            q.push(")");
        }
        q.push(" RETURNING id");
        let runs: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        if !runs.is_empty() {
            let mut q = QueryBuilder::<D>::new(
                "UPDATE deliveries SET status = 'cancelled', reason = 'cancelled by cancel_key', \
                 due_at = NULL, updated_at = ",
            );
            q.push_bind(now);
            q.push(format!(
                " WHERE status IN {WAITING} AND notification_id IN (SELECT id FROM \
                 notifications WHERE parent_run IN ("
            ));
            let mut list = q.separated(", ");
            for r in &runs {
                list.push_bind(r.clone());
            }
            q.push(")) RETURNING template_key, channel");
            let cancelled: Vec<(Option<String>, String)> =
                q.build_query_as().fetch_all(&mut *tx).await?;
            let mut tally = Tally::default();
            tally.cancelled(&cancelled, now);
            tally.apply(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(runs.len() as u64)
    }
}

/// Moves a run and writes its step records inside `tx`, if the claim
/// holds; false (and nothing written) if not.
async fn moved_in<D: Dialect>(
    tx: &mut sqlx::Transaction<'_, D>,
    m: &RunMove,
    now: i64,
) -> StoreResult<bool> {
    let moved = sqlx::query(
        "UPDATE deliveries SET content = $3, status = $4, due_at = $5, last_error = $6, \
             claim_token = NULL, updated_at = $7 WHERE id = $1 AND claim_token = $2 \
             AND status = 'sending'",
    )
    .bind(&m.run_id)
    .bind(&m.token)
    .bind(&m.cursor)
    .bind(m.status)
    .bind(m.due_at)
    .bind(m.error.clone())
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(false);
    }
    for r in &m.records {
        sqlx::query(
            "INSERT INTO workflow_steps (run_id, step, step_id, state, detail, \
                 notification_id, attempt, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (run_id, step) DO UPDATE SET state = excluded.state, \
                 detail = excluded.detail, notification_id = excluded.notification_id, \
                 attempt = excluded.attempt, updated_at = excluded.updated_at",
        )
        .bind(&m.run_id)
        .bind(r.step)
        .bind(&r.step_id)
        .bind(&r.state)
        .bind(r.detail.clone())
        .bind(r.notification_id.clone())
        .bind(r.attempt)
        .bind(r.updated_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(true)
}
