//! Small shared helpers: time and ids.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A new time-ordered id (UUIDv7), so "newest first" is "id descending".
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// How far a delivery's id time may be from its `created_at`: the id is made
/// a little after `created_at` is taken (after the template and recipient
/// reads), and the clock may step back in between. Time filters widen their
/// id range by this much, so they never miss a row.
pub const ID_TIME_SLACK_MS: i64 = 10 * 60_000;

/// The smallest id [`new_id`] can make at `ms` (milliseconds since the
/// epoch): every id made at or after `ms` sorts at or after it.
pub fn id_floor(ms: i64) -> String {
    let ms = ms.clamp(0, (1 << 48) - 1);
    format!(
        "{:08x}-{:04x}-0000-0000-000000000000",
        ms >> 16,
        ms & 0xffff
    )
}

/// Milliseconds since the epoch → RFC 3339 (`2026-11-23T09:00:00.000Z`).
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn opt_rfc3339(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}

/// RFC 3339 → milliseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

#[cfg(test)]
mod id_tests {
    use super::*;
    use uuid::{NoContext, Timestamp, Uuid};

    fn v7_at(ms: i64) -> String {
        let ts = Timestamp::from_unix(
            NoContext,
            (ms / 1000) as u64,
            (ms % 1000) as u32 * 1_000_000,
        );
        Uuid::new_v7(ts).to_string()
    }

    #[test]
    fn id_floor_bounds_the_ids_made_at_that_millisecond() {
        for ms in [0, 1, 65_535, 65_536, 1_795_000_000_123, 1_795_000_065_535] {
            let id = v7_at(ms);
            assert!(id_floor(ms) <= id, "{} > {id}", id_floor(ms));
            assert!(id < id_floor(ms + 1), "{id} >= {}", id_floor(ms + 1));
            if ms > 0 {
                assert!(id_floor(ms - 1) < id_floor(ms));
            }
        }
        assert!(new_id() >= id_floor(now_ms() - ID_TIME_SLACK_MS));
    }
}
