//! Periodic upkeep: expired Idempotency-Key answers and finished deliveries
//! past the retention period. (Expired leases need no job: the claim query
//! takes `sending` rows whose lease has ended.)

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::MaintenanceConfig;
use crate::store::Store;
use crate::util::now_ms;

/// One round of upkeep; returns (idempotency keys, deliveries) removed.
pub async fn run_once(store: &dyn Store, cfg: &MaintenanceConfig) -> anyhow::Result<(u64, u64)> {
    let now = now_ms();
    let keys = store.purge_idempotency(now).await?;
    let deliveries = match cfg.retention {
        Some(r) => store.purge_finished(now - r.as_millis() as i64).await?,
        None => 0,
    };
    if let Some(r) = cfg.stats_retention {
        store.purge_stats(now - r.as_millis() as i64).await?;
    }
    Ok((keys, deliveries))
}

pub async fn run(store: Arc<dyn Store>, cfg: MaintenanceConfig, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        match run_once(store.as_ref(), &cfg).await {
            Ok((0, 0)) => {}
            Ok((keys, deliveries)) => {
                tracing::info!(keys, deliveries, "maintenance removed expired records")
            }
            Err(e) => tracing::warn!(error = %e, "maintenance failed; will try again"),
        }
    }
}
