//! A circuit breaker per provider: after `threshold` consecutive failures
//! it opens (the provider is skipped); after `cool_down` it lets one probe
//! through (half-open); a success closes it, a failure opens it again.

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cool_down: Duration,
    failures: u32,
    opened_at: Option<Instant>,
    probing: bool,
}

impl Breaker {
    pub fn new(threshold: u32, cool_down: Duration) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            cool_down,
            failures: 0,
            opened_at: None,
            probing: false,
        }
    }

    pub fn state(&self, now: Instant) -> State {
        match self.opened_at {
            None => State::Closed,
            Some(at) if now.duration_since(at) >= self.cool_down => State::HalfOpen,
            Some(_) => State::Open,
        }
    }

    /// Whether a send may go to this provider now. In half-open state only
    /// one probe is let through until its outcome is recorded.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state(now) {
            State::Closed => true,
            State::Open => false,
            State::HalfOpen if self.probing => false,
            State::HalfOpen => {
                self.probing = true;
                true
            }
        }
    }

    pub fn record(&mut self, success: bool, now: Instant) {
        self.probing = false;
        if success {
            self.failures = 0;
            self.opened_at = None;
            return;
        }
        self.failures += 1;
        if self.opened_at.is_some() || self.failures >= self.threshold {
            self.opened_at = Some(now);
        }
    }

    /// Opens the breaker now, whatever the count: a probe made for every
    /// process failed (src/flow/provider_state.rs).
    pub fn trip(&mut self, now: Instant) {
        self.probing = false;
        self.opened_at = Some(now);
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_probes_after_the_cool_down_and_closes_on_success() {
        let t0 = Instant::now();
        let cool = Duration::from_secs(30);
        let mut b = Breaker::new(3, cool);
        for _ in 0..2 {
            assert!(b.allow(t0));
            b.record(false, t0);
        }
        assert_eq!(b.state(t0), State::Closed);
        b.record(false, t0);
        assert_eq!(b.state(t0), State::Open);
        assert!(!b.allow(t0 + Duration::from_secs(29)));
        // Half-open: one probe only.
        let later = t0 + cool;
        assert_eq!(b.state(later), State::HalfOpen);
        assert!(b.allow(later));
        assert!(!b.allow(later), "one probe at a time");
        // The probe fails: open again for another cool-down.
        b.record(false, later);
        assert_eq!(b.state(later + Duration::from_secs(1)), State::Open);
        let again = later + cool;
        assert!(b.allow(again));
        b.record(true, again);
        assert_eq!(b.state(again), State::Closed);
        assert_eq!(b.consecutive_failures(), 0);
    }

    #[test]
    fn a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, Duration::from_secs(1));
        b.record(false, t0);
        b.record(true, t0);
        b.record(false, t0);
        assert_eq!(b.state(t0), State::Closed);
    }
}
