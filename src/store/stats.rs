//! Delivery statistics: counts per minute, template, channel, provider,
//! status and reason, with a histogram of accepted-to-sent times, in
//! `delivery_stats`. The writer adds them up in memory per batch
//! ([`Tally`]) and upserts one row per key in the transaction that writes
//! the outcomes and suppressions they count, and the same counts per hour
//! in `delivery_stats_hourly`; reads sum the hours and minutes of a
//! window. See docs/decisions/0033-delivery-statistics.md.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::Row as _;

use super::dialect::{Dialect, Engine, Rows, RowsAffected, Write};
use super::{Completion, NewDelivery, StoreResult};
use crate::domain::Status;

/// Latency buckets: `h0` holds times up to 1 ms, `hN` up to 2^N ms, the
/// last everything longer than 2^(BUCKETS-2) ms.
pub const BUCKETS: usize = 20;

/// The width of the rows of `delivery_stats` and of `delivery_stats_hourly` (ms).
pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;

/// The latency bucket of `ms`.
pub fn bucket(ms: i64) -> usize {
    if ms <= 1 {
        return 0;
    }
    let up = 64 - (ms - 1).leading_zeros() as usize;
    up.min(BUCKETS - 1)
}

/// The upper bound (ms) of bucket `i`; the last is open, so it is given as
/// twice the one before.
pub fn bucket_bound(i: usize) -> i64 {
    1i64 << i.min(BUCKETS - 1)
}

