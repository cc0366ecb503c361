//! The hand-off between the accepting writer and this process's workers.
//!
//! A delivery that is due at once is written by the accepting transaction
//! already claimed (`sending`, with the workers' token and a lease), and
//! given to the workers in memory after the commit: no claiming statement,
//! no second write of the row before it is sent. Only as many as the
//! workers have room for are handed over; the rest wait in the queue as
//! before. A process that dies with handed-over rows in memory loses
//! nothing: they are in the database under a lease, and are claimed again
//! when it ends, as any claimed delivery is.
//! See docs/decisions/0018-due-deliveries-are-claimed-as-they-are-written.md.
//!
//! It is also how the workers learn that due work waits in the database
//! (accepted while they had no room, scheduled, re-queued by an operator):
//! [`Handoff::queued`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::Claimed;

#[derive(Default)]
pub struct Handoff {
    state: Mutex<State>,
    /// Rows were handed over, or work waits in the database.
    ready: Notify,
    /// Work waits in the database.
    queued: AtomicBool,
}

#[derive(Default)]
struct State {
    /// The workers taking rows, when this process runs them.
    taker: Option<Taker>,
    /// Rows being written by an accepting transaction, not yet handed over.
    reserved: usize,
    /// Handed over, not yet taken: each with its lease's end.
    rows: VecDeque<(i64, Claimed)>,
}

struct Taker {
    token: String,
    lease_ms: i64,
    capacity: usize,
}

/// Room for `n` rows, reserved by an accepting transaction: write them
/// claimed with `token` until `lease_until`, then [`Grant::hand_over`]
/// them after the commit. Dropped without handing over (the transaction
/// failed), the room is given back.
pub struct Grant {
    handoff: Arc<Handoff>,
    pub token: String,
    pub lease_until: i64,
    pub n: usize,
}

impl Handoff {
    /// The workers of this process take rows from now on: claimed with
    /// `token`, leased for `lease`, at most `capacity` waiting at a time.
    pub fn attach(&self, token: &str, lease: Duration, capacity: usize) {
        self.lock().taker = Some(Taker {
            token: token.to_string(),
            lease_ms: lease.as_millis() as i64,
            capacity,
        });
    }

    /// The workers stop taking rows. Rows handed over and not taken stay
    /// claimed with the workers' token in the database, where releasing
    /// the token hands them back.
    pub fn detach(&self) {
        let mut s = self.lock();
        s.taker = None;
        s.rows.clear();
    }

    /// Reserves room for up to `due` rows due at `now`; `None` when there
    /// are no workers here or no room.
    pub fn reserve(self: &Arc<Self>, due: usize, now: i64) -> Option<Grant> {
        let mut s = self.lock();
        let waiting = s.rows.len() + s.reserved;
        let t = s.taker.as_ref()?;
        let n = due.min(t.capacity.saturating_sub(waiting));
        if n == 0 {
            return None;
        }
        let grant = Grant {
            handoff: self.clone(),
            token: t.token.clone(),
            lease_until: now + t.lease_ms,
            n,
        };
        s.reserved += n;
        Some(grant)
    }

    /// Up to `max` handed-over rows. A row that waited here for half its
    /// lease is left to come back through the queue when the lease ends
    /// (by then it may be claimed elsewhere).
    pub fn take(&self, max: usize, now: i64) -> Vec<Claimed> {
        let mut s = self.lock();
        let half = s.taker.as_ref().map_or(0, |t| t.lease_ms / 2);
        let mut out = Vec::with_capacity(max.min(s.rows.len()));
        while out.len() < max {
            match s.rows.pop_front() {
                Some((lease_until, row)) if lease_until - now > half => out.push(row),
                Some(_) => {}
                None => break,
            }
        }
        out
    }

    /// Whether rows wait to be taken.
    pub fn has_rows(&self) -> bool {
        !self.lock().rows.is_empty()
    }

