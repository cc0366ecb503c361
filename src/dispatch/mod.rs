//! Workers: claim due deliveries from the queue (the deliveries table) in
//! batches with a lease, send each on its channel, and record the attempt
//! and the delivery's next state. A process that dies holding a lease loses
//! nothing: the rows are claimed again when the lease ends.

pub mod events;
pub mod fanout;
pub mod maintenance;
pub mod retry;
pub mod runs;
pub mod schedules;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::channels::{Channels, Message, Outcome, SendResult};
use crate::config::{RateLimit, WorkerConfig};
use crate::domain::{Channel, Reason};
use crate::flow::destinations;
use crate::flow::pace::{Pace, Pacer};
use crate::metrics::{Metrics, Wait};
use crate::store::{AttemptRow, Claimed, Completion, Store};
use crate::util::now_ms;
use std::collections::{BTreeMap, VecDeque};

/// Where a claimed delivery stands with its destination's share.
enum Place {
    /// Not bounded.
    Free,
    /// Has its place.
    Held(destinations::Slot),
    /// Waits up to this long for a place at this destination, else goes
    /// back to the queue until the time given.
    Wait(String, Duration, i64),
}

/// Queue operations slower than this are logged.
const SLOW: Duration = Duration::from_millis(20);

/// A claim from the queue, made while the batch before it is sent.
struct Claim {
    rows: crate::store::StoreResult<Vec<Claimed>>,
    want: usize,
    lease_until: i64,
    /// After a partial claim: how long until something may be due.
    idle: Duration,
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    channels: Channels,
    cfg: WorkerConfig,
    /// Send-rate limits per channel, held in the database.
    limits: BTreeMap<String, RateLimit>,
    /// The shared send-rate limits.
    pacer: Pacer,
    /// Sends in flight per destination, each held to its share.
    destinations: Arc<destinations::Destinations>,
    /// Marks this process's claims, so shutdown can hand back exactly them.
    token: String,
    metrics: Arc<Metrics>,
    /// What workflow runs' steps send with (`with_runs`); without it, runs
    /// wait for a process that has it.
    runs: Option<crate::service::AppState>,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        channels: Channels,
        cfg: WorkerConfig,
        limits: BTreeMap<String, RateLimit>,
    ) -> Self {
        Dispatcher {
            pacer: Pacer::new(store.clone()),
            store,
            channels,
            destinations: destinations::Destinations::new(cfg.max_in_flight_per_destination),
            cfg,
            limits,
            token: uuid::Uuid::new_v4().to_string(),
            metrics: Arc::new(Metrics::new()),
            runs: None,
        }
    }

    /// Moves workflow runs on with `state` (their steps send as the API
    /// does).
    pub fn with_runs(mut self, state: crate::service::AppState) -> Self {
        self.runs = Some(state);
        self
    }

    /// Records attempts, outcomes and waits in `metrics` (the app's).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The rate-limit buckets a delivery needs tokens from: its channel's
    /// and the provider it will likely use, where those have limits.
    fn buckets(&self, r: &Claimed) -> Vec<(String, RateLimit)> {
        let mut b = Vec::new();
        if let Some(l) = self.limits.get(&r.channel) {
            b.push((format!("channel:{}", r.channel), *l));
        }
        if let Some(ch) = self.channels.get(&r.channel) {
            let attempt = (r.attempts + 1 - r.retry_base).max(1);
            if let Some((provider, l)) = ch.provider_limit(&r.address, attempt) {
                b.push((format!("provider:{}:{provider}", r.channel), l));
            }
        }
        b
    }

    /// Deliveries for a channel whose every provider is paused (429 /
    /// Retry-After) wait until the first pause ends (`scheduled`,
    /// `provider_paused`), rather than go to a provider that asked to be
    /// left alone.
    async fn hold_paused(&self, rows: Vec<Claimed>) -> Vec<Claimed> {
        // Asked once per channel per batch (few channels: a list will do).
        let mut paused: Vec<(String, Option<i64>)> = Vec::new();
        let mut send = Vec::with_capacity(rows.len());
        let mut waits = Vec::new();
        for r in rows {
            let by_address = self
                .channels
                .get(&r.channel)
                .filter(|c| c.routes_by_address());
            let until = match paused.iter().find(|(c, _)| *c == r.channel) {
                _ if by_address.is_some() => {
                    by_address.and_then(|c| c.paused_until_for(&r.address))
                }
                Some((_, until)) => *until,
                None => {
                    let until = self.channels.get(&r.channel).and_then(|c| c.paused_until());
                    paused.push((r.channel.clone(), until));
                    until
                }
            };
            match until {
                Some(t) => {
                    self.waited(&r.channel, "", Wait::ProviderPause);
                    waits.push((r.id.clone(), t));
                }
                None => send.push(r),
            }
        }
        self.defer(&waits, Reason::ProviderPaused, now_ms()).await;
        send
    }

    /// Hands claimed deliveries back to wait until their times
    /// (`scheduled`, with `reason`).
    async fn defer(&self, waits: &[(String, i64)], reason: Reason, now: i64) {
        if waits.is_empty() {
            return;
        }
        let reason = reason.as_str();
        if let Err(e) = self.store.defer(&self.token, waits, reason, now).await {
            tracing::warn!(error = %e, reason, "could not hand waiting deliveries back; they return when their lease ends");
        }
    }

    /// First holds back deliveries whose providers are all paused
    /// (`hold_paused`), then splits the rest into those the rate limits
    /// (channel and provider) allow now and those that must wait; the
    /// waiting ones go back to the
    /// queue as `scheduled` (reason `rate_limited`), each given the next free
    /// slot at the limit's pace, so a backlog is spread out once rather than
    /// re-claimed and re-deferred on every pass.
    async fn throttle(&self, rows: Vec<Claimed>) -> Vec<Claimed> {
        let rows = self.hold_paused(rows).await;
        let needs: Vec<Vec<(String, RateLimit)>> = rows.iter().map(|r| self.buckets(r)).collect();
        if needs.iter().all(Vec::is_empty) {
            return rows;
        }
        let now = now_ms();
        let paced = self.pacer.pace(&needs, now).await;
        let mut send = Vec::with_capacity(rows.len());
        let mut waits = Vec::new();
        for (r, pace) in rows.into_iter().zip(paced) {
            match pace {
                Pace::Go => send.push(r),
                Pace::Wait { bucket, until } => {
                    // Bucket keys are `channel:<channel>` or
                    // `provider:<channel>:<provider>`.
                    // (`<provider>@<target tag>` for a limit per target:
                    // counted under the provider's name.)
                    let provider = bucket.splitn(3, ':').nth(2).unwrap_or("");
                    let provider = provider.split('@').next().unwrap_or("");
                    self.waited(&r.channel, provider, Wait::RateLimit);
                    waits.push((r.id.clone(), until));
                }
            }
        }
        self.defer(&waits, Reason::RateLimited, now).await;
        send
    }

    /// Takes a place at each delivery's destination. Deliveries whose
    /// destination already has its share in flight either wait briefly
    /// for a place (a quick destination) or go back to the queue
    /// (`scheduled`, `destination_busy`) for a later slot, holding no
    /// worker meanwhile.
    async fn hold_busy(&self, rows: Vec<Claimed>) -> Vec<(Claimed, Place)> {
        let now = now_ms();
        let mut send = Vec::with_capacity(rows.len());
        let mut waits = Vec::new();
        for r in rows {
            let attempt = (r.attempts + 1 - r.retry_base).max(1);
            let dest = self
                .channels
                .get(&r.channel)
                .and_then(|c| c.destination(&r.address, attempt));
            let Some(dest) = dest else {
                send.push((r, Place::Free));
                continue;
            };
            match self.destinations.take(&dest, now) {
                destinations::Place::Now(slot) => send.push((r, Place::Held(slot))),
                destinations::Place::Wait(wait, at) => send.push((r, Place::Wait(dest, wait, at))),
                destinations::Place::Later(at) => {
                    self.busy(&r.channel);
                    waits.push((r.id.clone(), at));
                }
            }
        }
        self.defer(&waits, Reason::DestinationBusy, now).await;
        send
    }

    fn busy(&self, channel: &str) {
        self.waited(channel, "", Wait::DestinationBusy);
    }

    /// Counts a wait of a delivery on the channel its row names (always
    /// one `service::send` wrote from a [`Channel`]).
    fn waited(&self, channel: &str, provider: &str, why: Wait) {
        if let Ok(c) = Channel::parse(channel) {
            self.metrics.wait(c, provider, why);
        }
    }

    /// Runs until `shutdown` is cancelled, then stops claiming, lets
    /// in-flight sends finish (up to `worker.shutdown_grace`), records them,
    /// and hands anything still claimed back to the queue.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(this.cfg.concurrency));
        let (done_tx, done_rx) = mpsc::channel::<Completion>(this.cfg.concurrency * 4);
        let recorder = tokio::spawn(record(this.store.clone(), done_rx));
        let listener = this.forward_wakeups(shutdown.clone()).await;
        let mut inflight = JoinSet::new();
        // Deliveries due at once come from the accepting writer, already
        // claimed (store::handoff); the rest are claimed from the queue
        // when it may hold due work: when told so (work the hand-off had
        // no room for, re-queued work, another process's NOTIFY), and at
        // the next due time (scheduled deliveries, retries), at most
        // `poll_interval` apart.
        let handoff = this.store.handoff().clone();
        handoff.attach(&this.token, this.cfg.lease, this.cfg.batch_size);
        let mut look = true;
        let mut next_look = Instant::now();
        // The next batch is claimed while the last one is sent: a claim is
        // a write, which waits behind the outcomes' writes, and the
        // workers would wait for it. Claimed rows wait here, with the end
        // of their lease, until workers are free: at most twice as many as
        // there are workers (with 64 workers, 128 ahead drained a backlog
        // 5-10 % faster than 64), so a busy process doesn't hold much that
        // another could send.
        let ahead = this.cfg.batch_size.min(2 * this.cfg.concurrency);
        let mut ready: VecDeque<(i64, Claimed)> = VecDeque::new();
        let mut claiming: Option<tokio::task::JoinHandle<Claim>> = None;

        while !shutdown.is_cancelled() {
            while inflight.try_join_next().is_some() {}
            if let Some(done) = claiming.as_mut().filter(|h| h.is_finished()) {
                let done = done.await;
                claiming = None;
                this.claimed(done, &mut ready, &mut look, &mut next_look);
            }
            look |= handoff.take_queued() || Instant::now() >= next_look;
            if look && claiming.is_none() && ready.len() < ahead.div_ceil(2) {
                let want = ahead - ready.len();
                claiming = Some(tokio::spawn(this.clone().claim(want)));
                // The claim's answer says when to look again.
                look = false;
                next_look = Instant::now() + this.cfg.poll_interval;
            }
            let free = permits.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = inflight.join_next() => {}
                    done = async { claiming.as_mut().expect("guarded").await }, if claiming.is_some() => {
                        claiming = None;
                        this.claimed(done, &mut ready, &mut look, &mut next_look);
                    }
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
            // Rows claimed from the queue get at least half the workers
            // free when the hand-off has rows too, so a steady hand-off
            // can't hold up retries and scheduled sends.
            let limit = free.min(this.cfg.batch_size);
            let now = now_ms();
            let half_lease = this.cfg.lease.as_millis() as i64 / 2;
            let mut take_ready = |rows: &mut Vec<Claimed>, n: usize| {
                while rows.len() < n {
                    match ready.pop_front() {
                        // A row that waited half its lease goes back to
                        // the queue when the lease ends, not out now.
                        Some((lease_until, row)) if lease_until - now > half_lease => {
                            rows.push(row)
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
            };
            let mut rows = Vec::new();
            take_ready(
                &mut rows,
                if handoff.has_rows() {
                    limit.div_ceil(2)
                } else {
                    limit
                },
            );
            rows.extend(handoff.take(limit - rows.len(), now));
            take_ready(&mut rows, limit);
            if !rows.is_empty() {
                let rows = this
                    .spawn_runs(rows, &permits, &mut inflight, &shutdown)
                    .await;
                let rows = this.throttle(rows).await;
                let rows = this.hold_busy(rows).await;
                this.spawn_sends(rows, &permits, &done_tx, &mut inflight)
                    .await;
            }
            let startable = look && claiming.is_none();
            if startable || handoff.has_rows() || !ready.is_empty() {
                continue;
            }
            tokio::select! {
                _ = handoff.notified() => {}
                _ = tokio::time::sleep_until(next_look.into()), if claiming.is_none() => {}
                done = async { claiming.as_mut().expect("guarded").await }, if claiming.is_some() => {
                    claiming = None;
                    this.claimed(done, &mut ready, &mut look, &mut next_look);
                }
                _ = shutdown.cancelled() => break,
            }
        }
        // Rows still claimed (in `ready`, or by a claim under way) are
        // released with the token below.
        if let Some(c) = claiming.take() {
            let _ = c.await;
        }
        drop(ready);
        handoff.detach();

        let grace = this.cfg.shutdown_grace;
        let pending = inflight.len();
        if pending > 0 {
            tracing::info!(pending, "waiting for in-flight deliveries to finish");
        }
        let finished = tokio::time::timeout(grace, async {
            while inflight.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                left = inflight.len(),
                "in-flight deliveries did not finish in time; handing them back"
            );
            inflight.abort_all();
            while inflight.join_next().await.is_some() {}
        }
        drop(done_tx);
        let _ = recorder.await;
        if let Some(l) = listener {
            l.abort();
        }
        match this.store.release(&this.token, now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "handed claimed deliveries back to the queue"),
            Err(e) => {
                tracing::warn!(error = %e, "could not release claimed deliveries; they return when their lease ends")
            }
        }
    }

    /// Starts moving on the workflow runs and fanning out the sends to
    /// topics among `rows` (each holding a worker); returns the
    /// deliveries.
    async fn spawn_runs(
        self: &Arc<Self>,
        rows: Vec<Claimed>,
        permits: &Arc<Semaphore>,
        inflight: &mut JoinSet<()>,
        shutdown: &CancellationToken,
    ) -> Vec<Claimed> {
        let Some(state) = &self.runs else {
            return rows;
        };
        let background = |r: &Claimed| {
            r.channel == crate::domain::workflow::RUN_CHANNEL
                || r.channel == crate::service::topics::FANOUT_CHANNEL
        };
        if !rows.iter().any(background) {
            return rows;
        }
        let (runs, rows): (Vec<Claimed>, Vec<Claimed>) = rows.into_iter().partition(background);
        for row in runs {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            let state = state.clone();
            let stop = shutdown.clone();
            inflight.spawn(async move {
                // Exported, the step continues its notification's trace,
                // and what it creates (the fan-out's deliveries, the run's
                // sends) continues this span.
                let parent = row.traceparent.as_deref();
                if row.channel == crate::service::topics::FANOUT_CHANNEL {
                    let span = crate::telemetry::step(
                        || tracing::info_span!("fanout", notification_id = %row.notification_id),
                        parent,
                    );
                    fanout::fan_out(&state, &row, &stop).instrument(span).await;
                } else {
                    let span = crate::telemetry::step(
                        || tracing::info_span!("workflow_run", run = %row.id, notification_id = %row.notification_id),
                        parent,
                    );
                    runs::advance(&state, &row).instrument(span).await;
                }
                drop(permit);
            });
        }
        rows
    }

    async fn spawn_sends(
        self: &Arc<Self>,
        rows: Vec<(Claimed, Place)>,
        permits: &Arc<Semaphore>,
        done_tx: &mpsc::Sender<Completion>,
        inflight: &mut JoinSet<()>,
    ) {
        for (row, place) in rows {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            let this = self.clone();
            let done = done_tx.clone();
            inflight.spawn(async move {
                let slot = match place {
                    Place::Free => None,
                    Place::Held(slot) => Some(slot),
                    Place::Wait(dest, wait, at) => {
                        match this.destinations.wait(&dest, wait).await {
                            Some(slot) => Some(slot),
                            None => {
                                drop(permit);
                                this.busy(&row.channel);
                                this.defer(
                                    &[(row.id.clone(), at)],
                                    Reason::DestinationBusy,
                                    now_ms(),
                                )
                                .await;
                                return;
                            }
                        }
                    }
                };
                let completion = this.attempt(row).await;
                drop(slot);
                drop(permit);
                let _ = done.send(completion).await;
            });
        }
    }

    /// Claims up to `want` due deliveries for this process's lease.
    async fn claim(self: Arc<Self>, want: usize) -> Claim {
        let now = now_ms();
        let lease_until = now + self.cfg.lease.as_millis() as i64;
        let t0 = Instant::now();
        let started = std::time::SystemTime::now();
        let rows = self
            .store
            .claim(now, lease_until, want as i64, &self.token)
            .await;
        if let Ok(c) = &rows {
            crate::telemetry::batch_span(
                "claim",
                started,
                c.iter().map(|r| r.traceparent.as_deref()),
                c.len(),
                None,
            );
        }
        if t0.elapsed() > SLOW {
            tracing::warn!(
                ms = t0.elapsed().as_millis() as u64,
                "claiming deliveries was slow"
            );
        }
        let idle = match &rows {
            Ok(c) if c.len() < want => self.idle_wait().await,
            _ => Duration::ZERO,
        };
        Claim {
            rows,
            want,
            lease_until,
            idle,
        }
    }

    /// Takes a finished claim's rows, and says when to look again.
    fn claimed(
        &self,
        done: Result<Claim, tokio::task::JoinError>,
        ready: &mut VecDeque<(i64, Claimed)>,
        look: &mut bool,
        next_look: &mut Instant,
    ) {
        let error = match done {
            Ok(Claim {
                rows: Ok(rows),
                want,
                lease_until,
                idle,
            }) => {
                // A full batch: there may be more due now, look again. A
                // partial one took everything due: look again when told
                // or at the next due time.
                *look |= rows.len() == want;
                *next_look = Instant::now() + idle;
                ready.extend(rows.into_iter().map(|r| (lease_until, r)));
                return;
            }
            Ok(Claim { rows: Err(e), .. }) => e.to_string(),
            Err(e) => e.to_string(),
        };
        tracing::warn!(error = %error, "claiming deliveries failed; trying again in 1 s");
        *look = false;
        *next_look = Instant::now() + Duration::from_secs(1);
    }

    /// How long to sleep when nothing is due: until the next scheduled
    /// delivery or lease end, at most `worker.poll_interval`.
    async fn idle_wait(&self) -> Duration {
        let poll = self.cfg.poll_interval;
        match self.store.next_due().await {
            Ok(Some(t)) => {
                let ms = (t - now_ms()).max(5) as u64;
                Duration::from_millis(ms).min(poll)
            }
            _ => poll,
        }
    }

    /// On PostgreSQL, forwards NOTIFYs from other processes to the hand-off
    /// (work waits in the queue).
    async fn forward_wakeups(
        &self,
        shutdown: CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let mut stream = match self.store.wakeups().await {
            Ok(Some(s)) => s,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN failed; falling back to polling");
                return None;
            }
        };
        let handoff = self.store.handoff().clone();
        Some(tokio::spawn(async move {
            loop {
                tokio::select! {
                    n = stream.next() => match n {
                        Some(()) => handoff.queued(),
                        None => return,
                    },
                    _ = shutdown.cancelled() => return,
                }
            }
        }))
    }

    /// One attempt of one delivery, and its outcome as a completion.
    async fn attempt(&self, row: Claimed) -> Completion {
        let number = row.attempts + 1;
        // At info level, so every line logged while sending (by the
        // dispatcher or a channel) carries the delivery's and its
        // notification's ids.
        let span = tracing::info_span!("deliver", delivery_id = %row.id, notification_id = %row.notification_id,
            channel = %row.channel, attempt = number);
        // The attempt continues the trace its notification was accepted
        // in, whichever process accepted it and however long ago.
        crate::telemetry::set_parent(&span, row.traceparent.as_deref());
        async {
            let started_at = now_ms();
            let t0 = Instant::now();
            let channel = self.channels.get(&row.channel).cloned();
            let result = match (
                &channel,
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&row.content),
            ) {
                (None, _) => SendResult::failed(
                    &row.channel,
                    format!("channel `{}` is not enabled in this process", row.channel),
                ),
                (_, Err(e)) => {
                    SendResult::failed(&row.channel, format!("stored content is unreadable: {e}"))
                }
                (Some(ch), Ok(content)) => {
                    let unsubscribe = match &self.runs {
                        Some(state) if row.channel == "email" && row.category == "marketing" => {
                            state.unsubscribe_url(&row.recipient, &row.category).await
                        }
                        _ => None,
                    };
                    ch.send(&Message {
                        delivery_id: &row.id,
                        notification_id: &row.notification_id,
                        recipient: &row.recipient,
                        category: &row.category,
                        attempt: (number - row.retry_base).max(1),
                        address: &row.address,
                        content: &content,
                        list_unsubscribe: unsubscribe.as_deref(),
                    })
                    .instrument(provider_span(&row))
                    .await
                }
            };
            let took = t0.elapsed();
            let duration_ms = took.as_millis() as i64;
            let (schedule, max_retry_after) = match &channel {
                Some(c) => (c.retry_schedule(), c.max_retry_after()),
                None => (&[][..], Duration::ZERO),
            };
            let in_cycle = (number - row.retry_base).max(1) as usize;
            let jitter = rand::random::<f64>() * 2.0 - 1.0;
            let next = retry::next_after(
                result.outcome,
                in_cycle,
                schedule,
                result.retry_after,
                max_retry_after,
                now_ms(),
                jitter,
            );
            if let Ok(c) = Channel::parse(&row.channel) {
                self.metrics
                    .attempt(c, &result.provider, result.outcome, took);
                if next.status.is_final() {
                    self.metrics
                        .finished(c, row.template_key.as_deref(), next.status);
                }
            }
            if result.outcome == Outcome::Transient && result.retry_after.is_some() {
                self.waited(&row.channel, &result.provider, Wait::ProviderPause);
            }
            match result.outcome {
                Outcome::Ok => tracing::debug!(duration_ms, "sent"),
                _ => tracing::info!(
                    duration_ms,
                    outcome = result.outcome.as_str(),
                    status = next.status.as_str(),
                    error = result.error.as_deref().unwrap_or(""),
                    "attempt failed"
                ),
            }
            Completion {
                delivery_id: row.id.clone(),
                claim_token: row.claim_token.clone(),
                status: next.status.as_str(),
                reason: next.reason.map(|r| r.to_string()),
                due_at: next.due_at,
                attempt: AttemptRow {
                    delivery_id: row.id.clone(),
                    number,
                    provider: result.provider,
                    started_at,
                    duration_ms,
                    outcome: result.outcome.as_str().to_string(),
                    status_code: result.status_code.map(i64::from),
                    response: result.response,
                    error: result.error,
                },
                template: row.template_key.clone(),
                channel: row.channel.clone(),
                accepted_at: row.created_at,
                trace: crate::telemetry::current(),
            }
        }
        .instrument(span)
        .await
    }
}

