//! Fan-out of inbox events to the streams open in this process: one bounded
//! broadcast channel per recipient with an open stream. Publishing never
//! waits; a stream that falls more than `buffer` events behind sees
//! `Lagged` and is closed (its client reconnects with Last-Event-ID and
//! catches up from the database), so one slow tab holds up nobody.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::Event;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_connections_per_recipient: usize,
    /// Events buffered per recipient.
    pub buffer: usize,
}

/// Why a stream was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    #[error("this server has {0} inbox streams open, its limit (inbox.max_connections); try again later")]
    Total(usize),
    #[error("this recipient has {0} inbox streams open, the limit (inbox.max_connections_per_recipient); close one first")]
    Recipient(usize),
}

struct Slot {
    tx: broadcast::Sender<Arc<Event>>,
    conns: usize,
}

#[derive(Default)]
struct Slots {
    by_recipient: HashMap<String, Slot>,
    total: usize,
}

pub struct Hub {
    limits: Limits,
    slots: Mutex<Slots>,
}

/// One open stream's place in the hub; leaving it (drop) frees the place.
pub struct Subscription {
    pub rx: broadcast::Receiver<Arc<Event>>,
    hub: Arc<Hub>,
    recipient: String,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut slots = self.hub.slots.lock().unwrap();
        slots.total -= 1;
        if let Some(slot) = slots.by_recipient.get_mut(&self.recipient) {
            slot.conns -= 1;
            if slot.conns == 0 {
                slots.by_recipient.remove(&self.recipient);
            }
        }
    }
}

impl Hub {
    pub fn new(limits: Limits) -> Arc<Hub> {
        Arc::new(Hub {
            limits,
            slots: Mutex::new(Slots::default()),
        })
    }

    /// A place for one more stream of `recipient`, within the limits.
    pub fn subscribe(self: &Arc<Self>, recipient: &str) -> Result<Subscription, Full> {
        let mut slots = self.slots.lock().unwrap();
        if slots.total >= self.limits.max_connections {
            return Err(Full::Total(slots.total));
        }
        let buffer = self.limits.buffer;
        let slot = slots
            .by_recipient
            .entry(recipient.to_string())
            .or_insert_with(|| Slot {
                tx: broadcast::channel(buffer).0,
                conns: 0,
            });
        if slot.conns >= self.limits.max_connections_per_recipient {
            return Err(Full::Recipient(slot.conns));
        }
        slot.conns += 1;
        let rx = slot.tx.subscribe();
        slots.total += 1;
        Ok(Subscription {
            rx,
            hub: self.clone(),
            recipient: recipient.to_string(),
        })
    }

    /// Hands `event` to every open stream of `recipient`; returns how many.
    pub fn publish(&self, recipient: &str, event: Arc<Event>) -> usize {
        let slots = self.slots.lock().unwrap();
        match slots.by_recipient.get(recipient) {
            Some(slot) => slot.tx.send(event).unwrap_or(0),
            None => 0,
        }
    }

    pub fn has_subscribers(&self, recipient: &str) -> bool {
        self.slots
            .lock()
            .unwrap()
            .by_recipient
            .contains_key(recipient)
    }

    /// Open streams in this process.
    pub fn connections(&self) -> usize {
        self.slots.lock().unwrap().total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::broadcast::error::TryRecvError;

    fn hub(total: usize, per: usize, buffer: usize) -> Arc<Hub> {
        Hub::new(Limits {
            max_connections: total,
            max_connections_per_recipient: per,
            buffer,
        })
    }

    fn ev(n: usize) -> Arc<Event> {
        Arc::new(Event::read(&[n.to_string()], false))
    }

    #[test]
    fn every_stream_of_a_recipient_gets_each_event_and_others_none() {
        let h = hub(10, 10, 8);
        let mut a = h.subscribe("u_1").unwrap();
        let mut b = h.subscribe("u_1").unwrap();
        let mut c = h.subscribe("u_2").unwrap();
        assert_eq!(h.publish("u_1", ev(1)), 2);
        assert_eq!(h.publish("u_3", ev(2)), 0);
        assert!(a.rx.try_recv().is_ok() && b.rx.try_recv().is_ok());
        assert_eq!(c.rx.try_recv().unwrap_err(), TryRecvError::Empty);
    }

    #[test]
    fn limits_hold_and_closing_a_stream_frees_its_place() {
        let h = hub(3, 2, 8);
        let a1 = h.subscribe("a").unwrap();
        let _a2 = h.subscribe("a").unwrap();
        assert_eq!(h.subscribe("a").err(), Some(Full::Recipient(2)));
        let _b = h.subscribe("b").unwrap();
        assert_eq!(h.subscribe("c").err(), Some(Full::Total(3)));
        drop(a1);
        assert_eq!(h.connections(), 2);
        assert!(h.subscribe("c").is_ok());
    }

    #[test]
    fn the_last_stream_leaving_removes_the_recipient() {
        let h = hub(10, 10, 8);
        let s = h.subscribe("u").unwrap();
        assert!(h.has_subscribers("u"));
        drop(s);
        assert!(!h.has_subscribers("u"));
        assert_eq!(h.connections(), 0);
    }

    #[test]
    fn a_stream_that_falls_behind_lags_while_others_keep_up() {
        let h = hub(10, 10, 4);
        let mut slow = h.subscribe("u").unwrap();
        let mut fast = h.subscribe("u").unwrap();
        for i in 0..10 {
            h.publish("u", ev(i));
            assert!(fast.rx.try_recv().is_ok());
        }
        assert!(matches!(slow.rx.try_recv(), Err(TryRecvError::Lagged(6))));
    }
}
