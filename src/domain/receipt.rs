//! Receipts: what a provider says happened to a message after it took it,
//! in missive's words. Each provider's vocabulary (Twilio's
//! `MessageStatus` and error codes, SendGrid's events, Postmark's record
//! and bounce types) is read here, once, into a [`Verdict`]: the status the
//! delivery moves to, and whether its address goes on the suppression list.
//! Pure, so the mapping is tested without a provider; the endpoints parse
//! the bodies (src/http/receipts.rs) and the store applies the verdict.

use super::{Channel, Reason, Status};

super::word::word! {
    /// Who sent a receipt: one endpoint each.
    Source {
        Twilio = "twilio",
        SendGrid = "sendgrid",
        Postmark = "postmark",
    }
}

impl Source {
    /// The channel its receipts are about.
    pub const fn channel(self) -> Channel {
        match self {
            Source::Twilio => Channel::Sms,
            Source::SendGrid | Source::Postmark => Channel::Email,
        }
    }
}

/// What one receipt means for its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The status it moves a sent delivery to (if that is a move forward,
    /// see [`Status::moved_by_receipt`]); `None`: recorded in the delivery's
    /// log only (an intermediate state such as Twilio's `sent`).
    pub status: Option<Status>,
    /// The address goes on the suppression list for this reason.
    pub suppress: Option<Reason>,
}

impl Verdict {
    const NOTE: Verdict = Verdict {
        status: None,
        suppress: None,
    };

    const fn to(status: Status) -> Verdict {
        Verdict {
            status: Some(status),
            suppress: None,
        }
    }

    const fn listed(status: Status, reason: Reason) -> Verdict {
        Verdict {
            status: Some(status),
            suppress: Some(reason),
        }
    }
}

/// Twilio error codes that say the number itself can't take messages:
/// 21211 invalid 'To' number, 21614 not a mobile number, 30005 unknown
/// destination handset, 30006 landline or unreachable carrier.
const TWILIO_BAD_NUMBER: [&str; 4] = ["21211", "21614", "30005", "30006"];
/// 21610: the recipient replied STOP; Twilio refuses further messages.
const TWILIO_OPTED_OUT: &str = "21610";

/// A Twilio status callback's `MessageStatus` and `ErrorCode`; `None`
/// when the callback is not about a message's fate (nothing is recorded).
pub fn twilio(message_status: &str, error_code: Option<&str>) -> Option<Verdict> {
    let code = error_code.map(str::trim).filter(|c| !c.is_empty());
    Some(match message_status {
        "delivered" => Verdict::to(Status::Delivered),
        "undelivered" | "failed" => match code {
            Some(c) if c == TWILIO_OPTED_OUT => {
                Verdict::listed(Status::Complained, Reason::Complained)
            }
            Some(c) if TWILIO_BAD_NUMBER.contains(&c) => {
                Verdict::listed(Status::Bounced, Reason::Bounced)
            }
            _ => Verdict::to(Status::Undelivered),
        },
        "queued" | "accepted" | "scheduled" | "sending" | "sent" => Verdict::NOTE,
        // read, receiving, received, canceled, ...: not a sent message's fate.
        _ => return None,
    })
}

/// A SendGrid event webhook event (`event`, and `type` for bounces);
/// `None` for engagement events (open, click, ...) and `processed` /
/// `deferred`, which are not a message's fate and are not recorded.
pub fn sendgrid(event: &str, bounce_type: Option<&str>) -> Option<Verdict> {
    Some(match event {
        "delivered" => Verdict::to(Status::Delivered),
        // `type: blocked` is the receiving server refusing for now (IP
        // reputation, content); `bounce` (or no type) is the address.
        "bounce" if bounce_type == Some("blocked") => Verdict::to(Status::Undelivered),
        "bounce" => Verdict::listed(Status::Bounced, Reason::Bounced),
        "dropped" => Verdict::to(Status::Undelivered),
        "spamreport" => Verdict::listed(Status::Complained, Reason::Complained),
        _ => return None,
    })
}

