//! The metrics: counters and histograms kept in memory per [`App`]
//! (one registry each, no process-global recorder), plus gauges: the
//! queue's, counted in the database in the background every
//! `server.metrics_refresh` ([`refresh_gauges`]) so a scrape costs the same
//! at any backlog, and the channels', read when scraped. Served in the
//! OpenMetrics text format, which Prometheus reads natively, at
//! `GET /metrics` (`http::metrics`).
//!
//! The handles live in [`Metrics`], reachable from `AppState` and the
//! dispatcher. Recording is an atomic add after a label lookup; label
//! values on hot paths are `&'static str` wherever the set is known: the
//! recording calls take the domain's words (channel, status, reason,
//! outcome), so no input can grow the series count.
//!
//! [`App`]: crate::App

use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::channels::Channels;
use crate::domain::{Channel, Outcome, Reason, Status};
use crate::flow::provider_state::ProviderBoard;
use crate::store::Store;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Breaker states as `/v1/providers` reports them; one series each.
const CIRCUIT_STATES: [&str; 4] = ["closed", "open", "half_open", "paused"];

/// `s` as the `&'static str` it equals in `known`, else `other`: label
/// values from a fixed set, so no input can grow the series count.
pub fn known(s: &str, known: &[&'static str]) -> &'static str {
    known.iter().find(|k| **k == s).copied().unwrap_or("other")
}

/// A suppression reason (README, "Flow control") as a label value; anything else, or
/// none, is counted as `other`.
pub fn reason_label(reason: Option<Reason>) -> &'static str {
    match reason {
        Some(r) if r.is_suppression() => r.as_str(),
        _ => "other",
    }
}

/// `2xx`, `4xx`, ...: HTTP status classes, so series stay few.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// A request method as a label value; unusual methods are `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    known(
        method.as_str(),
        &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    )
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: &'static str,
    status: &'static str,
    /// The template key, or `inline`: bounded by the templates an operator
    /// makes, not by what senders send.
    template: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SuppressionLabels {
    channel: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReceiptLabels {
    source: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    channel: &'static str,
    provider: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    channel: &'static str,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WaitLabels {
    channel: &'static str,
    provider: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CircuitLabels {
    channel: Cow<'static, str>,
    provider: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    kind: &'static str,
    outcome: &'static str,
}

/// What a workflow run did, for `missive_workflow_runs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEvent {
    Started,
    Completed,
    Failed,
    Cancelled,
}

/// What a schedule's tick did with a due firing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firing {
    /// This process made the notification.
    Fired,
    /// Another process (or an earlier pass) fired it first.
    Duplicate,
    /// The workflow could not be triggered (archived, say).
    Failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn attempt_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

fn http_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// Why a delivery was held back without an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// A channel or provider rate limit had no token for it.
    RateLimit,
    /// The provider asked to be left alone (429 / Retry-After).
    ProviderPause,
    /// Its destination already had its share of sends in flight.
    DestinationBusy,
}

