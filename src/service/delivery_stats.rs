//! Delivery statistics for the API (`GET /v1/stats`) and the console's
//! Stats page: the per-minute rows of a window summed per template,
//! channel or provider, with failure rates, suppression reasons,
//! accepted-to-sent percentiles and a time series. See
//! docs/decisions/0033-delivery-statistics.md.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AppState, Error, Result};
use crate::domain::{FieldError, Status};
use crate::store::stats::{bucket_bound, GroupBy, StatsRow, BUCKETS, HOUR, MINUTE};
use crate::util::{parse_rfc3339, rfc3339};

const DAY: i64 = 24 * HOUR;
/// The oldest `since` asked for.
const MAX_SPAN: i64 = 92 * DAY;
/// Groups answered at most, the largest first.
pub const MAX_GROUPS: usize = 500;

/// What to count. Unknown parameters are refused.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// `template` (default), `channel` or `provider`.
    pub group_by: Option<String>,
    /// `1h`, `24h` (default) or `7d`: the window ending now.
    pub window: Option<String>,
    /// RFC 3339, at most 92 days ago: the window from then to now
    /// (instead of `window`).
    pub since: Option<String>,
}

/// A window, checked.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub group_by: GroupBy,
    /// The start of the first minute counted (ms).
    pub since: i64,
    pub until: i64,
    /// The width of one point of the series (ms).
    pub slot_ms: i64,
    pub slots: usize,
}

impl StatsQuery {
    /// The window asked for, at `now`; bad parameters are named.
    pub fn window(&self, now: i64) -> Result<Window> {
        let mut errors = Vec::new();
        let group_by = match self.group_by.as_deref() {
            None => GroupBy::Template,
            Some(g) => GroupBy::parse(g).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    "group_by",
                    "must be `template`, `channel` or `provider`",
                ));
                GroupBy::Template
            }),
        };
        let span = match self.window.as_deref() {
            None | Some("24h") => DAY,
            Some("1h") => HOUR,
            Some("7d") => 7 * DAY,
            Some(_) => {
                errors.push(FieldError::new("window", "must be `1h`, `24h` or `7d`"));
                DAY
            }
        };
        let since = match &self.since {
            None => now - span,
            Some(_) if self.window.is_some() => {
                errors.push(FieldError::new(
                    "since",
                    "give either `since` or `window`, not both",
                ));
                now - span
            }
            Some(s) => match parse_rfc3339(s) {
                Some(t) if t > now => {
                    errors.push(FieldError::new("since", "must not be in the future"));
                    now - span
                }
                Some(t) if now - t > MAX_SPAN => {
                    errors.push(FieldError::new("since", "must be at most 92 days ago"));
                    now - span
                }
                Some(t) => t,
                None => {
                    errors.push(FieldError::new(
                        "since",
                        "must be an RFC 3339 time such as 2026-11-23T09:00:00Z",
                    ));
                    now - span
                }
            },
        };
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let since = since - since.rem_euclid(MINUTE);
        let slot_ms = match now - since {
            s if s <= 2 * HOUR => MINUTE,
            s if s <= 8 * DAY => HOUR,
            _ => DAY,
        };
        let slots = ((now - since) / slot_ms + 1) as usize;
        Ok(Window {
            group_by,
            since,
            until: now,
            slot_ms,
            slots,
        })
    }
}

/// Accepted-to-sent times of `sent` deliveries: the upper bound of the
/// log2 bucket the percentile falls in.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Latency {
    /// Milliseconds; none when nothing was sent.
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
}

/// One template's, channel's or provider's numbers over the window.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GroupStats {
    /// The template key (`inline` for inline content), channel, or
    /// provider (`none` for deliveries suppressed before any attempt).
    pub key: String,
    /// Deliveries that finished in the window (sent, failed, suppressed).
    pub total: i64,
    /// Outcomes by status, including `retrying` (attempts that failed and
    /// will be tried again, which `total` leaves out).
    pub counts: BTreeMap<String, i64>,
    /// `failed / (sent + failed)`; 0 when neither.
    pub failure_rate: f64,
    /// Suppressed deliveries by reason.
    pub suppression_reasons: BTreeMap<String, i64>,
    pub latency: Latency,
    /// Finished deliveries per point (`bucket_seconds` each), oldest first.
    pub series: Vec<i64>,
    /// Failed deliveries per point.
    pub failed_series: Vec<i64>,
}

/// Delivery statistics over a window.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StatsReport {
    /// `template`, `channel` or `provider`.
    pub group_by: String,
    /// RFC 3339: the start of the first minute counted.
    pub since: String,
    /// RFC 3339: now.
    pub until: String,
    /// The width of one point of each series: 60 (up to 2 hours), 3600
    /// (up to 8 days) or 86400.
    pub bucket_seconds: i64,
    /// The largest first; at most 500.
    pub groups: Vec<GroupStats>,
}

