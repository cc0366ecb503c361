//! What accepting a send decides for each recipient and channel, as pure
//! functions: whether the delivery is suppressed, waits for quiet hours or
//! goes at its time; which dedup scope holds it and until when; which
//! frequency cap counts it. `service::send` renders and stores; the store
//! then enforces the dedup scope and the cap atomically against what other
//! sends already hold.

use std::collections::BTreeMap;

use super::dedup::{content_scope, dedup_scope};
use super::preferences::Preferences;
use super::quiet_hours;
use crate::domain::{Category, Channel, Priority, QuietHours, Rate, Reason, Status};

/// Whether a delivery is made at all: not without an address for its
/// channel (`no_address`), nor to a recipient who opted out of its channel
/// or category (`preference`; never for `auth`), nor to an address on the
/// suppression list (`listed`: `bounced` or `complained`, for every
/// category: a provider would refuse it or count it against the sender).
pub fn admit(
    has_address: bool,
    preferences: &Preferences,
    listed: Option<Reason>,
    channel: Channel,
    category: Category,
) -> Result<(), Reason> {
    if !has_address {
        Err(Reason::NoAddress)
    } else if !preferences.allows(channel, category) {
        Err(Reason::Preference)
    } else if let Some(reason) = listed {
        Err(reason)
    } else {
        Ok(())
    }
}

/// When an admitted delivery goes: at `due_at` with `status` (queued, or
/// scheduled for a later `send_at`), unless it falls in the recipient's
/// quiet hours (theirs, else the default) and its category and priority
/// wait for them: then scheduled until they end (`quiet_hours`).
pub fn schedule(
    status: Status,
    due_at: i64,
    quiet: Option<&QuietHours>,
    timezone: Option<&str>,
    category: Category,
    priority: Priority,
) -> (Status, Option<Reason>, i64) {
    match quiet_until(quiet, timezone, category, priority, due_at) {
        Some(until) => (Status::Scheduled, Some(Reason::QuietHours), until),
        None => (status, None, due_at),
    }
}

fn quiet_until(
    quiet: Option<&QuietHours>,
    timezone: Option<&str>,
    category: Category,
    priority: Priority,
    due_at: i64,
) -> Option<i64> {
    if !quiet_hours::applies(category, priority) {
        return None;
    }
    let quiet = quiet?;
    let tz: chrono_tz::Tz = timezone.unwrap_or("UTC").parse().ok()?;
    let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(due_at)?;
    quiet.until(tz, at).map(|t| t.timestamp_millis())
}

/// The dedup scope a waiting delivery holds, and until when: its
/// `dedup_key`'s, else its rendered content's when the template asks for
/// content dedup. Suppressed deliveries hold none.
#[allow(clippy::too_many_arguments)]
pub fn dedup(
    status: Status,
    dedup_key: Option<&str>,
    content_dedup: bool,
    content: &str,
    recipient: &str,
    channel: Channel,
    now: i64,
    window_ms: i64,
) -> Option<(String, i64)> {
    if !matches!(status, Status::Queued | Status::Scheduled) {
        return None;
    }
    match dedup_key {
        Some(key) => Some((
            dedup_scope(key, recipient, channel.as_str()),
            now + window_ms,
        )),
        None if content_dedup => Some((
            content_scope(content, recipient, channel.as_str()),
            now + window_ms,
        )),
        None => None,
    }
}

/// The frequency cap a delivery counts against: (count, window ms, the
/// template's key when the cap is the template's own). A template's cap
/// wins over its category's.
pub fn cap(
    template_cap: Option<Rate>,
    template_key: Option<&str>,
    caps: &BTreeMap<String, Rate>,
    category: Category,
) -> Option<(i64, i64, Option<String>)> {
    match template_cap {
        Some(r) => Some((
            r.count as i64,
            r.per.as_millis() as i64,
            template_key.map(str::to_string),
        )),
        None => caps
            .get(category.as_str())
            .map(|r| (r.count as i64, r.per.as_millis() as i64, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_address_then_opt_outs_suppress_except_auth() {
        let p = Preferences::from_json(r#"{"channels": {"sms": false}}"#);
        let t = Category::Transactional;
        assert_eq!(
            admit(false, &p, None, Channel::Email, t),
            Err(Reason::NoAddress)
        );
        assert_eq!(
            admit(true, &p, None, Channel::Sms, t),
            Err(Reason::Preference)
        );
        assert_eq!(admit(true, &p, None, Channel::Sms, Category::Auth), Ok(()));
        assert_eq!(admit(true, &p, None, Channel::Email, t), Ok(()));
        // A listed address is suppressed in every category.
        let listed = Some(Reason::Bounced);
        assert_eq!(
            admit(true, &p, listed, Channel::Email, Category::Auth),
            Err(Reason::Bounced)
        );
    }

    #[test]
    fn marketing_waits_for_the_end_of_quiet_hours_in_the_recipients_zone() {
        let night = QuietHours {
            start: "22:00".into(),
            end: "08:00".into(),
        };
        // 23:30 in Shanghai (15:30 UTC): until 08:00 there (00:00 UTC).
        let due = 1_795_447_800_000; // 2026-11-23T15:30:00Z
        let (s, r, at) = schedule(
            Status::Queued,
            due,
            Some(&night),
            Some("Asia/Shanghai"),
            Category::Marketing,
            Priority::Normal,
        );
        assert_eq!((s, r), (Status::Scheduled, Some(Reason::QuietHours)));
        assert_eq!(at, 1_795_478_400_000); // 2026-11-24T00:00:00Z
                                           // Transactional at normal priority goes at once; so does anything
                                           // without quiet hours.
        let go = (Status::Queued, None, due);
        let tx = (Category::Transactional, Priority::Normal);
        assert_eq!(
            schedule(
                Status::Queued,
                due,
                Some(&night),
                Some("Asia/Shanghai"),
                tx.0,
                tx.1
            ),
            go
        );
        assert_eq!(
            schedule(
                Status::Queued,
                due,
                None,
                None,
                Category::Marketing,
                Priority::Low
            ),
            go
        );
    }

    #[test]
    fn a_dedup_key_wins_over_content_and_only_waiting_deliveries_hold_one() {
        let d = |status, key, content_dedup| {
            dedup(status, key, content_dedup, "x", "u", Channel::Sms, 10, 5)
        };
        let k = d(Status::Queued, Some("o-1"), true);
        assert_eq!(k, Some((dedup_scope("o-1", "u", "sms"), 15)));
        let c = d(Status::Scheduled, None, true);
        assert_eq!(c, Some((content_scope("x", "u", "sms"), 15)));
        assert_eq!(d(Status::Queued, None, false), None);
        assert_eq!(d(Status::Suppressed, Some("o-1"), true), None);
    }

    #[test]
    fn a_templates_cap_wins_over_its_categorys() {
        let caps = BTreeMap::from([("marketing".to_string(), Rate::parse("3/1d").unwrap())]);
        let own = Rate::parse("1/1h").unwrap();
        assert_eq!(
            cap(Some(own), Some("promo"), &caps, Category::Marketing),
            Some((1, 3_600_000, Some("promo".into())))
        );
        assert_eq!(
            cap(None, Some("promo"), &caps, Category::Marketing),
            Some((3, 86_400_000, None))
        );
        assert_eq!(cap(None, None, &caps, Category::Transactional), None);
    }
}
