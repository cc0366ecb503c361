//! Fan-outs of sends to topics, run by the workers. A fan-out is a row in
//! the queue (channel `fanout`, its id the notification's) whose content
//! is its place: the last subscriber reached. A worker that claims it
//! writes batch after batch (`AppState::write_fanout_batch`), each in the
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
use crate::store::{Claimed, NotificationRow};
use crate::util::now_ms;

/// Fans a claimed row out until it is done, lost, or `stop` (shutdown)
/// asks for it back between batches.
pub async fn fan_out(state: &AppState, row: &Claimed, stop: &CancellationToken) {
    let mut n = match state.store.get_notification(&row.notification_id).await {
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
    // Its deliveries' attempts continue the fan-out's span (none unless
    // tracing is exported).
    n.traceparent = crate::telemetry::current();
    // Batch after batch; each is read and built while the one before it
    // commits (its fence starts where that one ends, so it writes nothing
    // unless that one committed).
    let mut from = row.content.clone();
    let mut batch = match state.prepare_fanout_batch(row, &n, &spec, &from).await {
        Ok(b) => b,
        Err(e) => return stopped(state, row, &n, &from, e).await,
    };
    loop {
        if stop.is_cancelled() {
            // Released with this worker's other claims on the way out.
            return;
        }
        let to = batch.to.clone();
        let (written, next) = if batch.last {
            (state.write_fanout_batch(batch).await, None)
        } else {
            let (w, p) = tokio::join!(
                state.write_fanout_batch(batch),
                state.prepare_fanout_batch(row, &n, &spec, &to)
            );
            (w, Some(p))
        };
        match written {
            Ok(Batch::Moved(to)) => from = to,
            Ok(Batch::Done) => {
                tracing::info!(notification_id = %n.id, topic = %spec.topic, "fan-out done");
                return;
            }
            Ok(Batch::Lost) => {
                tracing::debug!(fanout = %row.id, "the fan-out was no longer held (cancelled, or its lease ended)");
                return;
            }
            Err(e) => return stopped(state, row, &n, &from, e).await,
        }
        batch = match next {
            Some(Ok(b)) => b,
            Some(Err(e)) => return stopped(state, row, &n, &from, e).await,
            None => return,
        };
    }
}

/// A batch that could not be read, built or written at `place`.
async fn stopped(state: &AppState, row: &Claimed, n: &NotificationRow, place: &str, e: Error) {
    match e {
        // The send can't go on as accepted (its template's version or a
        // channel it names is gone): the fan-out fails, and says why.
        Error::Invalid(errors) => {
            let why = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            fail(state, row, place, &why).await
        }
        e => tracing::warn!(
            fanout = %row.id, notification_id = %n.id, error = %e,
            "a fan-out batch could not be written; it is tried again when its lease ends"
        ),
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
