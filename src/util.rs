//! Small shared helpers: time, ids and URLs.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
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

/// Parses `s` as a URL, remembering the URLs it parsed lately. A webhook
/// address is parsed when its send is accepted, when its destination's
/// rate is looked up and when it is sent to, and most deliveries go to an
/// address seen before: taken from here, it is a copy instead of a parse
/// (which runs IDNA processing on every host). Only addresses that parse
/// are kept, none over 512 bytes, and at most 4,096, forgotten all at
/// once when full, so what callers send can't make it grow.
pub fn parse_url(s: &str) -> Result<url::Url, url::ParseError> {
    const LONGEST: usize = 512;
    if let Some(u) = parsed_urls().get(s) {
        return Ok(u.clone());
    }
    let u = url::Url::parse(s)?;
    if s.len() <= LONGEST {
        let mut seen = parsed_urls();
        if seen.len() >= URLS_KEPT {
            seen.clear();
        }
        seen.insert(s.into(), u.clone());
    }
    Ok(u)
}

const URLS_KEPT: usize = 4096;

fn parsed_urls() -> std::sync::MutexGuard<'static, HashMap<Box<str>, url::Url>> {
    static SEEN: LazyLock<Mutex<HashMap<Box<str>, url::Url>>> = LazyLock::new(Default::default);
    SEEN.lock().unwrap_or_else(|e| e.into_inner())
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

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn a_remembered_url_is_the_url_a_parse_gives() {
        let long = format!("http://example.com/{}", "a".repeat(600));
        for s in [
            "http://127.0.0.1:9999/hook",
            "https://Bücher.example/pfad?q=1#x",
            "HTTP://EXAMPLE.COM:80/a/../b",
            long.as_str(),
        ] {
            for _ in 0..2 {
                assert_eq!(parse_url(s).unwrap(), url::Url::parse(s).unwrap(), "{s}");
            }
        }
        for bad in ["", "not a url", "http://[::1", "http://exa mple.com/"] {
            for _ in 0..2 {
                assert_eq!(parse_url(bad).err(), url::Url::parse(bad).err(), "{bad}");
            }
        }
    }

    #[test]
    fn what_is_remembered_is_bounded() {
        for i in 0..URLS_KEPT + 500 {
            parse_url(&format!("http://h{i}.example/")).unwrap();
            assert!(parsed_urls().len() <= URLS_KEPT);
        }
        parse_url(&format!("http://example.com/{}", "a".repeat(600))).unwrap();
        assert!(parsed_urls().keys().all(|k| k.len() <= 512));
    }
}
