//! A channel that sends through configured providers in failover order
//! (email, SMS and any later one). Everything such a channel does besides
//! making its message is the same: pick a provider, feed its breaker, pause
//! it on a Retry-After, report and share its state, and name it as the
//! destination. That is written once here as [`ProviderChannel`]; a channel
//! brings only its [`Kind`]: its name, its provider trait and how a message
//! becomes a provider's send.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::failover::{Failover, ProviderStatus};
use super::{Channel, Message, SendResult};
use crate::config::{ChannelConfig, RateLimit};
use crate::flow::provider_state::ProviderBoard;

/// What every provider is, whatever it sends.
pub trait Provider: Send + Sync {
    /// The provider's configured name (`channels.<channel>.<name>`),
    /// recorded on the attempt.
    fn name(&self) -> &str;
    /// Sends over the network (its sends in flight are bounded).
    fn remote(&self) -> bool {
        true
    }
}

/// What makes one channel of providers differ from another.
#[async_trait]
pub trait Kind: Send + Sync + 'static {
    /// The channel's name.
    const NAME: &'static str;
    /// The channel's providers.
    type Provider: Provider + ?Sized;
    /// Sends `msg` through `provider`; an error is a permanent failure
    /// found before anything reached the provider (its breaker is not fed).
    async fn send(
        &self,
        provider: &Self::Provider,
        msg: &Message<'_>,
    ) -> Result<SendResult, String>;
    /// A public key senders' clients need (push: VAPID's), if any.
    fn public_key(&self) -> Option<String> {
        None
    }
}

pub struct ProviderChannel<K: Kind> {
    kind: K,
    /// In failover order; never empty.
    providers: Failover<Box<K::Provider>>,
    retry_schedule: Vec<Duration>,
    max_retry_after: Duration,
}

impl<K: Kind> ProviderChannel<K> {
    /// The channel over `providers`, in the order of `cfg.providers`.
    pub fn new(kind: K, providers: Vec<Box<K::Provider>>, cfg: &ChannelConfig) -> Self {
        let limits = cfg
            .providers
            .iter()
            .map(|p| (p.name.clone(), p.rate_limit))
            .collect();
        ProviderChannel {
            kind,
            providers: Failover::with_limits(
                providers,
                limits,
                cfg.breaker_threshold,
                cfg.breaker_cool_down,
            ),
            retry_schedule: cfg.retry_schedule.clone(),
            max_retry_after: cfg.max_retry_after,
        }
    }
}

#[async_trait]
impl<K: Kind> Channel for ProviderChannel<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }

    fn retry_schedule(&self) -> &[Duration] {
        &self.retry_schedule
    }

    fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    async fn send(&self, msg: &Message<'_>) -> SendResult {
        let (index, provider) = self.providers.pick(msg.attempt).await;
        match self.kind.send(provider, msg).await {
            Ok(result) => {
                self.providers
                    .record(index, result.outcome, result.retry_after);
                result
            }
            Err(e) => SendResult::failed(provider.name(), e),
        }
    }

    fn providers(&self) -> Vec<ProviderStatus> {
        self.providers.status(K::NAME, |p| p.name().to_string())
    }

    fn share_provider_state(&self, board: &Arc<ProviderBoard>) {
        self.providers
            .share(board, K::NAME, |p| p.name().to_string());
    }

    fn paused_until(&self) -> Option<i64> {
        self.providers.all_paused_until()
    }

    fn vapid_public_key(&self) -> Option<String> {
        self.kind.public_key()
    }

    fn provider_limit(&self, _address: &str, attempt: i64) -> Option<(String, RateLimit)> {
        self.providers
            .peek(attempt)
            .map(|(name, l)| (name.to_string(), l))
    }

    /// The provider's name: its sends in flight are bounded together.
    fn destination(&self, _address: &str, attempt: i64) -> Option<String> {
        let p = self.providers.likely(attempt);
        p.remote().then(|| format!("{}:{}", K::NAME, p.name()))
    }
}
