//! The ticker that fires recurring schedules: apalis-cron's scheduler
//! yields a tick every `worker.schedule_tick` (and there is one at
//! start-up, so what came due while no process ran fires at once); each
//! tick triggers the schedules due ([`AppState::fire_due_schedules`]),
//! which only writes rows in missive's own tables. Nothing about a
//! schedule is held here.

use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::service::AppState;

type CronTicks = Pin<Box<dyn Stream<Item = Result<apalis_cron::Tick, apalis_cron::Error>> + Send>>;

/// A tick every `every` (whole seconds that divide a minute), on the clock.
///
/// apalis-cron's scheduler works out its next tick as it yields one; a
/// consumer that takes longer than a tick (a database that does not
/// answer) leaves that tick in the past, and from then on the scheduler
/// answers every poll at once with an error. The scheduler is then made
/// again, so its next tick is the next one on the clock from now: a slow
/// tick skips the ticks it overran, and nothing spins.
pub fn ticks(every: Duration) -> anyhow::Result<impl Stream<Item = ()> + Send> {
    let expr = format!("*/{} * * * * *", every.as_secs().clamp(1, 60));
    let schedule = cron::Schedule::from_str(&expr)?;
    let make = move || -> CronTicks {
        Box::pin(apalis_cron::CronScheduler::new(schedule.clone()).into_stream())
    };
    Ok(futures::stream::unfold(make(), move |mut s| {
        let make = make.clone();
        async move {
            loop {
                match s.next().await {
                    Some(Ok(_)) => return Some(((), s)),
                    Some(Err(_)) => s = make(),
                    None => return None,
                }
            }
        }
    }))
}

/// Fires due schedules at start-up and on every tick until `shutdown`.
pub async fn run(state: AppState, tick: Duration, shutdown: CancellationToken) {
    let ticks = match ticks(tick) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "the schedule ticker could not start; recurring schedules will not fire");
            return;
        }
    };
    let mut ticks = std::pin::pin!(ticks);
    loop {
        match state.fire_due_schedules().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(fired = n, "recurring schedules fired"),
            Err(e) => {
                tracing::warn!(error = %e, "firing recurring schedules failed; trying again next tick")
            }
        }
        tokio::select! {
            t = ticks.next() => if t.is_none() { return },
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_consumer_slower_than_a_tick_gets_the_next_tick_on_the_clock() {
        let mut t = std::pin::pin!(ticks(Duration::from_secs(1)).unwrap());
        tokio::time::timeout(Duration::from_secs(3), t.next())
            .await
            .expect("a first tick within a second or two")
            .expect("ticks go on");
        // Slower than a tick: the scheduler's next tick is now in the past.
        tokio::time::sleep(Duration::from_millis(2_300)).await;
        let started = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(3), t.next())
            .await
            .expect("the next tick comes")
            .expect("ticks go on");
        // The first tick came on a second; 2.3 s later the next one on the
        // clock is about 0.7 s away: it waited for it, and did not take
        // the scheduler's error for a tick at once.
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        // And the one after is a second on.
        let started = std::time::Instant::now();
        t.next().await.unwrap();
        let gap = started.elapsed();
        assert!(
            gap >= Duration::from_millis(900) && gap <= Duration::from_millis(1_500),
            "{gap:?}"
        );
    }
}
