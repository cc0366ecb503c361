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

    /// Nothing more will happen to it.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Status::Sent | Status::Failed | Status::Suppressed | Status::Cancelled
        )
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
            "must be one of queued, scheduled, sending, retrying, sent, failed, suppressed, cancelled"
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
}
