//! When a digest's window closes: a fixed time after its first event, or
//! the next calendar time (`daily 09:00`, `weekly mon 09:00`) in the
//! recipient's timezone, with DST handled as quiet hours handle it.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};
use chrono_tz::Tz;

use super::quiet_hours::at_local;
use crate::domain::workflow::Window;

/// The instant a window opened at `opened` closes, for a recipient in
/// `tz`: always after `opened`.
pub fn closes_at(window: &Window, opened: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    match *window {
        Window::Fixed(d) => opened + Duration::from_std(d).unwrap_or(Duration::days(31)),
        Window::Calendar { weekday, minute } => {
            let time = NaiveTime::from_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)
                .unwrap_or(NaiveTime::MIN);
            let mut date = opened.with_timezone(&tz).date_naive();
            // At most eight days ahead: a week, and today's time passed.
            for _ in 0..9 {
                let on_day =
                    weekday.is_none_or(|w| date.weekday().num_days_from_monday() == u32::from(w));
                if on_day {
                    let t = at_local(tz, date, time);
                    if t > opened {
                        return t;
                    }
                }
                date = date.succ_opt().unwrap_or(date);
            }
            opened + Duration::days(7)
        }
        // Checked to match within a year when the definition was read.
        Window::Cron(ref cron) => cron
            .find_next_occurrence(&opened.with_timezone(&tz), false)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(opened + Duration::days(366)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration as StdDuration;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_fixed_window_closes_after_its_length() {
        let w = Window::Fixed(StdDuration::from_secs(3600));
        assert_eq!(
            closes_at(&w, utc("2026-12-03T10:15:00Z"), chrono_tz::UTC),
            utc("2026-12-03T11:15:00Z")
        );
    }

    #[test]
    fn a_daily_window_closes_at_the_next_local_time() {
        let sh: Tz = "Asia/Shanghai".parse().unwrap();
        let nine = Window::Calendar {
            weekday: None,
            minute: 9 * 60,
        };
        // 08:00 in Shanghai (00:00 UTC): today at 09:00 local.
        assert_eq!(
            closes_at(&nine, utc("2026-12-03T00:00:00Z"), sh),
            utc("2026-12-03T01:00:00Z")
        );
        // 09:00 exactly: tomorrow, so a window never closes as it opens.
        assert_eq!(
            closes_at(&nine, utc("2026-12-03T01:00:00Z"), sh),
            utc("2026-12-04T01:00:00Z")
        );
    }

    #[test]
    fn a_weekly_window_closes_on_its_day() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // Monday 09:30 in New York.
        let monday = Window::Calendar {
            weekday: Some(0),
            minute: 9 * 60 + 30,
        };
        // Thursday 2026-12-03 → Monday 2026-12-07, 14:30 UTC (EST).
        assert_eq!(
            closes_at(&monday, utc("2026-12-03T12:00:00Z"), ny),
            utc("2026-12-07T14:30:00Z")
        );
        // On Monday after 09:30: the next Monday.
        assert_eq!(
            closes_at(&monday, utc("2026-12-07T15:00:00Z"), ny),
            utc("2026-12-14T14:30:00Z")
        );
    }

    #[test]
    fn a_cron_window_closes_at_its_next_match_in_the_recipients_timezone() {
        let sh: Tz = "Asia/Shanghai".parse().unwrap();
        let weekdays_at_nine = Window::Cron(Box::new("0 9 * * 1-5".parse().unwrap()));
        // Friday 2026-12-04 10:00 in Shanghai (02:00 UTC): Monday 09:00.
        assert_eq!(
            closes_at(&weekdays_at_nine, utc("2026-12-04T02:00:00Z"), sh),
            utc("2026-12-07T01:00:00Z")
        );
        // Exactly at a match: the next one.
        assert_eq!(
            closes_at(&weekdays_at_nine, utc("2026-12-07T01:00:00Z"), sh),
            utc("2026-12-08T01:00:00Z")
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_closes_just_after_it() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08: clocks jump from 02:00 to 03:00 in New York.
        let half_past_two = Window::Calendar {
            weekday: None,
            minute: 2 * 60 + 30,
        };
        // The first quarter hour after the gap: 03:00 EDT, 07:00 UTC.
        assert_eq!(
            closes_at(&half_past_two, utc("2026-03-08T05:00:00Z"), ny),
            utc("2026-03-08T07:00:00Z")
        );
    }

    #[test]
    fn a_window_across_the_autumn_change_closes_at_the_local_time() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // Opened Saturday 2026-10-31 20:00 EDT (UTC-4); the clocks go back
        // at 02:00 on Sunday, so 09:00 on Sunday is EST (UTC-5): 14:00 UTC,
        // 18 hours after opening, not 13 or 17.
        let nine = Window::Calendar {
            weekday: None,
            minute: 9 * 60,
        };
        assert_eq!(
            closes_at(&nine, utc("2026-11-01T00:00:00Z"), ny),
            utc("2026-11-01T14:00:00Z")
        );
        // A cron window the same: 09:00 local, every day.
        let cron = crate::domain::workflow::parse_schedule("0 9 * * *").unwrap();
        assert_eq!(
            closes_at(&cron, utc("2026-11-01T00:00:00Z"), ny),
            utc("2026-11-01T14:00:00Z")
        );
    }
}
