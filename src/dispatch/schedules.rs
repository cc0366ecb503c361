//! The ticker that fires recurring schedules: apalis-cron's scheduler
//! yields a tick every `worker.schedule_tick` (and one at start-up, so
//! what came due while no process ran fires at once); each tick triggers
//! the schedules due ([`AppState::fire_due_schedules`]), which only writes
//! rows in missive's own tables. Nothing about a schedule is held here.

use std::str::FromStr;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::service::AppState;

/// Fires due schedules on every tick until `shutdown`.
pub async fn run(state: AppState, tick: Duration, shutdown: CancellationToken) {
    let every = format!("*/{} * * * * *", tick.as_secs().clamp(1, 60));
    let schedule = match cron::Schedule::from_str(&every) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "the schedule ticker could not start; recurring schedules will not fire");
            return;
        }
    };
    let mut ticks = Box::pin(apalis_cron::CronScheduler::new(schedule).into_stream());
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                t = ticks.next() => match t {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "the schedule ticker skipped a tick");
                        continue;
                    }
                    None => return,
                },
                _ = shutdown.cancelled() => return,
            }
        }
        first = false;
        match state.fire_due_schedules().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(fired = n, "recurring schedules fired"),
            Err(e) => {
                tracing::warn!(error = %e, "firing recurring schedules failed; trying again next tick")
            }
        }
    }
}
