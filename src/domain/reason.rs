//! Why a delivery was suppressed, waits, or failed: the `reason` stored
//! with its status and shown in the delivery log.

super::word::word! {
    /// A delivery's reason.
    Reason {
        /// Suppressed: the same dedup scope was seen inside the window.
        Duplicate = "duplicate",
        /// Suppressed: over the template's or category's frequency cap.
        FrequencyCap = "frequency_cap",
        /// Suppressed: the recipient opted out.
        Preference = "preference",
        /// Suppressed: the recipient has no address on the channel.
        NoAddress = "no_address",
        /// Suppressed: the address is on the suppression list after a hard
        /// bounce (or was put there by hand with this reason).
        Bounced = "bounced",
        /// Suppressed: the address is on the suppression list after a
        /// spam complaint (or an SMS opt-out).
        Complained = "complained",
        /// Waits for the end of the recipient's quiet hours.
        QuietHours = "quiet_hours",
        /// Waits for a rate limit's next free slot.
        RateLimited = "rate_limited",
        /// Waits while its provider is paused.
        ProviderPaused = "provider_paused",
        /// Waits for its destination's share of sends in flight.
        DestinationBusy = "destination_busy",
        /// Failed: the provider refused it for good.
        PermanentError = "permanent_error",
        /// Failed: every retry was used.
        RetriesExhausted = "retries_exhausted",
    }
}

impl Reason {
    /// Whether a delivery is suppressed for this reason.
    pub const fn is_suppression(self) -> bool {
        matches!(
            self,
            Reason::Duplicate
                | Reason::FrequencyCap
                | Reason::Preference
                | Reason::NoAddress
                | Reason::Bounced
                | Reason::Complained
        )
    }

    /// Whether an address may be on the suppression list for this reason.
    pub const fn is_listed(self) -> bool {
        matches!(self, Reason::Bounced | Reason::Complained)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_parse_what_they_write() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Ok(*r));
        }
        assert!(Reason::parse("whim")
            .unwrap_err()
            .starts_with("must be one of duplicate, frequency_cap, "));
        let suppression: Vec<_> = Reason::ALL.iter().filter(|r| r.is_suppression()).collect();
        assert_eq!(suppression.len(), 6);
        assert!(Reason::Bounced.is_listed() && !Reason::Preference.is_listed());
        assert!(!Reason::QuietHours.is_suppression());
    }
}
