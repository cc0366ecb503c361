//! The attempt log: one row per try at sending a delivery, and per
//! operator re-queue (an audit entry). Workers write attempts with the
//! delivery's next state (see [`Queue::complete`](super::Queue::complete));
//! this reads them back and writes the audit entries.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Transaction};

use super::dialect::{Dialect, Engine, INSERT_CHUNK};
use super::{AttemptRow, StoreResult};

/// The attempt log.
#[async_trait]
pub trait Attempts: Send + Sync + 'static {
    async fn attempts_of(&self, delivery_id: &str) -> StoreResult<Vec<AttemptRow>>;
}

#[async_trait]
impl<S, D> Attempts for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn attempts_of(&self, delivery_id: &str) -> StoreResult<Vec<AttemptRow>> {
        Ok(sqlx::query_as::<_, AttemptRow>(
            "SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY number",
        )
        .bind(delivery_id)
        .fetch_all(self.reader())
        .await?)
    }
}

/// Writes an operator's re-queue of each (delivery id, attempt
/// number it took) in that delivery's attempt log, with `note`
/// saying who and how.
pub(super) async fn audit_requeued<D: Dialect>(
    tx: &mut Transaction<'_, D>,
    requeued: &[(String, i64)],
    note: &str,
    now: i64,
) -> StoreResult<()> {
    for chunk in requeued.chunks(INSERT_CHUNK) {
        let mut q = QueryBuilder::<D>::new(
            "INSERT INTO delivery_attempts (delivery_id, number, provider, started_at, \
             duration_ms, outcome, error) ",
        );
        q.push_values(chunk, |mut b, (id, number)| {
            b.push_bind(id.clone())
                .push_bind(*number)
                .push_bind("operator")
                .push_bind(now)
                .push_bind(0i64)
                .push_bind("requeued")
                .push_bind(note.to_string());
        });
        q.push(" ON CONFLICT (delivery_id, number) DO NOTHING");
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}