/// A Postmark webhook (`RecordType`, and the bounce's `Type`); `None` for
/// opens, clicks and subscription changes.
pub fn postmark(record_type: &str, bounce_type: Option<&str>) -> Option<Verdict> {
    Some(match record_type {
        "Delivery" => Verdict::to(Status::Delivered),
        "Bounce" => match bounce_type.unwrap_or("") {
            "HardBounce" | "BadEmailAddress" | "ManuallyDeactivated" => {
                Verdict::listed(Status::Bounced, Reason::Bounced)
            }
            "SpamComplaint" => Verdict::listed(Status::Complained, Reason::Complained),
            // Auto-replies and notices are not failures: recorded only.
            "AutoResponder"
            | "Subscribe"
            | "Unsubscribe"
            | "AddressChange"
            | "OpenRelayTest"
            | "ChallengeVerification" => Verdict::NOTE,
            // SoftBounce, Transient, DnsError, Blocked, SpamNotification,
            // Unknown, ...: this message did not arrive.
            _ => Verdict::to(Status::Undelivered),
        },
        "SpamComplaint" => Verdict::listed(Status::Complained, Reason::Complained),
        _ => return None,
    })
}

/// An address as the suppression list keys it: email addresses trimmed
/// and lower-cased (providers compare them so), phone numbers trimmed.
pub fn listed_address(channel: Channel, address: &str) -> String {
    match channel {
        Channel::Email => address.trim().to_lowercase(),
        _ => address.trim().to_string(),
    }
}

/// Channels whose addresses the suppression list holds.
pub const LISTED_CHANNELS: [Channel; 2] = [Channel::Email, Channel::Sms];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_statuses_and_codes() {
        assert_eq!(
            twilio("delivered", None),
            Some(Verdict::to(Status::Delivered))
        );
        assert_eq!(
            twilio("undelivered", Some("30003")),
            Some(Verdict::to(Status::Undelivered))
        );
        assert_eq!(
            twilio("failed", Some("30006")),
            Some(Verdict::listed(Status::Bounced, Reason::Bounced))
        );
        assert_eq!(
            twilio("undelivered", Some("21610")),
            Some(Verdict::listed(Status::Complained, Reason::Complained))
        );
        assert_eq!(twilio("sent", Some("")), Some(Verdict::NOTE));
        assert_eq!(twilio("received", None), None);
    }

    #[test]
    fn sendgrid_events() {
        assert_eq!(
            sendgrid("bounce", Some("bounce")),
            Some(Verdict::listed(Status::Bounced, Reason::Bounced))
        );
        assert_eq!(
            sendgrid("bounce", None),
            Some(Verdict::listed(Status::Bounced, Reason::Bounced))
        );
        assert_eq!(
            sendgrid("bounce", Some("blocked")),
            Some(Verdict::to(Status::Undelivered))
        );
        assert_eq!(
            sendgrid("spamreport", None),
            Some(Verdict::listed(Status::Complained, Reason::Complained))
        );
        assert_eq!(sendgrid("open", None), None);
        assert_eq!(sendgrid("deferred", None), None);
    }

    #[test]
    fn postmark_records() {
        assert_eq!(
            postmark("Bounce", Some("HardBounce")),
            Some(Verdict::listed(Status::Bounced, Reason::Bounced))
        );
        assert_eq!(
            postmark("Bounce", Some("SoftBounce")),
            Some(Verdict::to(Status::Undelivered))
        );
        assert_eq!(
            postmark("Bounce", Some("AutoResponder")),
            Some(Verdict::NOTE)
        );
        assert_eq!(
            postmark("SpamComplaint", None),
            Some(Verdict::listed(Status::Complained, Reason::Complained))
        );
        assert_eq!(postmark("Open", None), None);
    }

    #[test]
    fn email_addresses_are_listed_lower_case() {
        assert_eq!(
            listed_address(Channel::Email, " Ana@Example.COM "),
            "ana@example.com"
        );
        assert_eq!(
            listed_address(Channel::Sms, "+8613800000000 "),
            "+8613800000000"
        );
    }
}
