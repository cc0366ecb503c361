//! Channels and the providers that send on them. A channel adapter only
//! sends and classifies the answer; retries, scheduling and recording are
//! the dispatcher's (src/dispatch).
//!
//! A channel with providers (email/, sms/, chat/, push/) is a folder: its mod.rs reads the
//! provider list, one file a provider. What providers share is one file
//! each here: failover.rs (order and breakers), providers.rs (the channel
//! around them), http.rs (sending over HTTP) and outbox.rs (the `file`
//! providers). Channels with no providers (webhook.rs, in_app.rs) are one
//! file.

pub mod chat;
pub mod email;
pub mod failover;
pub mod http;
pub mod in_app;
pub mod outbox;
pub mod providers;
pub mod push;
pub mod sms;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use crate::domain::Outcome;

/// What one attempt learnt from the provider.
#[derive(Clone, Debug)]
pub struct SendResult {
    pub outcome: Outcome,
    pub provider: String,
    pub status_code: Option<u16>,
    /// The provider's answer, cut to [`MAX_RESPONSE`].
    pub response: Option<String>,
    pub error: Option<String>,
    /// The provider asked us to wait this long (Retry-After).
    pub retry_after: Option<Duration>,
}

impl SendResult {
    /// An outcome from `provider`, with nothing else known yet.
    pub fn new(provider: impl Into<String>, outcome: Outcome) -> SendResult {
        SendResult {
            outcome,
            provider: provider.into(),
            status_code: None,
            response: None,
            error: None,
            retry_after: None,
        }
    }

    /// A permanent failure before anything was sent.
    pub fn failed(provider: impl Into<String>, error: impl Into<String>) -> SendResult {
        SendResult {
            error: Some(error.into()),
            ..SendResult::new(provider, Outcome::Permanent)
        }
    }
}

/// Attempt records keep at most this much of a provider's answer.
pub const MAX_RESPONSE: usize = 4096;

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// An error and its causes on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// What a channel is given to send.
pub struct Message<'a> {
    pub delivery_id: &'a str,
    pub notification_id: &'a str,
    /// The recipient's id, or its address for inline recipients.
    pub recipient: &'a str,
    /// transactional, marketing or auth.
    pub category: &'a str,
    /// This attempt's number within the current retry cycle (1 first).
    pub attempt: i64,
    pub address: &'a str,
    /// Rendered parts, as stored on the delivery.
    pub content: &'a serde_json::Map<String, serde_json::Value>,
    /// Email: the recipient's signed one-click unsubscribe URL (marketing
    /// mail to a stored recipient, with `server.public_url` set).
    pub list_unsubscribe: Option<&'a str>,
}

#[async_trait]
pub trait Channel: Send + Sync {
    fn name(&self) -> &'static str;
    /// Waits between retries after transient failures.
    fn retry_schedule(&self) -> &[Duration];
    /// Longest Retry-After honoured.
    fn max_retry_after(&self) -> Duration;
    async fn send(&self, msg: &Message<'_>) -> SendResult;
    /// The channel's providers and their circuit breakers.
    fn providers(&self) -> Vec<failover::ProviderStatus> {
        Vec::new()
    }
    /// Shares the providers' pauses and breakers with the other processes
    /// on the database.
    fn share_provider_state(&self, _board: &Arc<crate::flow::provider_state::ProviderBoard>) {}
    /// When all of the channel's providers asked to be left alone (429 /
    /// Retry-After): the Unix time in ms when the first of them may be
    /// called again. Deliveries wait until then.
    fn paused_until(&self) -> Option<i64> {
        None
    }
    /// The provider depends on the address (chat: the address names it),
    /// so whether a delivery must wait for a pause is asked per address
    /// ([`Channel::paused_until_for`]) rather than once per channel.
    fn routes_by_address(&self) -> bool {
        false
    }
    /// When the provider a send to `address` goes to asked to be left
    /// alone: the Unix time in ms it may be called again.
    fn paused_until_for(&self, _address: &str) -> Option<i64> {
        self.paused_until()
    }
    /// The provider attempt `attempt` of a send to `address` will likely
    /// use, if it has its own rate limit: (its bucket's name, limit). The
    /// name is the provider's, followed by `@` and a tag of the target
    /// where the limit holds per target (a Slack channel, a robot).
    fn provider_limit(
        &self,
        _address: &str,
        _attempt: i64,
    ) -> Option<(String, crate::config::RateLimit)> {
        None
    }
    /// Where attempt `attempt` of a send to `address` will likely go, for
    /// the bound on sends in flight to one place: a webhook receiver's host
    /// and port, or a provider's name. `None`: not bounded (files written
    /// locally, the in-app inbox).
    fn destination(&self, _address: &str, _attempt: i64) -> Option<String> {
        None
    }
    /// Push: the VAPID public key browsers subscribe with, when a
    /// `webpush` provider is configured.
    fn vapid_public_key(&self) -> Option<String> {
        None
    }
}

/// The channels this process can send on, by name.
#[derive(Clone, Default)]
pub struct Channels(HashMap<&'static str, Arc<dyn Channel>>);

impl Channels {
    pub fn add(&mut self, c: Arc<dyn Channel>) {
        self.0.insert(c.name(), c);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Channel>> {
        self.0.get(name)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Channel>> {
        self.0.values()
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.0.keys().copied().collect();
        v.sort();
        v
    }

    /// The channels configured here, as domain channels.
    pub fn enabled(&self) -> Vec<crate::domain::Channel> {
        self.names()
            .iter()
            .filter_map(|c| crate::domain::Channel::parse(c).ok())
            .collect()
    }
}
