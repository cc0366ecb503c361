//! The store's side of flow's state: providers' pauses and breakers
//! ([`SharedState`], the `provider_state` table, decision 0007) and the
//! rate limits' token buckets ([`Buckets`], the `rate_buckets` table,
//! decision 0004), kept in the database so that every process on it
//! shares them. Flow decides; this only reads and writes.

use std::sync::Arc;

use super::Store;
use crate::flow::pace::Buckets;
use crate::flow::provider_state::{SharedState, Stored};

/// Flow's shared state in the database.
pub struct FlowState(pub Arc<dyn Store>);

#[async_trait::async_trait]
impl SharedState for FlowState {
    async fn load(&self) -> anyhow::Result<Vec<Stored>> {
        let rows = self.0.provider_states().await?;
        Ok(rows
            .into_iter()
            .map(|r| Stored {
                key: r.key,
                paused_until: r.paused_until,
                open_until: r.open_until,
            })
            .collect())
    }

    async fn pause(&self, key: &str, until: i64, now: i64) -> anyhow::Result<()> {
        Ok(self.0.provider_pause(key, until, now).await?)
    }

    async fn breaker(&self, key: &str, open_until: Option<i64>, now: i64) -> anyhow::Result<()> {
        Ok(self.0.provider_breaker(key, open_until, now).await?)
    }

    async fn claim_probe(
        &self,
        key: &str,
        seen: i64,
        lease_until: i64,
        now: i64,
    ) -> anyhow::Result<bool> {
        Ok(self
            .0
            .provider_claim_probe(key, seen, lease_until, now)
            .await?)
    }
}

#[async_trait::async_trait]
impl Buckets for FlowState {
    async fn take(
        &self,
        name: &str,
        per_ms: f64,
        burst: f64,
        want: i64,
        now: i64,
    ) -> anyhow::Result<i64> {
        Ok(self.0.take_tokens(name, per_ms, burst, want, now).await?)
    }
}
