//! The status events missive sends to registered endpoints: their types,
//! and which delivery status each reports. A set of types is a bit mask,
//! so the store can ask "does any enabled endpoint want this?" on the hot
//! path without a lock or a read.

use super::Status;

super::word::word! {
    /// What an event reports.
    EventType {
        /// A provider took the delivery (or the receiver answered 2xx).
        DeliverySent = "delivery.sent",
        /// The delivery failed for good (a permanent error, or retries
        /// ran out).
        DeliveryFailed = "delivery.failed",
        /// A provider's receipt: it reached the recipient.
        DeliveryDelivered = "delivery.delivered",
        /// A provider's receipt: this message did not arrive.
        DeliveryUndelivered = "delivery.undelivered",
        /// A provider's receipt: the address does not take messages.
        DeliveryBounced = "delivery.bounced",
        /// A provider's receipt: the recipient marked it as spam.
        DeliveryComplained = "delivery.complained",
        /// The recipient read the in-app message.
        DeliveryRead = "delivery.read",
        /// Every delivery of the notification reached a final status.
        NotificationCompleted = "notification.completed",
    }
}

impl EventType {
    /// This type's bit in a [`Mask`].
    pub const fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The event a delivery's move to `status` makes, if any.
    pub const fn of_status(status: Status) -> Option<EventType> {
        Some(match status {
            Status::Sent => EventType::DeliverySent,
            Status::Failed => EventType::DeliveryFailed,
            Status::Delivered => EventType::DeliveryDelivered,
            Status::Undelivered => EventType::DeliveryUndelivered,
            Status::Bounced => EventType::DeliveryBounced,
            Status::Complained => EventType::DeliveryComplained,
            _ => return None,
        })
    }
}

/// A set of event types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mask(pub u32);

impl Mask {
    pub const ALL: Mask = Mask(u32::MAX);

    pub fn has(self, t: EventType) -> bool {
        self.0 & t.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The mask of an endpoint's stored `event_types` (`*` or `,a,b,`).
    pub fn of_stored(stored: &str) -> Mask {
        if stored == "*" {
            return Mask::ALL;
        }
        Mask(
            stored
                .split(',')
                .filter_map(|t| EventType::parse(t).ok())
                .fold(0, |m, t| m | t.bit()),
        )
    }
}

/// How an endpoint's event types are stored: `*` for every type (none
/// given), else `,a,b,` so one `LIKE '%,type,%'` finds a subscriber.
pub fn stored_types(types: Option<&[EventType]>) -> String {
    match types {
        None => "*".to_string(),
        Some(ts) => {
            let mut s = String::from(",");
            for t in ts {
                s.push_str(t.as_str());
                s.push(',');
            }
            s
        }
    }
}

/// The event types an endpoint's stored `event_types` names; `None` for
/// every type.
pub fn listed_types(stored: &str) -> Option<Vec<String>> {
    (stored != "*").then(|| {
        stored
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_types_round_trip_through_the_mask() {
        let s = stored_types(Some(&[
            EventType::DeliverySent,
            EventType::NotificationCompleted,
        ]));
        assert_eq!(s, ",delivery.sent,notification.completed,");
        let m = Mask::of_stored(&s);
        assert!(m.has(EventType::DeliverySent) && m.has(EventType::NotificationCompleted));
        assert!(!m.has(EventType::DeliveryFailed));
        assert!(Mask::of_stored("*").has(EventType::DeliveryRead));
        assert_eq!(listed_types("*"), None);
    }
}