/// The span of a provider call inside an attempt, when tracing is
/// exported (none otherwise, so log lines stay as they were); it carries
/// the delivery's ids too, as the lines logged inside it do.
fn provider_span(row: &Claimed) -> tracing::Span {
    crate::telemetry::step(
        || {
            tracing::info_span!("send", otel.kind = "client", delivery_id = %row.id,
                notification_id = %row.notification_id, channel = %row.channel)
        },
        None,
    )
}

/// Writes completions in batches: one transaction for everything that
/// finished since the last write. A failed write is retried; if it keeps
/// failing the rows come back when their lease ends (at-least-once).
async fn record(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Completion>) {
    let mut batch = Vec::with_capacity(256);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let mut tries = 0;
        let started = std::time::SystemTime::now();
        let traced = |error: Option<&str>, batch: &[Completion]| {
            crate::telemetry::batch_span(
                "record",
                started,
                batch.iter().map(|c| c.trace.as_deref()),
                batch.len(),
                error,
            )
        };
        loop {
            let t0 = Instant::now();
            match store.complete(&batch, now_ms()).await {
                Ok(()) => {
                    traced(None, &batch);
                    if t0.elapsed() > SLOW {
                        tracing::warn!(
                            ms = t0.elapsed().as_millis() as u64,
                            n = batch.len(),
                            "recording attempts was slow"
                        );
                    }
                    break;
                }
                Err(e) if tries < 20 => {
                    tries += 1;
                    tracing::warn!(error = %e, tries, "recording attempts failed; retrying");
                    tokio::time::sleep(Duration::from_millis(250 * tries)).await;
                }
                Err(e) => {
                    traced(Some(&e.to_string()), &batch);
                    tracing::error!(error = %e, lost = batch.len(),
                        "recording attempts keeps failing; these deliveries will be sent again after their lease");
                    break;
                }
            }
        }
        batch.clear();
    }
}
