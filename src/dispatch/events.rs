//! Sends status events to the endpoints registered for them: claims due
//! messages with a lease (like deliveries: a process that dies holding
//! some leaves them to be claimed again), POSTs each signed with Standard
//! Webhooks through the guarded client (`channels::http::Direct`, as the
//! webhook channel), and records the attempt. Failures
//! are retried on the webhook channel's schedule; an endpoint whose every
//! attempt has failed for `events.disable_after` is disabled.
//! See docs/decisions/0027-status-events-to-endpoints.md.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::channels::http::{Direct, Guard, Naming};
use crate::channels::webhook::{decode_secret, sign};
use crate::channels::{SendResult, MAX_RESPONSE};
use crate::config::Config;
use crate::domain::Outcome;
use crate::metrics::Metrics;
use crate::store::events::{
    EndpointAttemptRow, EndpointRow, MessageOutcome, MessageRow, FAILED, PENDING, SUCCEEDED,
};
use crate::store::Store;
use crate::util::{new_id, now_ms, rfc3339};

/// Messages claimed at once.
const BATCH: i64 = 64;

pub struct EventSender {
    store: Arc<dyn Store>,
    client: Direct,
    schedule: Vec<Duration>,
    max_retry_after: Duration,
    lease: Duration,
    poll: Duration,
    disable_after: Duration,
    concurrency: usize,
    metrics: Arc<Metrics>,
}

/// Reads which event types enabled endpoints want every `every`, so a
/// change made through another process reaches this one's writes. Every
/// role runs it: API processes write receipts' and reads' events too.
pub async fn refresh_subscriptions(
    store: Arc<dyn Store>,
    every: Duration,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = store.refresh_subscribed().await {
            tracing::warn!(error = %e, "reading endpoints' event types failed");
        }
    }
}

/// The body of an event: Standard Webhooks' `type`, `timestamp`, `data`.
pub fn body(m: &MessageRow) -> String {
    let data = if m.kind == "notification.completed" {
        json!({ "notification_id": m.notification_id })
    } else {
        json!({
            "delivery_id": m.delivery_id,
            "notification_id": m.notification_id,
            "recipient": m.recipient,
            "channel": m.channel,
            "status": m.status,
            "detail": m.detail,
            "provider": m.provider,
        })
    };
    json!({ "type": m.kind, "timestamp": rfc3339(m.created_at), "data": data }).to_string()
}

/// The `webhook-signature` value: the current secret's, and during a
/// rotation's grace the previous one's after it.
pub fn signatures(e: &EndpointRow, id: &str, ts: i64, body: &str, now: i64) -> String {
    let mut out = Vec::with_capacity(2);
    if let Some(key) = decode_secret(&e.secret) {
        out.push(sign(&key, id, ts, body));
    }
    if let (Some(old), Some(until)) = (&e.previous_secret, e.previous_secret_until) {
        if until > now {
            if let Some(key) = decode_secret(old) {
                out.push(sign(&key, id, ts, body));
            }
        }
    }
    out.join(" ")
}

impl EventSender {
    pub fn new(store: Arc<dyn Store>, cfg: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let guard = Guard::new(cfg.webhook.allow_private, "channels.webhook.allow_private");
        let client = Direct::new(guard, cfg.webhook.timeout, Naming::Url, 16)?;
        Ok(EventSender {
            store,
            client,
            schedule: cfg.webhook.retry_schedule.clone(),
            max_retry_after: cfg.webhook.max_retry_after,
            lease: cfg.worker.lease,
            poll: cfg.worker.poll_interval,
            disable_after: cfg.events.disable_after,
            concurrency: cfg.events.concurrency,
            metrics,
        })
    }

