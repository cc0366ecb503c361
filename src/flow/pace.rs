//! Send-rate limits: which claimed deliveries may go now and which wait,
//! and until when. Each limit (a channel's, a provider's) is a token
//! bucket kept in the database so that every process shares it; this
//! module decides, and reaches the buckets through [`Buckets`], which the
//! store implements.
//!
//! Two things keep the limits cheap. Tokens are taken ahead of need
//! ([`Spare`]): a high limit costs one database round trip per many
//! sends, made in the background before the tokens run out. And a
//! delivery that must wait is given the next free slot at the limit's
//! pace, so a backlog is spread out once rather than re-claimed and
//! re-deferred on every pass.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::config::RateLimit;
use crate::util::now_ms;

/// Where the shared token buckets are kept (the database; the store
/// implements this).
#[async_trait::async_trait]
pub trait Buckets: Send + Sync {
    /// Takes up to `want` tokens from bucket `name`, which refills at
    /// `per_ms` tokens a millisecond up to `burst`; returns how many.
    async fn take(
        &self,
        name: &str,
        per_ms: f64,
        burst: f64,
        want: i64,
        now: i64,
    ) -> anyhow::Result<i64>;
}

/// What one delivery may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pace {
    Go,
    /// Wait until this time: bucket `bucket` had no token for it.
    Wait {
        bucket: String,
        until: i64,
    },
}

/// Tokens taken from a bucket ahead of need, and when. Taken tokens are
/// already counted against the limit, so using them later never exceeds
/// it; they are dropped a second after they were taken.
#[derive(Debug, Default, Clone, Copy)]
struct Spare {
    tokens: i64,
    taken_at: i64,
    /// A background top-up is on its way.
    topping_up: bool,
}

/// How long tokens taken ahead stay usable.
const SPARE_TTL_MS: i64 = 1_000;

impl Spare {
    /// Forgets tokens taken more than [`SPARE_TTL_MS`] ago.
    fn expire(&mut self, now: i64) {
        if now - self.taken_at >= SPARE_TTL_MS {
            self.tokens = 0;
        }
    }

    /// Uses up to `want` of the live tokens; returns how many.
    fn take(&mut self, want: i64, now: i64) -> i64 {
        self.expire(now);
        let used = self.tokens.min(want);
        self.tokens -= used;
        used
    }

    /// Adds `n` tokens just taken from the bucket.
    fn add(&mut self, n: i64, now: i64) {
        if n <= 0 {
            return;
        }
        self.expire(now);
        self.tokens += n;
        self.taken_at = now;
    }

    /// Keeps `n` tokens granted in this pass but not used.
    fn give_back(&mut self, n: i64, now: i64) {
        if self.tokens == 0 {
            self.taken_at = now;
        }
        self.tokens += n;
    }
}

/// How many tokens to take ahead of need for a limit: a tenth of a
/// second's worth, at most 1,000 and never more than the burst.
fn ahead(l: RateLimit) -> i64 {
    let per_tenth = (l.rate.count as u128 * 100 / l.rate.per.as_millis().max(1)) as i64;
    per_tenth.min(1_000).min(l.burst as i64).max(0)
}

/// Takes up to `n` tokens from a limit's shared bucket.
async fn take_from_bucket(
    buckets: &dyn Buckets,
    bucket: &str,
    l: RateLimit,
    n: i64,
    now: i64,
) -> anyhow::Result<i64> {
    let per_ms = l.rate.count as f64 / l.rate.per.as_millis().max(1) as f64;
    buckets.take(bucket, per_ms, l.burst as f64, n, now).await
}

/// This process's side of the shared rate limits.
pub struct Pacer {
    buckets: Arc<dyn Buckets>,
    /// Tokens taken from each bucket ahead of need.
    spare: Arc<Mutex<BTreeMap<String, Spare>>>,
    /// Per bucket, the next free slot handed to a deferred delivery.
    next_slot: Mutex<BTreeMap<String, i64>>,
}

impl Pacer {
    pub fn new(buckets: Arc<dyn Buckets>) -> Self {
        Pacer {
            buckets,
            spare: Default::default(),
            next_slot: Default::default(),
        }
    }

    /// Decides a batch: `needs[i]` lists the buckets (name, limit) delivery
    /// `i` needs a token from. A delivery goes when every one of its
    /// buckets grants it a token; otherwise it waits for the next slot of
    /// the first bucket that was short. Tokens granted but not used
    /// (another bucket was short) are kept for the next pass.
    pub async fn pace(&self, needs: &[Vec<(String, RateLimit)>], now: i64) -> Vec<Pace> {
        if needs.iter().all(|b| b.is_empty()) {
            return vec![Pace::Go; needs.len()];
        }
        let mut wanted: BTreeMap<&str, (RateLimit, i64)> = BTreeMap::new();
        for (key, l) in needs.iter().flatten() {
            wanted.entry(key).or_insert((*l, 0)).1 += 1;
        }
        let mut granted: BTreeMap<String, i64> = BTreeMap::new();
        for (key, (l, want)) in wanted {
            let got = self.tokens(key, l, want, now).await;
            granted.insert(key.to_string(), got);
        }
        let mut out = Vec::with_capacity(needs.len());
        {
            let mut slots = self.next_slot.lock().unwrap();
            for need in needs {
                match need.iter().find(|(k, _)| granted[k] <= 0) {
                    None => {
                        for (k, _) in need {
                            *granted.get_mut(k).unwrap() -= 1;
                        }
                        out.push(Pace::Go);
                    }
                    Some((k, l)) => {
                        let interval = l.rate.interval().as_millis().max(1) as i64;
                        let slot = slots.entry(k.clone()).or_insert(now);
                        *slot = (*slot).max(now) + interval;
                        out.push(Pace::Wait {
                            bucket: k.clone(),
                            until: *slot,
                        });
                    }
                }
            }
        }
        let mut spare = self.spare.lock().unwrap();
        for (k, left) in granted {
            if left > 0 {
                spare.entry(k).or_default().give_back(left, now);
            }
        }
        out
    }

