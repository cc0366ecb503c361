//! The store's side of flow's [`SharedState`]: providers' pauses and
//! breakers kept in the `provider_state` table (decision 0007), so every
//! process on one database sees them.

use std::sync::Arc;

use super::Store;
use crate::flow::provider_state::{SharedState, Stored};

/// Providers' shared state in the database.
pub struct ProviderStates(pub Arc<dyn Store>);

#[async_trait::async_trait]
impl SharedState for ProviderStates {
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