pub struct Metrics {
    registry: Registry,
    accepted: Family<OutcomeLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    suppressions: Family<SuppressionLabels, Counter>,
    receipts: Family<ReceiptLabels, Counter>,
    listed: Family<ChannelLabels, Counter>,
    attempts: Family<AttemptLabels, Counter>,
    attempt_duration: HistogramFamily<ProviderLabels>,
    waits: Family<WaitLabels, Counter>,
    queue_depth: Family<StatusLabels, Gauge>,
    /// When the most overdue waiting delivery was due (ms), as of the last
    /// count; [`NONE_DUE`] if none was waiting.
    oldest_due: AtomicI64,
    oldest_waiting: Gauge<f64, std::sync::atomic::AtomicU64>,
    circuit: Family<CircuitLabels, Gauge>,
    http: HistogramFamily<HttpLabels>,
    runs: Family<RunLabels, Counter>,
    steps: Family<StepLabels, Counter>,
    digest_size: Histogram,
    firings: Family<OutcomeLabels, Counter>,
    event_attempts: Family<OutcomeLabels, Counter>,
    endpoints_disabled: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("missive");
        let m = Metrics {
            accepted: Family::default(),
            deliveries: Family::default(),
            suppressions: Family::default(),
            receipts: Family::default(),
            listed: Family::default(),
            attempts: Family::default(),
            attempt_duration: Family::new_with_constructor(attempt_histogram),
            waits: Family::default(),
            queue_depth: Family::default(),
            oldest_due: AtomicI64::new(NONE_DUE),
            oldest_waiting: Gauge::default(),
            circuit: Family::default(),
            http: Family::new_with_constructor(http_histogram),
            runs: Family::default(),
            steps: Family::default(),
            digest_size: Histogram::new([
                1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
            ]),
            firings: Family::default(),
            event_attempts: Family::default(),
            endpoints_disabled: Counter::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "notifications_accepted",
            "Send requests answered 202, by outcome (created, idempotent_replay)",
            m.accepted.clone(),
        );
        r.register(
            "deliveries",
            "Deliveries that reached a final status (sent, failed, suppressed, cancelled), by channel; receipts' moves are in missive_receipts",
            m.deliveries.clone(),
        );
        r.register(
            "suppressions",
            "Deliveries suppressed on purpose, by channel and reason",
            m.suppressions.clone(),
        );
        r.register(
            "receipts",
            "Receipts from providers, by source and outcome: the status a delivery moved to \
             (delivered, undelivered, bounced, complained), recorded (moved nothing: late, or \
             not a final word), repeated, unknown (no such delivery)",
            m.receipts.clone(),
        );
        r.register(
            "suppression_list_additions",
            "Addresses a receipt put on the suppression list, by channel",
            m.listed.clone(),
        );
        r.register(
            "attempts",
            "Send attempts, by channel, provider and outcome (ok, transient, permanent)",
            m.attempts.clone(),
        );
        r.register_with_unit(
            "attempt_duration",
            "How long one send attempt took, by channel and provider",
            Unit::Seconds,
            m.attempt_duration.clone(),
        );
        r.register(
            "rate_limit_waits",
            "Times a delivery was held back by a rate limit (reason rate_limit), a provider's pause (reason provider_pause) or its destination's share of sends in flight (reason destination_busy)",
            m.waits.clone(),
        );
        r.register(
            "queue_depth",
            "Deliveries waiting in the queue, by status (counted in the database every server.metrics_refresh)",
            m.queue_depth.clone(),
        );
        r.register_with_unit(
            "queue_oldest_waiting",
            "How long the most overdue waiting delivery has been due; 0 when none is late",
            Unit::Seconds,
            m.oldest_waiting.clone(),
        );
        r.register(
            "provider_circuit_state",
            "1 for each provider's current circuit-breaker state, 0 for the others",
            m.circuit.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "HTTP requests, by method, route template and status class",
            Unit::Seconds,
            m.http.clone(),
        );
        r.register(
            "workflow_runs",
            "Workflow runs, by event (started, completed, failed, cancelled)",
            m.runs.clone(),
        );
        r.register(
            "workflow_steps",
            "Workflow steps, by kind (send, delay, digest) and outcome (done, skipped, failed, waiting, merged)",
            m.steps.clone(),
        );
        r.register(
            "digest_events",
            "Events in each digest as it closed",
            m.digest_size.clone(),
        );
        r.register(
            "schedule_firings",
            "Recurring schedules' due firings, by outcome (fired, duplicate: another process or pass fired it, failed)",
            m.firings.clone(),
        );
        r.register(
            "event_attempts",
            "Attempts to send a status event to a registered endpoint, by outcome (ok, failed)",
            m.event_attempts.clone(),
        );
        r.register(
            "endpoints_disabled",
            "Endpoints disabled because every attempt failed for events.disable_after",
            m.endpoints_disabled.clone(),
        );
        Metrics { registry, ..m }
    }

    /// One attempt to send a status event: `ok` or `failed`.
    pub fn event_attempt(&self, ok: bool) {
        self.event_attempts
            .get_or_create(&OutcomeLabels {
                outcome: if ok { "ok" } else { "failed" },
            })
            .inc();
    }

    /// An endpoint was disabled for failing.
    pub fn endpoint_disabled(&self) {
        self.endpoints_disabled.inc();
    }

    /// `n` workflow runs did `event`.
    pub fn runs(&self, event: RunEvent, n: u64) {
        let event = match event {
            RunEvent::Started => "started",
            RunEvent::Completed => "completed",
            RunEvent::Failed => "failed",
            RunEvent::Cancelled => "cancelled",
        };
        self.runs.get_or_create(&RunLabels { event }).inc_by(n);
    }

    /// A workflow step of `kind` (`send`, `delay`, `digest`) came to
    /// `outcome`.
    pub fn step(&self, kind: &'static str, outcome: &str) {
        let outcome = known(outcome, &["done", "skipped", "failed", "waiting", "merged"]);
        self.steps
            .get_or_create(&StepLabels { kind, outcome })
            .inc();
    }

    /// A digest closed with `events` events.
    pub fn digest_closed(&self, events: i64) {
        self.digest_size.observe(events as f64);
    }

    /// A schedule's due firing, and what came of it here.
    pub fn firing(&self, f: Firing) {
        let outcome = match f {
            Firing::Fired => "fired",
            Firing::Duplicate => "duplicate",
            Firing::Failed => "failed",
        };
        self.firings.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// A send request answered: a new notification or a replay, and the
    /// deliveries it suppressed (channel, reason).
    pub fn accepted(
        &self,
        replayed: bool,
        template: Option<&str>,
        suppressed: &[(Channel, Option<Reason>)],
    ) {
        let outcome = if replayed {
            "idempotent_replay"
        } else {
            "created"
        };
        self.accepted
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        for &(channel, reason) in suppressed {
            self.finished(channel, template, Status::Suppressed);
            self.suppressions
                .get_or_create(&SuppressionLabels {
                    channel: channel.as_str(),
                    reason: reason_label(reason),
                })
                .inc();
        }
    }

    /// A delivery of `template` (`None`: inline content) reached a final
    /// status.
    pub fn finished(&self, channel: Channel, template: Option<&str>, status: Status) {
        self.finished_n(channel, template, status, 1);
    }

    /// `n` deliveries on `channel` cancelled.
    pub fn cancelled(&self, channel: Channel, template: Option<&str>, n: u64) {
        self.finished_n(channel, template, Status::Cancelled, n);
    }

    fn finished_n(&self, channel: Channel, template: Option<&str>, status: Status, n: u64) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                channel: channel.as_str(),
                status: status.as_str(),
                template: template.unwrap_or("inline").to_string(),
            })
            .inc_by(n);
    }

    /// A receipt from `source` and what it did (a status, or `recorded`,
    /// `repeated`, `unknown`).
    pub fn receipt(&self, source: crate::domain::receipt::Source, outcome: &'static str) {
        self.receipts
            .get_or_create(&ReceiptLabels {
                source: source.as_str(),
                outcome,
            })
            .inc();
    }

    /// A receipt put an address on `channel` on the suppression list.
    pub fn listed(&self, channel: Channel) {
        self.listed
            .get_or_create(&ChannelLabels {
                channel: channel.as_str(),
            })
            .inc();
    }

    /// One attempt and how long it took.
    pub fn attempt(&self, channel: Channel, provider: &str, outcome: Outcome, took: Duration) {
        let channel = channel.as_str();
        self.attempts
            .get_or_create(&AttemptLabels {
                channel,
                provider: provider.to_string(),
                outcome: outcome.as_str(),
            })
            .inc();
        self.attempt_duration
            .get_or_create(&ProviderLabels {
                channel,
                provider: provider.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// A delivery held back without an attempt; `provider` is empty for a
    /// channel-wide limit.
    pub fn wait(&self, channel: Channel, provider: &str, why: Wait) {
        let reason = match why {
            Wait::RateLimit => "rate_limit",
            Wait::ProviderPause => "provider_pause",
            Wait::DestinationBusy => "destination_busy",
        };
        self.waits
            .get_or_create(&WaitLabels {
                channel: channel.as_str(),
                provider: provider.to_string(),
                reason,
            })
            .inc();
    }

    /// One HTTP request, by the route template it matched.
    pub fn http_request(&self, method: &'static str, route: String, status: u16, took: Duration) {
        self.http
            .get_or_create(&HttpLabels {
                method,
                route,
                status: status_class(status),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts the queue in the database, for the queue gauges. The app
    /// does so once before it serves, then [`refresh_gauges`] does.
    pub async fn count_queue(&self, store: &dyn Store) -> Result<(), crate::store::StoreError> {
        let depth = store.queue_depth(crate::util::now_ms()).await?;
        for s in Status::ALL
            .iter()
            .filter(|s| s.is_waiting())
            .map(|s| s.as_str())
        {
            let n = depth.iter().find(|d| d.status == s).map_or(0, |d| d.n);
            self.queue_depth
                .get_or_create(&StatusLabels { status: s })
                .set(n);
        }
        let oldest = depth.iter().filter_map(|d| d.oldest_due).min();
        self.oldest_due
            .store(oldest.unwrap_or(NONE_DUE), Ordering::Relaxed);
        Ok(())
    }

    /// The scrape-time gauges, then everything as OpenMetrics text. Reads
    /// no count from the database: the queue gauges are the last count's.
    pub async fn render(
        &self,
        providers: &ProviderBoard,
        channels: &Channels,
    ) -> anyhow::Result<String> {
        let now = crate::util::now_ms();
        let oldest = Some(self.oldest_due.load(Ordering::Relaxed)).filter(|&t| t != NONE_DUE);
        self.oldest_waiting.set(overdue_seconds(oldest, now));
        // Breakers and pauses shared with other processes, as they are now.
        if let Err(e) = providers.refresh().await {
            tracing::warn!(error = %e, "reading providers' shared state failed");
        }
        for p in channels.all().flat_map(|c| c.providers()) {
            for s in CIRCUIT_STATES {
                let channel = match Channel::parse(&p.channel) {
                    Ok(c) => Cow::Borrowed(c.as_str()),
                    Err(_) => Cow::Owned(p.channel.clone()),
                };
                self.circuit
                    .get_or_create(&CircuitLabels {
                        channel,
                        provider: p.provider.clone(),
                        state: s,
                    })
                    .set(i64::from(p.state == s));
            }
        }
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| anyhow::anyhow!("encoding metrics: {e}"))?;
        Ok(out)
    }
}

/// `Metrics::oldest_due` when nothing waits.
const NONE_DUE: i64 = i64::MIN;

/// Counts the queue for the gauges every `server.metrics_refresh`, until
/// `stop`. A failed count keeps the last values (and is tried again at the
/// next refresh).
pub async fn refresh_gauges(
    metrics: std::sync::Arc<Metrics>,
    store: std::sync::Arc<dyn Store>,
    every: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        tokio::select! {
            r = metrics.count_queue(store.as_ref()) => if let Err(e) = r {
                tracing::warn!(error = %e, "counting the queue for /metrics failed");
            },
            _ = stop.cancelled() => return,
        }
    }
}

/// Seconds since `due` (ms), or 0 if nothing is due yet.
pub fn overdue_seconds(due: Option<i64>, now: i64) -> f64 {
    due.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_come_from_fixed_sets() {
        assert_eq!(reason_label(Some(Reason::Duplicate)), "duplicate");
        assert_eq!(reason_label(Some(Reason::QuietHours)), "other");
        assert_eq!(reason_label(None), "other");
        assert_eq!(method_label(&axum::http::Method::POST), "POST");
        assert_eq!(
            method_label(&axum::http::Method::from_bytes(b"PROPFIND").unwrap()),
            "other"
        );
    }

    #[test]
    fn statuses_are_grouped_by_class() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(202), "2xx");
        assert_eq!(status_class(304), "3xx");
        assert_eq!(status_class(422), "4xx");
        assert_eq!(status_class(503), "5xx");
    }

    #[test]
    fn overdue_age_is_zero_until_something_is_due() {
        assert_eq!(overdue_seconds(None, 10_000), 0.0);
        assert_eq!(overdue_seconds(Some(12_000), 10_000), 0.0);
        assert_eq!(overdue_seconds(Some(7_500), 10_000), 2.5);
    }

    #[test]
    fn counters_render_with_the_prefix_and_total_suffix() {
        let m = Metrics::new();
        m.accepted(false, None, &[(Channel::Webhook, Some(Reason::Duplicate))]);
        m.accepted(true, None, &[]);
        m.attempt(
            Channel::Webhook,
            "webhook",
            Outcome::Ok,
            Duration::from_millis(30),
        );
        m.http_request(
            "POST",
            "/v1/notifications".into(),
            202,
            Duration::from_millis(2),
        );
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &m.registry).unwrap();
        for line in [
            "missive_notifications_accepted_total{outcome=\"created\"} 1",
            "missive_notifications_accepted_total{outcome=\"idempotent_replay\"} 1",
            "missive_deliveries_total{channel=\"webhook\",status=\"suppressed\",template=\"inline\"} 1",
            "missive_suppressions_total{channel=\"webhook\",reason=\"duplicate\"} 1",
            "missive_attempts_total{channel=\"webhook\",provider=\"webhook\",outcome=\"ok\"} 1",
            "missive_attempt_duration_seconds_count{channel=\"webhook\",provider=\"webhook\"} 1",
            "missive_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/notifications\",status=\"2xx\"} 1",
        ] {
            assert!(out.lines().any(|l| l == line), "no `{line}` in\n{out}");
        }
        assert!(out.ends_with("# EOF\n"));
    }
}