    /// Due work waits in the database: wakes the workers to claim it.
    pub fn queued(&self) {
        self.queued.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    /// Whether [`queued`](Self::queued) was called since the last look.
    pub fn take_queued(&self) -> bool {
        self.queued.swap(false, Ordering::AcqRel)
    }

    /// Resolves when rows were handed over or work was queued since the
    /// last time it resolved.
    pub async fn notified(&self) {
        self.ready.notified().await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Grant {
    /// The rows are committed: the workers may take them. (Fewer than
    /// reserved is fine; the rest of the room is given back.)
    pub fn hand_over(self, rows: Vec<Claimed>) {
        let mut s = self.handoff.lock();
        // Workers that stopped meanwhile don't take them: they are
        // released with the token.
        if s.taker.as_ref().is_some_and(|t| t.token == self.token) {
            s.rows
                .extend(rows.into_iter().map(|r| (self.lease_until, r)));
        }
        drop(s);
        self.handoff.ready.notify_one();
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        let mut s = self.handoff.lock();
        s.reserved = s.reserved.saturating_sub(self.n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> Claimed {
        Claimed {
            id: id.into(),
            notification_id: "n".into(),
            recipient: "r".into(),
            channel: "webhook".into(),
            category: "transactional".into(),
            address: "a".into(),
            content: "{}".into(),
            attempts: 0,
            retry_base: 0,
            claim_token: "t".into(),
            traceparent: None,
            template_key: None,
            created_at: 0,
        }
    }

    #[test]
    fn nothing_is_reserved_without_workers() {
        let h = Arc::new(Handoff::default());
        assert!(h.reserve(3, 0).is_none());
        h.attach("t", Duration::from_secs(60), 4);
        h.detach();
        assert!(h.reserve(3, 0).is_none());
    }

    #[test]
    fn room_is_bounded_and_given_back() {
        let h = Arc::new(Handoff::default());
        h.attach("t", Duration::from_secs(60), 4);
        let g = h.reserve(3, 1_000).unwrap();
        assert_eq!((g.n, g.lease_until, g.token.as_str()), (3, 61_000, "t"));
        // One place left while three are being written.
        assert_eq!(h.reserve(5, 1_000).map(|g| g.n), Some(1));
        // A failed transaction gives its room back.
        drop(g);
        let g = h.reserve(5, 1_000).unwrap();
        assert_eq!(g.n, 4);
        g.hand_over(vec![row("a"), row("b")]);
        // Two wait to be taken: room for two more.
        assert_eq!(h.reserve(5, 1_000).map(|g| g.n), Some(2));
        let taken: Vec<String> = h.take(10, 2_000).into_iter().map(|r| r.id).collect();
        assert_eq!(taken, ["a", "b"]);
        assert!(!h.has_rows());
    }

    #[test]
    fn rows_that_waited_half_their_lease_are_left_to_the_queue() {
        let h = Arc::new(Handoff::default());
        h.attach("t", Duration::from_secs(60), 4);
        h.reserve(1, 0).unwrap().hand_over(vec![row("old")]);
        h.reserve(1, 20_000).unwrap().hand_over(vec![row("new")]);
        let taken: Vec<String> = h.take(10, 31_000).into_iter().map(|r| r.id).collect();
        assert_eq!(taken, ["new"]);
    }

    #[test]
    fn rows_handed_over_after_the_workers_stopped_are_not_kept() {
        let h = Arc::new(Handoff::default());
        h.attach("t", Duration::from_secs(60), 4);
        let g = h.reserve(1, 0).unwrap();
        h.detach();
        h.attach("u", Duration::from_secs(60), 4);
        g.hand_over(vec![row("a")]);
        assert!(h.take(10, 0).is_empty());
    }

    #[tokio::test]
    async fn queued_wakes_once_and_is_taken_once() {
        let h = Handoff::default();
        assert!(!h.take_queued());
        h.queued();
        tokio::time::timeout(Duration::from_secs(1), h.notified())
            .await
            .unwrap();
        assert!(h.take_queued());
        assert!(!h.take_queued());
    }
}
