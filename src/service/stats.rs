//! Counts that pages show and that are too costly to make on every load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::store::{StatusCount, Store};
use crate::util::now_ms;

/// The last 24 hours' counts by status and channel, kept between loads.
/// Counting them reads every delivery of the day (a third of a million rows
/// at a million deliveries in three days), so once they are older than
/// `console.day_counts_max_age` one load starts a count in the background
/// and every load shows the previous one, with its age, until it is done.
/// See docs/decisions/0008-console-pages-on-a-large-log.md.
#[derive(Default)]
pub struct DayCounts {
    /// (when counted, ms; the counts)
    last: tokio::sync::Mutex<Option<(i64, Arc<Vec<StatusCount>>)>>,
    counting: AtomicBool,
}

impl DayCounts {
    /// The counts and when they were made. The first load (and every load
    /// when `max_age` is zero) counts in place.
    pub async fn get(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        max_age: i64,
        now: i64,
    ) -> Result<(i64, Arc<Vec<StatusCount>>), crate::store::StoreError> {
        let mut last = self.last.lock().await;
        match &*last {
            Some((at, counts)) if max_age > 0 => {
                if now - at >= max_age && !self.counting.swap(true, Ordering::AcqRel) {
                    let (this, store) = (self.clone(), store.clone());
                    tokio::spawn(async move {
                        let now = now_ms();
                        match store.delivery_counts(now - DAY_MS).await {
                            Ok(counts) => *this.last.lock().await = Some((now, Arc::new(counts))),
                            Err(e) => {
                                tracing::warn!(error = %e, "counting the last day's deliveries failed")
                            }
                        }
                        this.counting.store(false, Ordering::Release);
                    });
                }
                Ok((*at, counts.clone()))
            }
            _ => {
                let counts = Arc::new(store.delivery_counts(now - DAY_MS).await?);
                *last = Some((now, counts.clone()));
                Ok((now, counts))
            }
        }
    }
}

const DAY_MS: i64 = 86_400_000;
