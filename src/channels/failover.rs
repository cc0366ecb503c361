//! Providers of one channel in failover order, each behind a circuit
//! breaker. Attempt n of a delivery starts at provider n-1 (so a transient
//! failure moves the next attempt to the next provider) and skips providers
//! whose breaker is open.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Outcome;
use crate::config::RateLimit;
use crate::flow::breaker::{Breaker, State};

pub struct Failover<P> {
    providers: Vec<(P, Mutex<Health>)>,
    /// Each provider's name and own rate limit, in order.
    limits: Vec<(String, Option<RateLimit>)>,
}

/// A provider's breaker, and a pause it asked for (429 / Retry-After).
struct Health {
    breaker: Breaker,
    paused_until: Option<Instant>,
}

impl Health {
    fn allow(&mut self, now: Instant) -> bool {
        if self.paused_until.is_some_and(|t| now < t) {
            return false;
        }
        self.breaker.allow(now)
    }
}

/// A provider's name and breaker state, for operators.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProviderStatus {
    pub channel: String,
    pub provider: String,
    /// The circuit breaker: `closed`, `open` or `half_open`.
    pub state: &'static str,
    pub consecutive_failures: u32,
}

impl<P> Failover<P> {
    pub fn new(providers: Vec<P>, threshold: u32, cool_down: Duration) -> Self {
        Self::with_limits(providers, Vec::new(), threshold, cool_down)
    }

    /// `limits` gives each provider's name and rate limit, in order.
    pub fn with_limits(
        providers: Vec<P>,
        limits: Vec<(String, Option<RateLimit>)>,
        threshold: u32,
        cool_down: Duration,
    ) -> Self {
        Failover {
            limits,
            providers: providers
                .into_iter()
                .map(|p| {
                    (
                        p,
                        Mutex::new(Health {
                            breaker: Breaker::new(threshold, cool_down),
                            paused_until: None,
                        }),
                    )
                })
                .collect(),
        }
    }

    /// The provider for attempt `attempt` (1-based within the current retry
    /// cycle): the first, from that one on in order, whose breaker lets a
    /// send through. If every breaker is open, the scheduled one is used
    /// anyway: a delivery is never dropped for it.
    pub fn pick(&self, attempt: i64) -> (usize, &P) {
        let n = self.providers.len();
        let start = ((attempt.max(1) - 1) as usize) % n;
        let now = Instant::now();
        for k in 0..n {
            let i = (start + k) % n;
            if self.providers[i].1.lock().unwrap().allow(now) {
                return (i, &self.providers[i].0);
            }
        }
        (start, &self.providers[start].0)
    }

    /// The provider attempt `attempt` would most likely use (as `pick`, but
    /// without taking a half-open probe), with its rate limit: the
    /// dispatcher takes that provider's tokens before sending.
    pub fn peek(&self, attempt: i64) -> Option<(&str, RateLimit)> {
        // Nothing to look up (or lock) on every send when no provider has a limit.
        if self.limits.iter().all(|(_, l)| l.is_none()) {
            return None;
        }
        let n = self.providers.len();
        let start = ((attempt.max(1) - 1) as usize) % n;
        let now = Instant::now();
        let i = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| {
                let h = self.providers[i].1.lock().unwrap();
                !h.paused_until.is_some_and(|t| now < t) && h.breaker.state(now) != State::Open
            })
            .unwrap_or(start);
        let (name, limit) = self.limits.get(i)?;
        limit.map(|l| (name.as_str(), l))
    }

    /// Feeds an attempt's outcome to the provider's breaker. Only transient
    /// failures count against a provider: a permanent one is about the
    /// message, not the provider. A provider that asked to be left alone
    /// (429 with Retry-After) is paused for that long.
    pub fn record(&self, index: usize, outcome: Outcome, retry_after: Option<Duration>) {
        let success = outcome != Outcome::Transient;
        let now = Instant::now();
        let mut h = self.providers[index].1.lock().unwrap();
        h.breaker.record(success, now);
        if let Some(wait) = retry_after.filter(|_| !success) {
            h.paused_until = Some(now + wait.min(Duration::from_secs(3600)));
        }
    }

    pub fn status(&self, channel: &str, name: impl Fn(&P) -> String) -> Vec<ProviderStatus> {
        let now = Instant::now();
        self.providers
            .iter()
            .map(|(p, b)| {
                let h = b.lock().unwrap();
                let state: State = h.breaker.state(now);
                let paused = h.paused_until.is_some_and(|t| now < t);
                ProviderStatus {
                    channel: channel.to_string(),
                    provider: name(p),
                    state: if paused { "paused" } else { state.as_str() },
                    consecutive_failures: h.breaker.consecutive_failures(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_rotate_and_open_breakers_are_skipped() {
        let f = Failover::new(vec!["a", "b", "c"], 2, Duration::from_secs(60));
        assert_eq!(*f.pick(1).1, "a");
        assert_eq!(*f.pick(2).1, "b");
        assert_eq!(*f.pick(4).1, "a");
        f.record(0, Outcome::Transient, None);
        f.record(0, Outcome::Transient, None);
        assert_eq!(*f.pick(1).1, "b", "a's breaker is open");
        // Permanent failures don't count against a provider.
        f.record(1, Outcome::Permanent, None);
        f.record(1, Outcome::Permanent, None);
        assert_eq!(*f.pick(2).1, "b");
        let st = f.status("sms", |p| p.to_string());
        assert_eq!(st[0].state, "open");
        assert_eq!(st[1].state, "closed");
    }

    #[test]
    fn with_every_breaker_open_the_scheduled_provider_is_still_used() {
        let f = Failover::new(vec!["a", "b"], 1, Duration::from_secs(60));
        f.record(0, Outcome::Transient, None);
        f.record(1, Outcome::Transient, None);
        assert_eq!(*f.pick(2).1, "b");
    }

    #[test]
    fn a_provider_that_asks_for_a_pause_is_skipped_meanwhile() {
        let f = Failover::new(vec!["a", "b"], 5, Duration::from_secs(60));
        f.record(0, Outcome::Transient, Some(Duration::from_secs(30)));
        assert_eq!(*f.pick(1).1, "b");
        assert_eq!(f.status("sms", |p| p.to_string())[0].state, "paused");
    }
}
