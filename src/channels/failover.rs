//! Providers of one channel in failover order, each behind a circuit
//! breaker. Attempt n of a delivery starts at provider n-1 (so a transient
//! failure moves the next attempt to the next provider) and skips providers
//! whose breaker is open. Once [`Failover::share`] is called, pauses and
//! open breakers hold for every process on the database
//! (src/flow/provider_state.rs): each process still counts its own
//! failures, and the one that opens a breaker opens it for all.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Outcome;
use crate::config::RateLimit;
use crate::flow::breaker::{Breaker, State};
use crate::flow::provider_state::{Gate, ProviderBoard, Shared};
use crate::util::now_ms;

pub struct Failover<P> {
    providers: Vec<(P, Mutex<Health>)>,
    /// Each provider's name and own rate limit, in order.
    limits: Vec<(String, Option<RateLimit>)>,
    cool_down: Duration,
    /// The state shared with other processes, and each provider's key in it.
    shared: OnceLock<(Arc<ProviderBoard>, Vec<String>)>,
}

/// A provider's breaker, and a pause it asked for (429 / Retry-After).
struct Health {
    breaker: Breaker,
    paused_until: Option<Instant>,
    /// This process holds the provider's probe for every process.
    shared_probe: bool,
}

impl Health {
    /// What this process's own view allows, given the shared one.
    fn gate(&mut self, shared: Shared, now: Instant, now_ms: i64) -> Gate {
        if self.paused_until.is_some_and(|t| now < t) {
            return Gate::Skip;
        }
        match shared.gate(now_ms) {
            Gate::Skip => Gate::Skip,
            // Our own breaker reopened (not yet shared), or our probe is out.
            Gate::Probe(_) if self.shared_probe || self.breaker.state(now) == State::Open => {
                Gate::Skip
            }
            Gate::Probe(seen) => Gate::Probe(seen),
            Gate::Go if self.breaker.allow(now) => Gate::Go,
            Gate::Go => Gate::Skip,
        }
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
            cool_down,
            shared: OnceLock::new(),
            providers: providers
                .into_iter()
                .map(|p| {
                    (
                        p,
                        Mutex::new(Health {
                            breaker: Breaker::new(threshold, cool_down),
                            paused_until: None,
                            shared_probe: false,
                        }),
                    )
                })
                .collect(),
        }
    }

    /// Shares these providers' pauses and breakers with every process on
    /// `board`'s database, under the keys `<channel>:<name>`.
    pub fn share(&self, board: &Arc<ProviderBoard>, channel: &str, name: impl Fn(&P) -> String) {
        let keys = self
            .providers
            .iter()
            .map(|(p, _)| format!("{channel}:{}", name(p)))
            .collect();
        let _ = self.shared.set((board.clone(), keys));
    }

    fn shared_state(&self, i: usize) -> Shared {
        match self.shared.get() {
            Some((board, keys)) => board.get(&keys[i]),
            None => Shared::default(),
        }
    }

    /// The provider for attempt `attempt` (1-based within the current retry
    /// cycle): the first, from that one on in order, that is not paused and
    /// whose breaker lets a send through. If none does, the scheduled one is
    /// used anyway: a delivery is never dropped for it.
    pub async fn pick(&self, attempt: i64) -> (usize, &P) {
        let n = self.providers.len();
        let start = ((attempt.max(1) - 1) as usize) % n;
        for k in 0..n {
            let i = (start + k) % n;
            let shared = self.shared_state(i);
            let gate = self.providers[i]
                .1
                .lock()
                .unwrap()
                .gate(shared, Instant::now(), now_ms());
            match gate {
                Gate::Go => return (i, &self.providers[i].0),
                Gate::Skip => {}
                Gate::Probe(seen) => {
                    if self.claim_probe(i, seen).await {
                        return (i, &self.providers[i].0);
                    }
                }
            }
        }
        (start, &self.providers[start].0)
    }

    /// Takes provider `i`'s probe for every process, if no one has yet.
    async fn claim_probe(&self, i: usize, seen: i64) -> bool {
        let Some((board, keys)) = self.shared.get() else {
            return false;
        };
        {
            // One claim at a time from this process.
            let mut h = self.providers[i].1.lock().unwrap();
            if h.shared_probe {
                return false;
            }
            h.shared_probe = true;
        }
        let lease = now_ms() + self.cool_down.as_millis() as i64;
        let won = board.claim_probe(&keys[i], seen, lease).await;
        if !won {
            self.providers[i].1.lock().unwrap().shared_probe = false;
        }
        won
    }

    /// The provider attempt `attempt` would most likely use (as `pick`, but
    /// without taking a half-open probe), with its rate limit: the
    /// dispatcher takes that provider's tokens before sending.
    pub fn peek(&self, attempt: i64) -> Option<(&str, RateLimit)> {
        // Nothing to look up (or lock) on every send when no provider has a limit.
        if self.limits.iter().all(|(_, l)| l.is_none()) {
            return None;
        }
        let (name, limit) = self.limits.get(self.likely_index(attempt))?;
        limit.map(|l| (name.as_str(), l))
    }

    /// The provider attempt `attempt` would most likely use (see `peek`).
    pub fn likely(&self, attempt: i64) -> &P {
        &self.providers[self.likely_index(attempt)].0
    }

    fn likely_index(&self, attempt: i64) -> usize {
        let n = self.providers.len();
        let start = ((attempt.max(1) - 1) as usize) % n;
        let (now, ms) = (Instant::now(), now_ms());
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| {
                let shared = self.shared_state(i).gate(ms) != Gate::Skip;
                let h = self.providers[i].1.lock().unwrap();
                shared
                    && h.paused_until.is_none_or(|t| now >= t)
                    && h.breaker.state(now) != State::Open
            })
            .unwrap_or(start)
    }

    /// When every provider is paused (a 429 with Retry-After, seen here
    /// or shared by another process): the Unix time in ms when the first
    /// pause ends. `None` while any provider is not paused.
    pub fn all_paused_until(&self) -> Option<i64> {
        let (now, ms) = (Instant::now(), now_ms());
        let mut first: Option<i64> = None;
        for i in 0..self.providers.len() {
            let shared = self.shared_state(i).paused_until.filter(|&t| t > ms);
            let local = self.providers[i]
                .1
                .lock()
                .unwrap()
                .paused_until
                .and_then(|t| t.checked_duration_since(now))
                .filter(|d| !d.is_zero())
                .map(|d| ms + d.as_millis() as i64);
            let until = shared.max(local)?;
            first = Some(first.map_or(until, |f| f.min(until)));
        }
        first
    }

    /// Feeds an attempt's outcome to the provider's breaker. Only transient
    /// failures count against a provider: a permanent one is about the
    /// message, not the provider. A provider that asked to be left alone
    /// (429 with Retry-After) is paused for that long. Pauses, and breakers
    /// opening or closing, are shared with other processes.
    pub fn record(&self, index: usize, outcome: Outcome, retry_after: Option<Duration>) {
        let success = outcome != Outcome::Transient;
        let now = Instant::now();
        let mut h = self.providers[index].1.lock().unwrap();
        let before = h.breaker.state(now);
        h.breaker.record(success, now);
        let probed = std::mem::take(&mut h.shared_probe);
        if probed && !success {
            h.breaker.trip(now);
        }
        let after = h.breaker.state(now);
        let pause = retry_after
            .filter(|_| !success)
            .map(|wait| wait.min(Duration::from_secs(3600)));
        if let Some(wait) = pause {
            h.paused_until = Some(now + wait);
        }
        drop(h);
        let Some((board, keys)) = self.shared.get() else {
            return;
        };
        let key = &keys[index];
        let ms = now_ms();
        if let Some(wait) = pause {
            board.pause(key, ms + wait.as_millis() as i64);
        }
        match after {
            State::Open if before != State::Open || probed => {
                board.breaker(key, Some(ms + self.cool_down.as_millis() as i64))
            }
            State::Closed if before != State::Closed || probed => board.breaker(key, None),
            _ => {}
        }
    }

    pub fn status(&self, channel: &str, name: impl Fn(&P) -> String) -> Vec<ProviderStatus> {
        let (now, ms) = (Instant::now(), now_ms());
        self.providers
            .iter()
            .enumerate()
            .map(|(i, (p, b))| {
                let shared = self.shared_state(i).state(ms);
                let h = b.lock().unwrap();
                let state: State = h.breaker.state(now);
                let paused = h.paused_until.is_some_and(|t| now < t);
                ProviderStatus {
                    channel: channel.to_string(),
                    provider: name(p),
                    state: match (paused, shared) {
                        (true, _) => "paused",
                        (false, Some(s)) if state != State::Open || s == "paused" => s,
                        _ => state.as_str(),
                    },
                    consecutive_failures: h.breaker.consecutive_failures(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn attempts_rotate_and_open_breakers_are_skipped() {
        let f = Failover::new(vec!["a", "b", "c"], 2, Duration::from_secs(60));
        assert_eq!(*f.pick(1).await.1, "a");
        assert_eq!(*f.pick(2).await.1, "b");
        assert_eq!(*f.pick(4).await.1, "a");
        f.record(0, Outcome::Transient, None);
        f.record(0, Outcome::Transient, None);
        assert_eq!(*f.pick(1).await.1, "b", "a's breaker is open");
        // Permanent failures don't count against a provider.
        f.record(1, Outcome::Permanent, None);
        f.record(1, Outcome::Permanent, None);
        assert_eq!(*f.pick(2).await.1, "b");
        let st = f.status("sms", |p| p.to_string());
        assert_eq!(st[0].state, "open");
        assert_eq!(st[1].state, "closed");
    }

    #[tokio::test]
    async fn with_every_breaker_open_the_scheduled_provider_is_still_used() {
        let f = Failover::new(vec!["a", "b"], 1, Duration::from_secs(60));
        f.record(0, Outcome::Transient, None);
        f.record(1, Outcome::Transient, None);
        assert_eq!(*f.pick(2).await.1, "b");
    }

    #[tokio::test]
    async fn a_provider_that_asks_for_a_pause_is_skipped_meanwhile() {
        let f = Failover::new(vec!["a", "b"], 5, Duration::from_secs(60));
        f.record(0, Outcome::Transient, Some(Duration::from_secs(30)));
        assert_eq!(*f.pick(1).await.1, "b");
        assert_eq!(f.status("sms", |p| p.to_string())[0].state, "paused");
    }

    #[test]
    fn deliveries_wait_only_when_every_provider_is_paused() {
        let f = Failover::new(vec!["a", "b"], 5, Duration::from_secs(60));
        assert_eq!(f.all_paused_until(), None);
        let before = now_ms();
        f.record(0, Outcome::Transient, Some(Duration::from_secs(30)));
        assert_eq!(f.all_paused_until(), None, "b is still free");
        f.record(1, Outcome::Transient, Some(Duration::from_secs(10)));
        let until = f.all_paused_until().expect("both are paused");
        // The first pause to end (b's, 10 s) decides.
        assert!(
            (before + 9_000..=now_ms() + 10_000).contains(&until),
            "{until} - {before}"
        );
        // A failure without Retry-After pauses nothing.
        let g = Failover::new(vec!["a"], 5, Duration::from_secs(60));
        g.record(0, Outcome::Transient, None);
        assert_eq!(g.all_paused_until(), None);
        g.record(0, Outcome::Transient, Some(Duration::from_secs(5)));
        assert!(g.all_paused_until().is_some());
    }

    /// Two processes on one database: two boards, two failovers.
    async fn two_processes(
        cool_down: Duration,
    ) -> (
        tempfile::TempDir,
        [Failover<&'static str>; 2],
        [Arc<ProviderBoard>; 2],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(&crate::config::DatabaseConfig {
            url: format!("sqlite://{}/t.db", dir.path().display()),
            backend: crate::config::Backend::Sqlite,
            max_connections: 2,
            schema: None,
            sqlite_full_sync: false,
            sqlite_checkpoint_interval: None,
            sqlite_max_bytes: None,
            acquire_timeout: std::time::Duration::from_secs(30),
            writers: 2,
        })
        .await
        .unwrap();
        let boards = [
            ProviderBoard::new(store.clone()),
            ProviderBoard::new(store.clone()),
        ];
        let failovers = [
            Failover::new(vec!["a", "b"], 2, cool_down),
            Failover::new(vec!["a", "b"], 2, cool_down),
        ];
        for (f, b) in failovers.iter().zip(&boards) {
            f.share(b, "sms", |p| p.to_string());
        }
        (dir, failovers, boards)
    }

    /// Refreshes `board` until `key`'s shared state satisfies `ok`.
    async fn until_shared(board: &ProviderBoard, key: &str, ok: impl Fn(Shared) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            board.refresh().await.unwrap();
            if ok(board.get(key)) {
                return;
            }
            assert!(Instant::now() < deadline, "{key}: {:?}", board.get(key));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_pause_seen_by_one_process_holds_for_the_other() {
        let (_dir, [one, two], [_, board_two]) = two_processes(Duration::from_secs(60)).await;
        one.record(0, Outcome::Transient, Some(Duration::from_secs(30)));
        until_shared(&board_two, "sms:a", |s| s.paused_until.is_some()).await;
        assert_eq!(*two.pick(1).await.1, "b", "a is paused for everyone");
        assert_eq!(two.status("sms", |p| p.to_string())[0].state, "paused");
        assert_eq!(two.peek(1), None, "no limits configured");
    }

    #[tokio::test]
    async fn a_breaker_opened_by_one_process_is_open_for_the_other_and_probed_once() {
        let cool = Duration::from_millis(300);
        let (_dir, [one, two], [board_one, board_two]) = two_processes(cool).await;
        one.record(0, Outcome::Transient, None);
        assert_eq!(*two.pick(1).await.1, "a", "one failure opens nothing");
        one.record(0, Outcome::Transient, None);
        until_shared(&board_two, "sms:a", |s| s.open_until.is_some()).await;
        assert_eq!(*two.pick(1).await.1, "b", "a's breaker is open everywhere");
        assert_eq!(two.status("sms", |p| p.to_string())[0].state, "open");

        // After the cool-down one process, and only one, probes.
        tokio::time::sleep(cool).await;
        board_one.refresh().await.unwrap();
        assert_eq!(two.status("sms", |p| p.to_string())[0].state, "half_open");
        let (first, second) = tokio::join!(one.pick(1), two.pick(1));
        let probes = [first.1, second.1].iter().filter(|p| ***p == "a").count();
        assert_eq!(probes, 1, "one probe for both processes");
        let (prober, other) = if *first.1 == "a" {
            (&one, &two)
        } else {
            (&two, &one)
        };
        assert_eq!(*other.pick(1).await.1, "b", "the probe is out");

        // The probe fails: open again for everyone.
        prober.record(0, Outcome::Transient, None);
        let other_board = if std::ptr::eq(other, &one) {
            &board_one
        } else {
            &board_two
        };
        until_shared(other_board, "sms:a", |s| {
            s.open_until.is_some_and(|t| t > now_ms())
        })
        .await;
        assert_eq!(*other.pick(1).await.1, "b");

        // The next probe succeeds: closed for everyone.
        tokio::time::sleep(cool).await;
        board_one.refresh().await.unwrap();
        board_two.refresh().await.unwrap();
        let (i, p) = prober.pick(1).await;
        assert_eq!((i, *p), (0, "a"));
        prober.record(0, Outcome::Ok, None);
        until_shared(other_board, "sms:a", |s| s.open_until.is_none()).await;
        assert_eq!(*other.pick(1).await.1, "a");
        assert_eq!(other.status("sms", |p| p.to_string())[0].state, "closed");
    }
}