/// A row's key: minute, template (`""` inline), channel, provider,
/// status, reason (`""` none).
type Key = (i64, String, String, String, &'static str, String);

#[derive(Clone, Debug, Default)]
struct Counts {
    n: i64,
    h: [i64; BUCKETS],
}

/// One batch's statistics, added up in memory: one row per key.
#[derive(Default)]
pub struct Tally {
    rows: BTreeMap<Key, Counts>,
}

impl Tally {
    /// An attempt's outcome, written at `now`.
    pub fn outcome(&mut self, c: &Completion, now: i64) {
        let key = (
            now - now.rem_euclid(MINUTE),
            c.template.clone().unwrap_or_default(),
            c.channel.clone(),
            c.attempt.provider.clone(),
            c.status,
            c.reason.clone().unwrap_or_default(),
        );
        let e = self.rows.entry(key).or_default();
        e.n += 1;
        if c.status == Status::Sent.as_str() {
            e.h[bucket(now - c.accepted_at)] += 1;
        }
    }

    /// A delivery written already finished (suppressed as it was
    /// accepted), at `now`.
    pub fn accepted(&mut self, d: &NewDelivery, now: i64) {
        let Ok(status) = Status::parse(d.status) else {
            return;
        };
        if !status.is_final() {
            return;
        }
        let key = (
            now - now.rem_euclid(MINUTE),
            d.template_key.clone().unwrap_or_default(),
            d.channel.clone(),
            String::new(),
            status.as_str(),
            d.reason.clone().unwrap_or_default(),
        );
        self.rows.entry(key).or_default().n += 1;
    }

    /// A delivery moved on to `status` at `now` by something other than an
    /// attempt: a receipt (delivered, bounced, …; counted beside the
    /// `sent` it follows) or a cancel.
    pub fn moved(
        &mut self,
        template: Option<String>,
        channel: String,
        provider: Option<String>,
        status: Status,
        now: i64,
    ) {
        let key = (
            now - now.rem_euclid(MINUTE),
            template.unwrap_or_default(),
            channel,
            provider.unwrap_or_default(),
            status.as_str(),
            String::new(),
        );
        self.rows.entry(key).or_default().n += 1;
    }

    /// Writes the rows in `tx`, the transaction of what they count.
    pub async fn apply<D: Dialect>(self, tx: &mut sqlx::Transaction<'_, D>) -> StoreResult<()> {
        for w in self.write(D::STATS_SHARDS) {
            let mut q = sqlx::QueryBuilder::<D>::new("");
            w.push(&mut q);
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Deliveries cancelled at `now`, as (template, channel); the rows of
    /// jobs (a fan-out, a workflow run) are not deliveries and are left out.
    pub fn cancelled(&mut self, rows: &[(Option<String>, String)], now: i64) {
        for (template, channel) in rows {
            if crate::domain::Channel::parse(channel).is_ok() {
                self.moved(
                    template.clone(),
                    channel.clone(),
                    None,
                    Status::Cancelled,
                    now,
                );
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The upserts of every row, in key order (so writers that run side by
    /// side take the rows' locks in the same order): the minutes into
    /// `delivery_stats`, then the same counts rolled up per hour into
    /// `delivery_stats_hourly`. `shards` spreads concurrent writers over
    /// rows of their own.
    pub fn write(self, shards: i64) -> Vec<Write<'static>> {
        if self.rows.is_empty() {
            return Vec::new();
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let shard = (NEXT.fetch_add(1, Ordering::Relaxed) as i64).rem_euclid(shards.max(1));
        let mut hours: BTreeMap<Key, Counts> = BTreeMap::new();
        for ((minute, template, channel, provider, status, reason), c) in &self.rows {
            let key = (
                minute - minute.rem_euclid(HOUR),
                template.clone(),
                channel.clone(),
                provider.clone(),
                *status,
                reason.clone(),
            );
            let e = hours.entry(key).or_default();
            e.n += c.n;
            for (t, v) in e.h.iter_mut().zip(c.h) {
                *t += v;
            }
        }
        static MINUTES: LazyLock<(String, String)> =
            LazyLock::new(|| upsert("delivery_stats", "minute"));
        static HOURS: LazyLock<(String, String)> =
            LazyLock::new(|| upsert("delivery_stats_hourly", "hour"));
        vec![
            Write::insert(&MINUTES.0, rows(self.rows, shard), &MINUTES.1),
            Write::insert(&HOURS.0, rows(hours, shard), &HOURS.1),
        ]
    }
}

/// The rows of `counts`, in key order, in `shard`.
fn rows(counts: BTreeMap<Key, Counts>, shard: i64) -> Rows<'static> {
    let mut rows = Rows::default();
    for ((at, template, channel, provider, status, reason), c) in counts {
        let r = rows
            .row()
            .int(at)
            .text(template)
            .text(channel)
            .text(provider)
            .text(status.to_string())
            .text(reason)
            .int(shard)
            .int(c.n);
        c.h.iter().fold(r, |r, h| r.int(*h));
    }
    rows
}

/// The head and tail of the upsert into `table`, whose time column is
/// `at`: counts add to the row already there.
fn upsert(table: &str, at: &str) -> (String, String) {
    (
        format!(
            "INSERT INTO {table} ({at}, template, channel, provider, status, reason, shard, n, \
             {}) ",
            hs(|i| format!("h{i}"))
        ),
        format!(
            " ON CONFLICT ({at}, template, channel, provider, status, reason, shard) DO UPDATE \
             SET n = {table}.n + excluded.n, {}",
            hs(|i| format!("h{i} = {table}.h{i} + excluded.h{i}"))
        ),
    )
}

fn hs(f: impl Fn(usize) -> String) -> String {
    (0..BUCKETS).map(f).collect::<Vec<_>>().join(", ")
}

/// What statistics are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Template,
    Channel,
    Provider,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "template" => Some(GroupBy::Template),
            "channel" => Some(GroupBy::Channel),
            "provider" => Some(GroupBy::Provider),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Template => "template",
            GroupBy::Channel => "channel",
            GroupBy::Provider => "provider",
        }
    }
}

/// Summed counts of one group, status, reason and time slot.
#[derive(Clone, Debug)]
pub struct StatsRow {
    /// The template (`""` inline), channel or provider (`""` none).
    pub group: String,
    pub status: String,
    pub reason: String,
    /// The slot: `(minute - since) / slot_ms` (of the hour's start for
    /// hourly rows).
    pub slot: i64,
    pub n: i64,
    pub h: [i64; BUCKETS],
}

/// Reading and purging the statistics.
#[async_trait]
pub trait Stats: Send + Sync + 'static {
    /// Counts from `since` (a minute's start) on, summed per group,
    /// status, reason and slot of `slot_ms` (a row's slot is that of the
    /// start of its minute, or of its hour). With slots of an hour or
    /// more, whole hours are read from `delivery_stats_hourly` and only
    /// the minutes before the first whole hour from `delivery_stats`.
    async fn delivery_stats(
        &self,
        group_by: GroupBy,
        since: i64,
        slot_ms: i64,
    ) -> StoreResult<Vec<StatsRow>>;

    /// Deletes the minutes before `before`, and the hours that ended
    /// before it.
    async fn purge_stats(&self, before: i64) -> StoreResult<u64>;
}

#[async_trait]
impl<S, D> Stats for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn delivery_stats(
        &self,
        group_by: GroupBy,
        since: i64,
        slot_ms: i64,
    ) -> StoreResult<Vec<StatsRow>> {
        let col = group_by.as_str();
        let slot_ms = slot_ms.max(MINUTE);
        // Per-hour (or per-day) points read whole hours from the hourly
        // rows, from `since` rounded up to the hour, and the minutes before
        // that; per-minute points read only minutes.
        let cut = if slot_ms >= HOUR {
            since + (HOUR - since.rem_euclid(HOUR)) % HOUR
        } else {
            i64::MAX
        };
        let cols = hs(|i| format!("h{i}"));
        let sql = format!(
            "SELECT g, status, reason, slot, CAST(SUM(n) AS BIGINT) AS n, {} FROM (SELECT {col} \
             AS g, status, reason, (minute - $1) / $2 AS slot, n, {cols} FROM delivery_stats \
             WHERE minute >= $1 AND minute < $3 UNION ALL SELECT {col} AS g, status, reason, \
             (hour - $1) / $2 AS slot, n, {cols} FROM delivery_stats_hourly WHERE hour >= $3) \
             AS s GROUP BY 1, 2, 3, 4",
            hs(|i| format!("CAST(SUM(h{i}) AS BIGINT) AS h{i}"))
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .bind(slot_ms)
            .bind(cut)
            .fetch_all(self.reader())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut h = [0i64; BUCKETS];
            for (i, v) in h.iter_mut().enumerate() {
                *v = r.try_get::<i64, _>(5 + i)?;
            }
            out.push(StatsRow {
                group: r.try_get::<String, _>(0)?,
                status: r.try_get::<String, _>(1)?,
                reason: r.try_get::<String, _>(2)?,
                slot: r.try_get::<i64, _>(3)?,
                n: r.try_get::<i64, _>(4)?,
                h,
            });
        }
        Ok(out)
    }

    async fn purge_stats(&self, before: i64) -> StoreResult<u64> {
        let minutes = sqlx::query("DELETE FROM delivery_stats WHERE minute < $1")
            .bind(before)
            .execute(self.writer())
            .await?
            .rows_affected();
        // Hours that ended before `before`.
        let hours = sqlx::query("DELETE FROM delivery_stats_hourly WHERE hour <= $1")
            .bind(before - HOUR)
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(minutes + hours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 0);
        assert_eq!(bucket(2), 1);
        assert_eq!(bucket(3), 2);
        assert_eq!(bucket(4), 2);
        assert_eq!(bucket(5), 3);
        assert_eq!(bucket(1024), 10);
        assert_eq!(bucket(1025), 11);
        assert_eq!(bucket(i64::MAX), BUCKETS - 1);
        for i in 0..BUCKETS - 1 {
            assert_eq!(bucket(bucket_bound(i)), i);
        }
    }
}