    /// Takes up to `want` tokens from a bucket, from the spare ones first;
    /// goes to the database only when those fall short, and tops them up
    /// in the background when they run low.
    async fn tokens(&self, bucket: &str, l: RateLimit, want: i64, now: i64) -> i64 {
        let ahead = ahead(l);
        let (mut got, top_up) = {
            let mut spare = self.spare.lock().unwrap();
            let s = spare.entry(bucket.to_string()).or_default();
            let used = s.take(want, now);
            // Low (under half the amount taken ahead) but not out: fetch
            // more while these last.
            let top_up = used == want && ahead > 1 && s.tokens < ahead / 2 && !s.topping_up;
            if top_up {
                s.topping_up = true;
            }
            (used, top_up)
        };
        if top_up {
            let (buckets, spare, bucket) =
                (self.buckets.clone(), self.spare.clone(), bucket.to_string());
            tokio::spawn(async move {
                let now = now_ms();
                let n = take_from_bucket(&*buckets, &bucket, l, ahead, now).await;
                let mut spare = spare.lock().unwrap();
                let s = spare.entry(bucket.clone()).or_default();
                s.topping_up = false;
                match n {
                    Ok(n) => s.add(n, now),
                    Err(e) => {
                        tracing::warn!(error = %e, bucket, "taking rate-limit tokens ahead failed")
                    }
                }
            });
        }
        if got < want {
            match take_from_bucket(&*self.buckets, bucket, l, want - got + ahead, now).await {
                Ok(n) => {
                    let use_now = n.min(want - got);
                    got += use_now;
                    let mut spare = self.spare.lock().unwrap();
                    spare
                        .entry(bucket.to_string())
                        .or_default()
                        .add(n - use_now, now);
                }
                Err(e) => {
                    tracing::warn!(error = %e, bucket, "rate limit check failed; holding these deliveries back")
                }
            }
        }
        got
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Rate;

    fn limit(rate: &str, burst: u32) -> RateLimit {
        RateLimit {
            rate: Rate::parse(rate).unwrap(),
            burst,
        }
    }

    #[test]
    fn spare_tokens_are_used_within_a_second_of_being_taken() {
        let mut s = Spare::default();
        s.add(10, 5_000);
        assert_eq!(s.take(4, 5_500), 4);
        assert_eq!(s.take(10, 5_999), 6);
        s.add(3, 6_000);
        // A second after they were taken they are gone.
        assert_eq!(s.take(3, 7_000), 0);
        // Tokens given back count from when they were given back.
        s.give_back(2, 8_000);
        assert_eq!(s.take(5, 8_900), 2);
    }

    #[test]
    fn tokens_taken_ahead_are_a_tenth_of_a_second_capped_by_burst_and_1000() {
        assert_eq!(ahead(limit("50/s", 5)), 5);
        assert_eq!(ahead(limit("50/s", 2)), 2);
        // Per minute counts per second: 3000/min is 50/s, so 5 ahead.
        assert_eq!(ahead(limit("3000/min", 300)), 5);
        assert_eq!(ahead(limit("1000000/s", 100_000)), 1_000);
        // Slower than 10/s: nothing ahead, every token fetched when needed.
        assert_eq!(ahead(limit("5/s", 1)), 0);
        assert_eq!(ahead(limit("1/10min", 1)), 0);
    }

    /// Buckets that grant a fixed number of tokens each, once.
    struct Fixed(Mutex<BTreeMap<String, i64>>);

    #[async_trait::async_trait]
    impl Buckets for Fixed {
        async fn take(&self, name: &str, _: f64, _: f64, want: i64, _: i64) -> anyhow::Result<i64> {
            let mut left = self.0.lock().unwrap();
            let n = left.entry(name.to_string()).or_default();
            let got = want.min(*n);
            *n -= got;
            Ok(got)
        }
    }

    #[tokio::test]
    async fn a_short_bucket_holds_back_only_who_needs_it_each_at_the_next_slot() {
        let buckets = Fixed(Mutex::new(BTreeMap::from([
            ("channel:sms".to_string(), 1),
            ("channel:email".to_string(), 5),
        ])));
        let pacer = Pacer::new(Arc::new(buckets));
        let sms = vec![("channel:sms".to_string(), limit("5/s", 1))];
        let email = vec![("channel:email".to_string(), limit("5/s", 5))];
        let needs = vec![sms.clone(), email.clone(), sms.clone(), vec![], sms];
        let paced = pacer.pace(&needs, 10_000).await;
        assert_eq!(paced[0], Pace::Go);
        assert_eq!(paced[1], Pace::Go);
        assert_eq!(paced[3], Pace::Go, "no limit, no wait");
        // 5/s is one every 200 ms: the waiting ones get successive slots.
        let wait = |until| Pace::Wait {
            bucket: "channel:sms".into(),
            until,
        };
        assert_eq!(paced[2], wait(10_200));
        assert_eq!(paced[4], wait(10_400));
    }
}
