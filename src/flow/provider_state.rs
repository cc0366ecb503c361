//! A provider's pause (429 / Retry-After) and open circuit breaker, shared
//! by every process on one database (`provider_state`, decision 0007).
//!
//! Each process keeps a copy of the table ([`ProviderBoard`]), refreshed
//! about once a second, so choosing a provider never queries the database.
//! Changes (a pause starts, a breaker opens or closes) are written at once
//! by a background task, in order. The one query on the send path is taking
//! the half-open probe, once per cool-down: a conditional UPDATE that only
//! one process wins.
//!
//! This is flow's I/O half: the rules decide, [`SharedState`] says what
//! they need kept, and the store implements it
//! (`store::ProviderStates`), so flow stays below the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::util::now_ms;

/// One provider's row of shared state as kept, in Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// `<channel>:<provider>`.
    pub key: String,
    pub paused_until: Option<i64>,
    pub open_until: Option<i64>,
}

/// Where providers' shared state is kept (the database; the store
/// implements this).
#[async_trait::async_trait]
pub trait SharedState: Send + Sync {
    /// Every provider's row.
    async fn load(&self) -> anyhow::Result<Vec<Stored>>;
    /// Pauses a provider until `until` (a later pause already held stays).
    async fn pause(&self, key: &str, until: i64, now: i64) -> anyhow::Result<()>;
    /// Opens a provider's breaker until `open_until` (`Some`), or closes it.
    async fn breaker(&self, key: &str, open_until: Option<i64>, now: i64) -> anyhow::Result<()>;
    /// Takes the half-open probe of a breaker seen open until `seen`, for
    /// this process until `lease_until`; true for the one that wins it.
    async fn claim_probe(
        &self,
        key: &str,
        seen: i64,
        lease_until: i64,
        now: i64,
    ) -> anyhow::Result<bool>;
}

/// How often each process reads every provider's shared state.
pub const REFRESH: Duration = Duration::from_secs(1);

/// One provider's shared state, in Unix milliseconds (`None`: none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shared {
    pub paused_until: Option<i64>,
    /// The breaker is open until then, half-open after.
    pub open_until: Option<i64>,
}

/// What the shared state lets a process do with a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Nothing shared holds it back (its own breaker still decides).
    Go,
    /// Paused, or its breaker is open somewhere: don't call it.
    Skip,
    /// Its breaker's cool-down (seen ending at this time) is over: one
    /// process may probe it, whoever takes the probe first.
    Probe(i64),
}

impl Shared {
    pub fn gate(&self, now: i64) -> Gate {
        if self.paused_until.is_some_and(|t| now < t) {
            return Gate::Skip;
        }
        match self.open_until {
            Some(t) if now < t => Gate::Skip,
            Some(t) => Gate::Probe(t),
            None => Gate::Go,
        }
    }

    /// The state operators see: paused, open, half_open, or `None` (the
    /// process's own breaker tells).
    pub fn state(&self, now: i64) -> Option<&'static str> {
        match self.gate(now) {
            Gate::Skip if self.paused_until.is_some_and(|t| now < t) => Some("paused"),
            Gate::Skip => Some("open"),
            Gate::Probe(_) => Some("half_open"),
            Gate::Go => None,
        }
    }
}

enum Write {
    Pause(String, i64),
    Breaker(String, Option<i64>),
}

/// This process's copy of every provider's shared state.
pub struct ProviderBoard {
    store: Arc<dyn SharedState>,
    view: Mutex<HashMap<String, Shared>>,
    writes: mpsc::UnboundedSender<Write>,
    /// Changes made here and not yet written: a refresh must not replace
    /// the view with rows that lack them.
    pending: Arc<AtomicUsize>,
}

