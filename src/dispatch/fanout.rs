//! Fan-outs of sends to topics, run by the workers. A fan-out is a row in
//! the queue (channel `fanout`, its id the notification's) whose content
//! is its place: the last subscriber reached. A worker that claims it
//! writes batch after batch (`AppState::fan_out_batch`), each in the
//! transaction that moves the place on and renews the lease, until the
//! last batch marks the row `sent`. Nothing is held in memory between
//! batches but the place, so memory stays flat however many subscribers
//! there are, and a process that dies mid-way loses nothing and repeats
//! nothing: the lease ends, another worker claims the row and goes on from
//! the place the last committed batch wrote.

use tokio_util::sync::CancellationToken;

use crate::service::topics::{Batch, FanoutSpec};
use crate::service::{AppState, Error};
use crate::store::runs::RunMove;
use crate::store::Claimed;
use crate::util::now_ms;

/// Fans a claimed row out until it is done, lost, or `stop` (shutdown)
/// asks for it back between batches.
pub async fn fan_out(state: &AppState, row: &Claimed, stop: &CancellationToken) {
    let n = match state.store.get_notification(&row.notification_id).await {
        Ok(Some(n)) => n,
        Ok(None) => return fail(state, row, &row.content, "its notification is gone").await,
        Err(e) => {
            tracing::warn!(fanout = %row.id, error = %e, "a fan-out could not start; it is tried again when its lease ends");
            return;
        }
    };
    let spec: FanoutSpec = match state.store.get_delivery(&row.id).await {
        Ok(Some(d)) => serde_json::from_str(&d.recipient_data).unwrap_or_default(),
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(fanout = %row.id, error = %e, "a fan-out could not start; it is tried again when its lease ends");
            return;
        }
    };
    let mut from = row.content.clone();
    loop {
        if stop.is_cancelled() {
            // Released with this worker's other claims on the way out.
            return;
        }
        match state.fan_out_batch(row, &n, &spec, &from).await {
            Ok(Batch::Moved(to)) => from = to,
            Ok(Batch::Done) => {
                tracing::info!(notification_id = %n.id, topic = %spec.topic, "fan-out done");
                return;
            }
            Ok(Batch::Lost) => {
                tracing::debug!(fanout = %row.id, "the fan-out was no longer held (cancelled, or its lease ended)");
                return;
            }
            // The send can't go on as accepted (its template's version or
            // a channel it names is gone): the fan-out fails, and says why.
            Err(Error::Invalid(errors)) => {
                let why = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                return fail(state, row, &from, &why).await;
            }
            Err(e) => {
                tracing::warn!(
                    fanout = %row.id, notification_id = %n.id, error = %e,
                    "a fan-out batch could not be written; it is tried again when its lease ends"
                );
                return;
            }
        }
    }
}

/// Marks the fan-out `failed` with `why`, while the claim holds.
async fn fail(state: &AppState, row: &Claimed, place: &str, why: &str) {
    let m = RunMove {
        run_id: row.id.clone(),
        token: row.claim_token.clone(),
        cursor: place.to_string(),
        status: crate::domain::Status::Failed.as_str(),
        due_at: None,
        error: Some(crate::domain::check::truncate(why, 500).to_string()),
        records: Vec::new(),
    };
    tracing::warn!(fanout = %row.id, error = %why, "a fan-out failed");
    if let Err(e) = state.store.move_run(&m, now_ms()).await {
        tracing::warn!(fanout = %row.id, error = %e, "could not mark a fan-out failed");
    }
}