    pub async fn run(self, stop: CancellationToken) {
        let me = Arc::new(self);
        loop {
            if stop.is_cancelled() {
                return;
            }
            // Looked for through the read pool first, so an idle sender
            // never takes SQLite's one writer connection.
            let now = now_ms();
            let due = match me.store.next_message_due().await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "looking for status events failed");
                    None
                }
            };
            let claimed = if due.is_some_and(|d| d <= now) {
                let token = new_id();
                let lease_until = now + me.lease.as_millis() as i64;
                match me
                    .store
                    .claim_messages(now, lease_until, BATCH, &token)
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming status events failed");
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            if claimed.is_empty() {
                let wait = match due {
                    Some(d) if d > now => Duration::from_millis((d - now) as u64),
                    _ => me.poll,
                }
                .min(me.poll);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = me.store.subscribed().wait_written() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            let mut endpoints: HashMap<String, Option<EndpointRow>> = HashMap::new();
            for m in &claimed {
                if !endpoints.contains_key(&m.endpoint_id) {
                    let e = me.store.get_endpoint(&m.endpoint_id).await.ok().flatten();
                    endpoints.insert(m.endpoint_id.clone(), e);
                }
            }
            let endpoints = Arc::new(endpoints);
            futures::stream::iter(claimed)
                .for_each_concurrent(me.concurrency, |m| {
                    let me = me.clone();
                    let endpoints = endpoints.clone();
                    async move {
                        let e = endpoints.get(&m.endpoint_id).cloned().flatten();
                        me.deliver(m, e).await;
                    }
                })
                .await;
        }
    }

    /// Sends one message (or fails it without an attempt when its endpoint
    /// is gone or disabled) and records what became of it.
    async fn deliver(&self, m: MessageRow, e: Option<EndpointRow>) {
        let token = m.claim_token.clone().unwrap_or_default();
        let outcome = match e.as_ref().filter(|e| e.enabled == 1) {
            None => MessageOutcome {
                endpoint_id: m.endpoint_id.clone(),
                message_id: m.id.clone(),
                claim_token: token,
                state: FAILED,
                due_at: None,
                attempt: None,
                error: Some(
                    if e.is_some() {
                        "endpoint disabled"
                    } else {
                        "endpoint deleted"
                    }
                    .into(),
                ),
            },
            Some(e) => self.attempt(&m, e, token).await,
        };
        let ok = outcome.attempt.as_ref().map(|a| a.outcome == "ok");
        if let Some(ok) = ok {
            self.metrics.event_attempt(ok);
        }
        let now = now_ms();
        let disable_before = now - self.disable_after.as_millis() as i64;
        match self
            .store
            .record_message(&outcome, disable_before, now)
            .await
        {
            Ok(true) => {
                self.metrics.endpoint_disabled();
                tracing::warn!(
                    endpoint = %m.endpoint_id,
                    "endpoint disabled: every attempt failed for events.disable_after"
                );
                if let Err(e) = self.store.refresh_subscribed().await {
                    tracing::warn!(error = %e, "reading endpoints' event types failed");
                }
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, message = %m.id, "recording a status event's attempt failed")
            }
        }
    }

    async fn attempt(&self, m: &MessageRow, e: &EndpointRow, token: String) -> MessageOutcome {
        let started_at = now_ms();
        let clock = Instant::now();
        let body = body(m);
        let ts = started_at / 1000;
        let mut r = SendResult::new("endpoint", Outcome::Transient);
        match reqwest::Url::parse(&e.url) {
            Err(_) => r.error = Some("the endpoint's URL does not parse".into()),
            Ok(url) => {
                let signature = signatures(e, &m.id, ts, &body, started_at);
                let ts = ts.to_string();
                let headers = [
                    ("content-type", "application/json"),
                    ("webhook-id", m.id.as_str()),
                    ("webhook-timestamp", ts.as_str()),
                    ("webhook-signature", signature.as_str()),
                ];
                let answer = self.client.post(&mut r, &url, &headers, body, MAX_RESPONSE);
                if let Some(answer) = answer.await {
                    r.response = Some(answer);
                }
                if r.outcome != Outcome::Ok && r.error.is_none() {
                    r.error = Some(format!(
                        "endpoint answered HTTP {}",
                        r.status_code.unwrap_or_default()
                    ));
                }
            }
        }
        let ok = r.outcome == Outcome::Ok;
        let number = m.attempts + 1;
        let now = now_ms();
        // Every failure is retried on the schedule: the endpoint is the
        // business system's own, and what it refuses now it may take
        // after a fix.
        let (state, due_at) = if ok {
            (SUCCEEDED, None)
        } else {
            match self
                .schedule
                .get((number - m.retry_base - 1).max(0) as usize)
            {
                Some(base) => {
                    let jitter = rand::random::<f64>() * 2.0 - 1.0;
                    let wait = super::retry::retry_wait(
                        *base,
                        r.retry_after,
                        self.max_retry_after,
                        jitter,
                    );
                    (PENDING, Some(now + wait.as_millis() as i64))
                }
                None => (FAILED, None),
            }
        };
        MessageOutcome {
            endpoint_id: m.endpoint_id.clone(),
            message_id: m.id.clone(),
            claim_token: token,
            state,
            due_at,
            error: if ok { None } else { r.error.clone() },
            attempt: Some(EndpointAttemptRow {
                id: new_id(),
                endpoint_id: m.endpoint_id.clone(),
                message_id: m.id.clone(),
                number,
                started_at,
                duration_ms: clock.elapsed().as_millis() as i64,
                outcome: if ok { "ok" } else { "failed" }.into(),
                status_code: r.status_code.map(i64::from),
                response: r.response,
                error: r.error,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(secret: &str, previous: Option<(&str, i64)>) -> EndpointRow {
        EndpointRow {
            id: "e".into(),
            url: "http://x".into(),
            description: String::new(),
            event_types: "*".into(),
            enabled: 1,
            disabled_reason: None,
            secret: secret.into(),
            previous_secret: previous.map(|p| p.0.to_string()),
            previous_secret_until: previous.map(|p| p.1),
            failing_since: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_previous_secret_signs_only_during_its_grace() {
        let new = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let old = crate::domain::secrets::generate_webhook_secret();
        let e = endpoint(new, Some((&old, 1_000)));
        let during = signatures(
            &e,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            999,
        );
        let parts: Vec<&str> = during.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let after = signatures(
            &e,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            1_000,
        );
        assert_eq!(after, parts[0]);
    }
}
