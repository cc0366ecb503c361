//! Quiet hours: a daily window in the recipient's timezone (`22:00`–`08:00`
//! crosses midnight) during which `marketing` and `low` priority messages
//! wait. `auth` and `high` go at once.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

pub use crate::domain::QuietHours;
use crate::domain::{Category, Priority};

/// Whether quiet hours apply to a message of this category and priority.
pub fn applies(category: Category, priority: Priority) -> bool {
    category != Category::Auth
        && priority != Priority::High
        && (category == Category::Marketing || priority == Priority::Low)
}

fn clock(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// The UTC instant of a local wall-clock time; in a DST gap (the clock jumps
/// over it) the first instant after the gap.
pub(crate) fn at_local(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        // Clocks went back: the window ends at the later of the two.
        LocalResult::Ambiguous(_, late) => late.with_timezone(&Utc),
        LocalResult::None => {
            let mut probe = naive;
            loop {
                probe += Duration::minutes(15);
                if let LocalResult::Single(t) | LocalResult::Ambiguous(t, _) =
                    tz.from_local_datetime(&probe)
                {
                    return t.with_timezone(&Utc);
                }
            }
        }
    }
}

impl QuietHours {
    /// If `now` falls inside the window in `tz`, the instant it ends.
    pub fn until(&self, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (start, end) = (clock(&self.start)?, clock(&self.end)?);
        let local = now.with_timezone(&tz);
        let t = local.time();
        let today = local.date_naive();
        if start < end {
            // Same-day window, e.g. 12:00–14:00.
            (t >= start && t < end).then(|| at_local(tz, today, end))
        } else if t >= start {
            // Evening part of a window across midnight: ends tomorrow.
            Some(at_local(tz, today.succ_opt()?, end))
        } else if t < end {
            // Morning part: ends today.
            Some(at_local(tz, today, end))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn night() -> QuietHours {
        QuietHours {
            start: "22:00".into(),
            end: "08:00".into(),
        }
    }

    #[test]
    fn which_messages_wait() {
        assert!(applies(Category::Marketing, Priority::Normal));
        assert!(applies(Category::Transactional, Priority::Low));
        assert!(!applies(Category::Transactional, Priority::Normal));
        assert!(!applies(Category::Marketing, Priority::High));
        assert!(!applies(Category::Auth, Priority::Low));
    }

    #[test]
    fn a_window_across_midnight_in_shanghai() {
        let sh: Tz = "Asia/Shanghai".parse().unwrap();
        // 23:30 local (15:30 UTC): waits until 08:00 local tomorrow (00:00 UTC).
        assert_eq!(
            night().until(sh, utc("2026-11-23T15:30:00Z")),
            Some(utc("2026-11-24T00:00:00Z"))
        );
        // 06:00 local (22:00 UTC the day before): waits until 08:00 local the same day.
        assert_eq!(
            night().until(sh, utc("2026-11-23T22:00:00Z")),
            Some(utc("2026-11-24T00:00:00Z"))
        );
        // 12:00 local: not quiet.
        assert_eq!(night().until(sh, utc("2026-11-24T04:00:00Z")), None);
        // Exactly at the end: not quiet; exactly at the start: quiet.
        assert_eq!(night().until(sh, utc("2026-11-24T00:00:00Z")), None);
        assert!(night().until(sh, utc("2026-11-24T14:00:00Z")).is_some());
    }

    #[test]
    fn new_york_across_the_daylight_saving_changes() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08: clocks jump from 02:00 to 03:00 EST→EDT. At 23:00 EST on
        // the 7th (04:00 UTC on the 8th), the window ends 08:00 EDT = 12:00 UTC.
        assert_eq!(
            night().until(ny, utc("2026-03-08T04:00:00Z")),
            Some(utc("2026-03-08T12:00:00Z"))
        );
        // 2026-11-01: clocks fall back 02:00 EDT→01:00 EST. From 23:00 EDT on
        // Oct 31 (03:00 UTC Nov 1), the end is 08:00 EST = 13:00 UTC.
        assert_eq!(
            night().until(ny, utc("2026-11-01T03:00:00Z")),
            Some(utc("2026-11-01T13:00:00Z"))
        );
        // A window ending inside the spring gap (02:30 does not exist that
        // night) ends at the first instant after it: 03:00 EDT = 07:00 UTC.
        let q = QuietHours {
            start: "22:00".into(),
            end: "02:30".into(),
        };
        assert_eq!(
            q.until(ny, utc("2026-03-08T04:00:00Z")),
            Some(utc("2026-03-08T07:00:00Z"))
        );
    }

    #[test]
    fn a_same_day_window() {
        let q = QuietHours {
            start: "12:00".into(),
            end: "14:00".into(),
        };
        assert_eq!(
            q.until(chrono_tz::UTC, utc("2026-11-23T13:00:00Z")),
            Some(utc("2026-11-23T14:00:00Z"))
        );
        assert_eq!(q.until(chrono_tz::UTC, utc("2026-11-23T14:00:00Z")), None);
    }
}
