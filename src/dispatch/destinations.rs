//! The bound on sends in flight to one destination (a webhook receiver's
//! host and port, an SMS or email provider), so a receiver that hangs holds
//! at most its share of the workers. A delivery whose destination is full
//! does not wait on a worker: it goes back to the queue for a slot at the
//! destination's observed pace (its sends' average duration divided by
//! its share), so a backlog for one busy destination is spread out once
//! rather than claimed and handed back on every pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Before a destination's first send has finished, its sends are taken to
/// last at least this long (or as long as it has been busy, if longer).
const FIRST_GUESS_MS: f64 = 250.0;
/// The longest a delivery is sent away for at once; it is looked at again
/// then.
const MAX_WAIT_MS: i64 = 60_000;

#[derive(Debug)]
struct Dest {
    in_flight: usize,
    /// Average duration of finished sends (exponentially weighted).
    avg_ms: Option<f64>,
    /// Since when it has had sends in flight without a break.
    busy_since: Instant,
    /// The last slot handed to a delivery that had to wait (Unix ms).
    next_slot: i64,
}

pub struct Destinations {
    share: usize,
    map: Mutex<HashMap<String, Dest>>,
}

/// One send in flight to a destination; dropping it frees the place and
/// records how long the send took.
pub struct Slot {
    dests: Arc<Destinations>,
    key: String,
    started: Instant,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let took = self.started.elapsed().as_secs_f64() * 1000.0;
        let mut map = self.dests.map.lock().unwrap();
        if let Some(d) = map.get_mut(&self.key) {
            d.in_flight = d.in_flight.saturating_sub(1);
            d.avg_ms = Some(match d.avg_ms {
                Some(a) => a * 0.8 + took * 0.2,
                None => took,
            });
            if d.in_flight == 0 && d.next_slot <= crate::util::now_ms() {
                map.remove(&self.key);
            }
        }
    }
}

impl Destinations {
    pub fn new(share: usize) -> Arc<Destinations> {
        Arc::new(Destinations {
            share: share.max(1),
            map: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one send to `key`, or (when it has its share in flight)
    /// the Unix time in ms to try again.
    pub fn take(self: &Arc<Self>, key: &str, now_ms: i64) -> Result<Slot, i64> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap();
        let d = map.entry(key.to_string()).or_insert_with(|| Dest {
            in_flight: 0,
            avg_ms: None,
            busy_since: now,
            next_slot: 0,
        });
        if d.in_flight < self.share {
            if d.in_flight == 0 {
                d.busy_since = now;
            }
            d.in_flight += 1;
            return Ok(Slot {
                dests: self.clone(),
                key: key.to_string(),
                started: now,
            });
        }
        let busy_ms = now.duration_since(d.busy_since).as_secs_f64() * 1000.0;
        let per_send = d.avg_ms.unwrap_or(FIRST_GUESS_MS.max(busy_ms));
        let step = ((per_send / self.share as f64) as i64).clamp(5, MAX_WAIT_MS);
        d.next_slot = (d.next_slot.max(now_ms) + step).min(now_ms + MAX_WAIT_MS);
        Err(d.next_slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_holds_at_most_its_share_and_a_finished_send_frees_one() {
        let d = Destinations::new(2);
        let a = d.take("webhook:a:80", 1_000).unwrap();
        let _b = d.take("webhook:a:80", 1_000).unwrap();
        let wait = d.take("webhook:a:80", 1_000).err().unwrap();
        assert!(wait > 1_000);
        // Another destination is not affected.
        let _c = d.take("webhook:b:80", 1_000).unwrap();
        drop(a);
        assert!(d.take("webhook:a:80", 1_000).is_ok());
    }

    #[test]
    fn waiting_deliveries_are_spread_at_the_destinations_pace() {
        let d = Destinations::new(1);
        let _a = d.take("x", 0).unwrap();
        let slots: Vec<i64> = (0..4).map(|_| d.take("x", 0).err().unwrap()).collect();
        assert!(slots.windows(2).all(|w| w[1] > w[0]), "{slots:?}");
        assert!(slots.iter().all(|&s| s <= MAX_WAIT_MS), "{slots:?}");
    }
}
