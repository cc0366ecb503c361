//! The bound on sends in flight to one destination (a webhook receiver's
//! host and port, an SMS or email provider), so a receiver that hangs holds
//! at most its share of the workers.
//!
//! A delivery whose destination is full may wait a moment for a place when
//! the destination is quick (its sends have taken under half a second on
//! average: a place frees soon); otherwise, or when the moment passes, it
//! goes back to the queue for a later slot, holding no worker meanwhile.
//! Slots are handed out at the destination's observed pace (its sends'
//! average duration divided by its share), so a backlog for one busy
//! destination is spread out once rather than claimed and handed back on
//! every pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Before a destination's first send has finished, its sends are taken to
/// last at least this long (or as long as it has been busy, if longer).
const FIRST_GUESS_MS: f64 = 250.0;
/// Destinations whose sends average at most this long are waited for.
const QUICK_MS: f64 = 500.0;
/// The longest a delivery is sent away for at once; it is looked at again
/// then.
const MAX_WAIT_MS: i64 = 60_000;

struct Dest {
    places: Arc<Semaphore>,
    /// Average duration of finished sends (exponentially weighted).
    avg_ms: Option<f64>,
    /// Since when it has had sends in flight without a break.
    busy_since: Instant,
    /// The last slot handed to a delivery that had to wait (Unix ms).
    next_slot: i64,
}

impl Dest {
    fn new(share: usize) -> Dest {
        Dest {
            places: Arc::new(Semaphore::new(share)),
            avg_ms: None,
            busy_since: Instant::now(),
            next_slot: 0,
        }
    }
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
    _place: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let took = self.started.elapsed().as_secs_f64() * 1000.0;
        let mut map = self.dests.map.lock().unwrap();
        if let Some(d) = map.get_mut(&self.key) {
            d.avg_ms = Some(match d.avg_ms {
                Some(a) => a * 0.8 + took * 0.2,
                None => took,
            });
            // Forget an idle destination: no place held but this one (its
            // permit still holds the semaphore) and no one waiting for one.
            if Arc::strong_count(&d.places) <= 2 && d.next_slot <= crate::util::now_ms() {
                map.remove(&self.key);
            }
        }
    }
}

/// A destination's answer to a delivery that wants a place.
pub enum Place {
    /// Send now.
    Now(Slot),
    /// Full, but quick: wait up to this long for a place, else come back at
    /// the slot.
    Wait(Duration, i64),
    /// Full: come back at this Unix time in ms.
    Later(i64),
}

impl Destinations {
    pub fn new(share: usize) -> Arc<Destinations> {
        Arc::new(Destinations {
            share: share.max(1),
            map: Mutex::new(HashMap::new()),
        })
    }

    fn slot(self: &Arc<Self>, key: &str, started: Instant, place: OwnedSemaphorePermit) -> Slot {
        Slot {
            dests: self.clone(),
            key: key.to_string(),
            started,
            _place: place,
        }
    }

    /// A place for one send to `key`, or how to wait for one.
    pub fn take(self: &Arc<Self>, key: &str, now_ms: i64) -> Place {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap();
        let share = self.share;
        let d = map
            .entry(key.to_string())
            .or_insert_with(|| Dest::new(share));
        let idle = d.places.available_permits() == share;
        if let Ok(p) = d.places.clone().try_acquire_owned() {
            if idle {
                d.busy_since = now;
            }
            drop(map);
            return Place::Now(self.slot(key, now, p));
        }
        let busy_ms = now.duration_since(d.busy_since).as_secs_f64() * 1000.0;
        let per_send = d.avg_ms.unwrap_or(FIRST_GUESS_MS.max(busy_ms));
        let step = ((per_send / share as f64) as i64).clamp(5, MAX_WAIT_MS);
        d.next_slot = (d.next_slot.max(now_ms) + step).min(now_ms + MAX_WAIT_MS);
        let quick = match d.avg_ms {
            Some(a) => a <= QUICK_MS,
            None => busy_ms < FIRST_GUESS_MS,
        };
        if quick {
            // A quick destination frees a place every few milliseconds, so
            // a whole claimed batch gets through in line: wait as long as
            // a quick send may take, twice, rather than a multiple of the
            // average (a few ms at a fast receiver), which sent most of a
            // batch back to the queue and cut throughput to a tenth.
            Place::Wait(Duration::from_millis((2.0 * QUICK_MS) as u64), d.next_slot)
        } else {
            Place::Later(d.next_slot)
        }
    }

    /// Waits up to `wait` for a place at `key`.
    pub async fn wait(self: &Arc<Self>, key: &str, wait: Duration) -> Option<Slot> {
        let places = self
            .map
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_insert_with(|| Dest::new(self.share))
            .places
            .clone();
        let p = tokio::time::timeout(wait, places.acquire_owned())
            .await
            .ok()?
            .ok()?;
        Some(self.slot(key, Instant::now(), p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(p: Place) -> Slot {
        match p {
            Place::Now(s) => s,
            _ => panic!("expected a place"),
        }
    }

    fn at(p: Place) -> i64 {
        match p {
            Place::Now(_) => panic!("expected to wait"),
            Place::Wait(_, t) | Place::Later(t) => t,
        }
    }

    #[tokio::test]
    async fn a_destination_holds_at_most_its_share_and_a_finished_send_frees_one() {
        let d = Destinations::new(2);
        let a = now(d.take("webhook:a:80", 1_000));
        let _b = now(d.take("webhook:a:80", 1_000));
        assert!(at(d.take("webhook:a:80", 1_000)) > 1_000);
        // Another destination is not affected.
        let _c = now(d.take("webhook:b:80", 1_000));
        drop(a);
        let _a = now(d.take("webhook:a:80", 1_000));
        // A quick destination is waited for, and a freed place is taken.
        let waiter = {
            let d = d.clone();
            tokio::spawn(async move { d.wait("webhook:a:80", Duration::from_secs(5)).await })
        };
        drop(_a);
        let _w = waiter.await.unwrap().expect("the freed place");
        assert!(d
            .wait("webhook:a:80", Duration::from_millis(20))
            .await
            .is_none());
    }

    #[test]
    fn a_slow_destination_sends_waiting_deliveries_away_spread_at_its_pace() {
        let d = Destinations::new(1);
        let _s = now(d.take("x", 0));
        d.map.lock().unwrap().get_mut("x").unwrap().avg_ms = Some(10_000.0);
        let slots: Vec<i64> = (0..4)
            .map(|_| match d.take("x", 0) {
                Place::Later(t) => t,
                _ => panic!("a slow destination is not waited for"),
            })
            .collect();
        assert!(slots.windows(2).all(|w| w[1] > w[0]), "{slots:?}");
        assert_eq!(slots[0], 10_000);
        assert!(slots.iter().all(|&s| s <= MAX_WAIT_MS), "{slots:?}");
    }
}
