//! Recurring schedules and when each fires next. A firing is claimed by
//! moving `next_fire_at` on from the time it was due: of the processes that
//! saw it due, the one whose update finds that time fires; the send itself
//! is keyed by (schedule, timezone, time) as well, so a process that dies
//! between the two makes no second notification.

use async_trait::async_trait;

use super::dialect::{Dialect, Engine, RowsAffected};
use super::StoreResult;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: String,
    pub workflow_key: String,
    pub recipients: String,
    pub data: String,
    pub schedule: String,
    pub timezone: String,
    pub paused_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TargetRow {
    pub schedule_id: String,
    pub timezone: String,
    pub recipients: String,
    pub next_fire_at: i64,
    pub last_fired_at: Option<i64>,
    pub last_notification: Option<String>,
    pub last_error: Option<String>,
}

/// What a firing did.
pub struct Fired<'a> {
    pub schedule_id: &'a str,
    pub timezone: &'a str,
    /// The time it was due (what the firing is keyed by).
    pub due: i64,
    pub next: i64,
    pub notification: Option<String>,
    pub error: Option<String>,
}

#[async_trait]
pub trait Schedules: Send + Sync + 'static {
    /// Creates or replaces a schedule and its targets; true if created.
    async fn put_schedule(&self, s: &ScheduleRow, targets: &[TargetRow]) -> StoreResult<bool>;

    async fn get_schedule(&self, id: &str) -> StoreResult<Option<(ScheduleRow, Vec<TargetRow>)>>;

    /// Every schedule with its targets, by id.
    async fn list_schedules(&self) -> StoreResult<Vec<(ScheduleRow, Vec<TargetRow>)>>;

    async fn delete_schedule(&self, id: &str) -> StoreResult<bool>;

    /// Pauses (`Some(now)`) or resumes (`None`, each target due next at
    /// `next` of its timezone) a schedule.
    async fn pause_schedule(
        &self,
        id: &str,
        paused_at: Option<i64>,
        next: &[(String, i64)],
        now: i64,
    ) -> StoreResult<bool>;

    /// Targets of running schedules due at `now`, earliest first.
    async fn due_targets(&self, now: i64, limit: i64) -> StoreResult<Vec<TargetRow>>;

    /// Moves a target on from the time it was due; false if another
    /// process did first.
    async fn fired(&self, f: &Fired<'_>) -> StoreResult<bool>;
}

const TARGET_COLUMNS: &str = "schedule_id, timezone, recipients, next_fire_at, last_fired_at, \
                              last_notification, last_error";

#[async_trait]
impl<S, D> Schedules for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn put_schedule(&self, s: &ScheduleRow, targets: &[TargetRow]) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let existed: Option<i64> =
            sqlx::query_scalar("SELECT created_at FROM schedules WHERE id = $1")
                .bind(&s.id)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO schedules (id, workflow_key, recipients, data, schedule, timezone, \
             paused_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET workflow_key = excluded.workflow_key, \
             recipients = excluded.recipients, data = excluded.data, \
             schedule = excluded.schedule, timezone = excluded.timezone, \
             paused_at = excluded.paused_at, updated_at = excluded.updated_at",
        )
        .bind(&s.id)
        .bind(&s.workflow_key)
        .bind(&s.recipients)
        .bind(&s.data)
        .bind(&s.schedule)
        .bind(&s.timezone)
        .bind(s.paused_at)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM schedule_targets WHERE schedule_id = $1")
            .bind(&s.id)
            .execute(&mut *tx)
            .await?;
        for t in targets {
            sqlx::query(
                "INSERT INTO schedule_targets (schedule_id, timezone, recipients, next_fire_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&s.id)
            .bind(&t.timezone)
            .bind(&t.recipients)
            .bind(t.next_fire_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(existed.is_none())
    }

    async fn get_schedule(&self, id: &str) -> StoreResult<Option<(ScheduleRow, Vec<TargetRow>)>> {
        let Some(s) = sqlx::query_as::<_, ScheduleRow>("SELECT * FROM schedules WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reader())
            .await?
        else {
            return Ok(None);
        };
        let targets = sqlx::query_as::<_, TargetRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM schedule_targets WHERE schedule_id = $1 ORDER BY timezone"
        )))
        .bind(id)
        .fetch_all(self.reader())
        .await?;
        Ok(Some((s, targets)))
    }

    async fn list_schedules(&self) -> StoreResult<Vec<(ScheduleRow, Vec<TargetRow>)>> {
        let rows = sqlx::query_as::<_, ScheduleRow>("SELECT * FROM schedules ORDER BY id")
            .fetch_all(self.reader())
            .await?;
        let targets = sqlx::query_as::<_, TargetRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM schedule_targets ORDER BY schedule_id, timezone"
        )))
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .into_iter()
            .map(|s| {
                let mine = targets
                    .iter()
                    .filter(|t| t.schedule_id == s.id)
                    .cloned()
                    .collect();
                (s, mine)
            })
            .collect())
    }

    async fn delete_schedule(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM schedule_targets WHERE schedule_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn pause_schedule(
        &self,
        id: &str,
        paused_at: Option<i64>,
        next: &[(String, i64)],
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE schedules SET paused_at = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(paused_at)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for (tz, at) in next {
            sqlx::query(
                "UPDATE schedule_targets SET next_fire_at = $3 WHERE schedule_id = $1 AND \
                 timezone = $2",
            )
            .bind(id)
            .bind(tz)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn due_targets(&self, now: i64, limit: i64) -> StoreResult<Vec<TargetRow>> {
        Ok(sqlx::query_as::<_, TargetRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM schedule_targets t WHERE next_fire_at <= $1 AND \
             EXISTS (SELECT 1 FROM schedules s WHERE s.id = t.schedule_id AND s.paused_at IS NULL) \
             ORDER BY next_fire_at LIMIT $2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(self.reader())
        .await?)
    }

    async fn fired(&self, f: &Fired<'_>) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE schedule_targets SET next_fire_at = $4, last_fired_at = $3, \
             last_notification = COALESCE($5, last_notification), last_error = $6 \
             WHERE schedule_id = $1 AND timezone = $2 AND next_fire_at = $3",
        )
        .bind(f.schedule_id)
        .bind(f.timezone)
        .bind(f.due)
        .bind(f.next)
        .bind(f.notification.clone())
        .bind(f.error.clone())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