/// The rows summed into a report.
pub fn report(w: &Window, rows: &[StatsRow]) -> StatsReport {
    struct Acc {
        g: GroupStats,
        h: [i64; BUCKETS],
        sent: i64,
        failed: i64,
    }
    let mut groups: BTreeMap<&str, Acc> = BTreeMap::new();
    for r in rows {
        let a = groups.entry(r.group.as_str()).or_insert_with(|| Acc {
            g: GroupStats {
                key: match (w.group_by, r.group.as_str()) {
                    (GroupBy::Template, "") => "inline".into(),
                    (_, "") => "none".into(),
                    (_, k) => k.into(),
                },
                total: 0,
                counts: BTreeMap::new(),
                failure_rate: 0.0,
                suppression_reasons: BTreeMap::new(),
                latency: Latency::default(),
                series: vec![0; w.slots],
                failed_series: vec![0; w.slots],
            },
            h: [0; BUCKETS],
            sent: 0,
            failed: 0,
        });
        *a.g.counts.entry(r.status.clone()).or_default() += r.n;
        // A receipt's status (delivered, bounced, …) is counted beside the
        // `sent` it follows, not as a second finished delivery.
        let finished = Status::parse(&r.status)
            .is_ok_and(|s| s.is_final() && (s == Status::Sent || !s.was_sent()));
        let slot = (r.slot.max(0) as usize).min(w.slots - 1);
        if finished {
            a.g.total += r.n;
            a.g.series[slot] += r.n;
        }
        if r.status == Status::Sent.as_str() {
            a.sent += r.n;
        } else if r.status == Status::Failed.as_str() {
            a.failed += r.n;
            a.g.failed_series[slot] += r.n;
        } else if r.status == Status::Suppressed.as_str() {
            let reason = if r.reason.is_empty() {
                "unknown"
            } else {
                &r.reason
            };
            *a.g.suppression_reasons.entry(reason.into()).or_default() += r.n;
        }
        for (t, v) in a.h.iter_mut().zip(r.h) {
            *t += v;
        }
    }
    let mut out: Vec<GroupStats> = groups
        .into_values()
        .map(|mut a| {
            if a.sent + a.failed > 0 {
                a.g.failure_rate = a.failed as f64 / (a.sent + a.failed) as f64;
            }
            a.g.latency = Latency {
                p50_ms: percentile(&a.h, 0.50),
                p95_ms: percentile(&a.h, 0.95),
            };
            a.g
        })
        .collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)));
    out.truncate(MAX_GROUPS);
    StatsReport {
        group_by: w.group_by.as_str().into(),
        since: rfc3339(w.since),
        until: rfc3339(w.until),
        bucket_seconds: w.slot_ms / 1000,
        groups: out,
    }
}

/// The upper bound of the bucket holding the `p` quantile.
pub fn percentile(h: &[i64; BUCKETS], p: f64) -> Option<i64> {
    let total: i64 = h.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * p).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (i, n) in h.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(bucket_bound(i));
        }
    }
    Some(bucket_bound(BUCKETS - 1))
}

impl AppState {
    /// The statistics of `w`.
    pub async fn delivery_stats(&self, w: &Window) -> Result<StatsReport> {
        let rows = self
            .store
            .delivery_stats(w.group_by, w.since, w.slot_ms)
            .await?;
        Ok(report(w, &rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_bucket_bounds() {
        let mut h = [0; BUCKETS];
        assert_eq!(percentile(&h, 0.5), None);
        h[3] = 50;
        h[10] = 50;
        assert_eq!(percentile(&h, 0.5), Some(8));
        assert_eq!(percentile(&h, 0.95), Some(1024));
    }

    #[test]
    fn windows_choose_their_points() {
        let now = 1_800_000_000_000;
        let q = |g: Option<&str>, w: Option<&str>, s: Option<&str>| StatsQuery {
            group_by: g.map(Into::into),
            window: w.map(Into::into),
            since: s.map(Into::into),
        };
        let w = q(None, Some("1h"), None).window(now).unwrap();
        assert_eq!((w.slot_ms, w.slots), (MINUTE, 61));
        let w = q(Some("provider"), Some("7d"), None).window(now).unwrap();
        assert_eq!(
            (w.group_by, w.slot_ms, w.slots),
            (GroupBy::Provider, HOUR, 169)
        );
        let field = |r: Result<Window>| match r {
            Err(Error::Invalid(e)) => e[0].field.clone(),
            _ => panic!("refused"),
        };
        assert_eq!(field(q(Some("x"), None, None).window(now)), "group_by");
        assert_eq!(field(q(None, Some("2h"), None).window(now)), "window");
        assert_eq!(field(q(None, None, Some("yesterday")).window(now)), "since");
        assert_eq!(
            field(q(None, Some("1h"), Some("2020-01-01T00:00:00Z")).window(now)),
            "since"
        );
    }
}
