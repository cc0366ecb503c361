//! Providers of one channel in failover order, each behind a circuit
//! breaker. Attempt n of a delivery starts at provider n-1 (so a transient
//! failure moves the next attempt to the next provider) and skips providers
//! whose breaker is open.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Outcome;
use crate::flow::breaker::{Breaker, State};

pub struct Failover<P> {
    providers: Vec<(P, Mutex<Breaker>)>,
}

/// A provider's name and breaker state, for operators.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderStatus {
    pub channel: String,
    pub provider: String,
    pub state: &'static str,
    pub consecutive_failures: u32,
}

impl<P> Failover<P> {
    pub fn new(providers: Vec<P>, threshold: u32, cool_down: Duration) -> Self {
        Failover { providers: providers.into_iter().map(|p| (p, Mutex::new(Breaker::new(threshold, cool_down)))).collect() }
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

    /// Feeds an attempt's outcome to the provider's breaker. Only transient
    /// failures count against a provider: a permanent one is about the
    /// message, not the provider.
    pub fn record(&self, index: usize, outcome: Outcome) {
        let success = outcome != Outcome::Transient;
        self.providers[index].1.lock().unwrap().record(success, Instant::now());
    }

    pub fn status(&self, channel: &str, name: impl Fn(&P) -> String) -> Vec<ProviderStatus> {
        let now = Instant::now();
        self.providers
            .iter()
            .map(|(p, b)| {
                let b = b.lock().unwrap();
                let state: State = b.state(now);
                ProviderStatus {
                    channel: channel.to_string(),
                    provider: name(p),
                    state: state.as_str(),
                    consecutive_failures: b.consecutive_failures(),
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
        f.record(0, Outcome::Transient);
        f.record(0, Outcome::Transient);
        assert_eq!(*f.pick(1).1, "b", "a's breaker is open");
        // Permanent failures don't count against a provider.
        f.record(1, Outcome::Permanent);
        f.record(1, Outcome::Permanent);
        assert_eq!(*f.pick(2).1, "b");
        let st = f.status("sms", |p| p.to_string());
        assert_eq!(st[0].state, "open");
        assert_eq!(st[1].state, "closed");
    }

    #[test]
    fn with_every_breaker_open_the_scheduled_provider_is_still_used() {
        let f = Failover::new(vec!["a", "b"], 1, Duration::from_secs(60));
        f.record(0, Outcome::Transient);
        f.record(1, Outcome::Transient);
        assert_eq!(*f.pick(2).1, "b");
    }
}