impl ProviderBoard {
    /// Starts the writer task (needs a Tokio runtime).
    pub fn new(store: Arc<dyn SharedState>) -> Arc<ProviderBoard> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
        let pending = Arc::new(AtomicUsize::new(0));
        let (s, p) = (store.clone(), pending.clone());
        tokio::spawn(async move {
            while let Some(w) = rx.recv().await {
                let now = now_ms();
                let (key, r) = match &w {
                    Write::Pause(key, until) => (key, s.pause(key, *until, now).await),
                    Write::Breaker(key, open) => (key, s.breaker(key, *open, now).await),
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, provider = %key, "could not share a provider's state; other processes won't see it");
                }
                p.fetch_sub(1, Ordering::SeqCst);
            }
        });
        Arc::new(ProviderBoard {
            store,
            view: Mutex::new(HashMap::new()),
            writes: tx,
            pending,
        })
    }

    pub fn get(&self, key: &str) -> Shared {
        self.view
            .lock()
            .unwrap()
            .get(key)
            .copied()
            .unwrap_or_default()
    }

    fn write(&self, w: Write) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.writes.send(w).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Pauses a provider for everyone until `until` (a later pause stays).
    pub fn pause(&self, key: &str, until: i64) {
        {
            let mut view = self.view.lock().unwrap();
            let s = view.entry(key.to_string()).or_default();
            s.paused_until = s.paused_until.max(Some(until));
        }
        self.write(Write::Pause(key.to_string(), until));
    }

    /// Opens a provider's breaker for everyone until `open_until`, or
    /// closes it (`None`).
    pub fn breaker(&self, key: &str, open_until: Option<i64>) {
        self.view
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .open_until = open_until;
        self.write(Write::Breaker(key.to_string(), open_until));
    }

    /// Tries to take the half-open probe of a provider whose cool-down was
    /// seen ending at `seen`; the winner holds it until `lease_until` (if it
    /// never reports, another process probes after that).
    pub async fn claim_probe(&self, key: &str, seen: i64, lease_until: i64) -> bool {
        match self
            .store
            .claim_probe(key, seen, lease_until, now_ms())
            .await
        {
            Ok(true) => {
                self.view
                    .lock()
                    .unwrap()
                    .entry(key.to_string())
                    .or_default()
                    .open_until = Some(lease_until);
                true
            }
            Ok(false) => {
                // Someone else probes (or the state changed): see what it is.
                if let Err(e) = self.refresh().await {
                    tracing::warn!(error = %e, "reading providers' shared state failed");
                }
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, provider = %key, "could not take a provider's probe; skipping it");
                false
            }
        }
    }

    /// Reads every provider's shared state.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let rows = self.store.load().await?;
        if self.pending.load(Ordering::SeqCst) > 0 {
            // Our own changes are on their way; next time.
            return Ok(());
        }
        let view = rows
            .into_iter()
            .map(|r| {
                let s = Shared {
                    paused_until: r.paused_until,
                    open_until: r.open_until,
                };
                (r.key, s)
            })
            .collect();
        *self.view.lock().unwrap() = view;
        Ok(())
    }

    /// Refreshes the view every [`REFRESH`] until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "reading providers' shared state failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_or_an_open_breaker_holds_a_provider_back_until_it_ends() {
        let none = Shared::default();
        assert_eq!(none.gate(1_000), Gate::Go);
        assert_eq!(none.state(1_000), None);

        let paused = Shared {
            paused_until: Some(2_000),
            open_until: None,
        };
        assert_eq!(paused.gate(1_999), Gate::Skip);
        assert_eq!(paused.state(1_999), Some("paused"));
        assert_eq!(paused.gate(2_000), Gate::Go);

        let open = Shared {
            paused_until: None,
            open_until: Some(5_000),
        };
        assert_eq!(open.gate(4_999), Gate::Skip);
        assert_eq!(open.state(4_999), Some("open"));
        // After the cool-down: one probe, for whoever takes it.
        assert_eq!(open.gate(5_000), Gate::Probe(5_000));
        assert_eq!(open.state(5_000), Some("half_open"));

        // A pause outlasting the cool-down still holds.
        let both = Shared {
            paused_until: Some(9_000),
            open_until: Some(5_000),
        };
        assert_eq!(both.gate(6_000), Gate::Skip);
        assert_eq!(both.state(6_000), Some("paused"));
        assert_eq!(both.gate(9_000), Gate::Probe(5_000));
    }
}
