//! A delivery's status, and which of them wait in the queue and which
//! are final; the store writes `as_str` and the API shows it.

super::word::word! {
    /// Where a delivery is in its life.
    Status {
        Queued = "queued",
        Scheduled = "scheduled",
        Sending = "sending",
        Retrying = "retrying",
        Sent = "sent",
        Failed = "failed",
        Suppressed = "suppressed",
        Cancelled = "cancelled",
        /// A provider's receipt: it reached the recipient.
        Delivered = "delivered",
        /// A provider's receipt: this message did not arrive (a soft
        /// bounce, a carrier's refusal); the address is not known bad.
        Undelivered = "undelivered",
        /// A provider's receipt: the address does not take messages (a
        /// hard bounce); it is put on the suppression list.
        Bounced = "bounced",
        /// A provider's receipt: the recipient marked it as spam; the
        /// address is put on the suppression list.
        Complained = "complained",
    }
}

impl Status {
    /// Waiting for an attempt (not being sent): what may be cancelled.
    pub const fn is_pending(self) -> bool {
        matches!(self, Status::Queued | Status::Scheduled | Status::Retrying)
    }

    /// Still in the queue: not sent, failed, suppressed or cancelled.
    pub const fn is_waiting(self) -> bool {
        !self.is_final()
    }

    /// No worker will touch it again (a receipt may still move a sent one
    /// on: see [`Status::receipt_rank`]).
    pub const fn is_final(self) -> bool {
        !matches!(
            self,
            Status::Queued | Status::Scheduled | Status::Sending | Status::Retrying
        )
    }

    /// Handed to a provider, who took it: `sent`, or a status a receipt
    /// moved it on to.
    pub const fn was_sent(self) -> bool {
        self.receipt_rank().is_some()
    }

    /// Where a sent delivery stands among the statuses receipts move it
    /// to; a receipt moves it only to a higher rank, so receipts may come
    /// in any order and any number of times: a late `delivered` never
    /// undoes a `bounced`, and a complaint outranks everything. `None`:
    /// not sent, so no receipt moves it.
    pub const fn receipt_rank(self) -> Option<u8> {
        match self {
            Status::Sent => Some(0),
            Status::Delivered => Some(1),
            Status::Undelivered => Some(2),
            Status::Bounced => Some(3),
            Status::Complained => Some(4),
            _ => None,
        }
    }

    /// Whether a receipt saying `to` moves a delivery that is `self`.
    pub fn moved_by_receipt(self, to: Status) -> bool {
        matches!((self.receipt_rank(), to.receipt_rank()), (Some(a), Some(b)) if b > a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_what_they_write() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Ok(*s));
            assert_eq!(s.is_waiting(), !s.is_final());
        }
        assert_eq!(
            Status::parse("lost").unwrap_err(),
            "must be one of queued, scheduled, sending, retrying, sent, failed, suppressed, \
             cancelled, delivered, undelivered, bounced, complained"
        );
        let waiting: Vec<_> = Status::ALL.iter().filter(|s| s.is_waiting()).collect();
        assert_eq!(
            waiting,
            [
                &Status::Queued,
                &Status::Scheduled,
                &Status::Sending,
                &Status::Retrying
            ]
        );
        assert!(Status::Retrying.is_pending() && !Status::Sending.is_pending());
    }

    #[test]
    fn receipts_only_move_a_sent_delivery_forward() {
        use Status::*;
        assert!(Sent.moved_by_receipt(Delivered));
        assert!(Delivered.moved_by_receipt(Bounced));
        assert!(Bounced.moved_by_receipt(Complained));
        // Late or repeated receipts change nothing.
        assert!(!Bounced.moved_by_receipt(Delivered));
        assert!(!Delivered.moved_by_receipt(Delivered));
        assert!(!Complained.moved_by_receipt(Bounced));
        // Nothing that was not sent, and nothing back to `sent`.
        assert!(!Sending.moved_by_receipt(Delivered));
        assert!(!Failed.moved_by_receipt(Bounced));
        assert!(!Delivered.moved_by_receipt(Sent));
        assert!(Complained.was_sent() && !Suppressed.was_sent());
    }
}
