//! The push channel: notifications to a recipient's devices through
//! providers `webpush` (browsers, VAPID + `aes128gcm`, webpush.rs), `fcm`
//! (Firebase Cloud Messaging HTTP v1 with a service account, fcm.rs),
//! `apns` (Apple Push Notification service with a token-signing key,
//! apns.rs) and `file` (one JSON file per message, file.rs; the
//! zero-configuration default).
//!
//! A push delivery's address is the recipient's id, like in-app: its
//! devices are read when it is sent, not when it is accepted, so a device
//! added or removed meanwhile counts. One delivery reaches all of the
//! recipient's devices, one request each, and its attempt records every
//! device's answer, one line each (docs/decisions/0026-push-channel.md):
//! sent when at least one device took it, retried when none did and one
//! may later, failed otherwise. A device whose push service says it is
//! gone (Web Push 404/410, FCM `UNREGISTERED`, APNs 410 or
//! `BadDeviceToken`) is removed there and then.
//!
//! Unlike email, the providers are not a failover order: each device goes
//! to the first listed provider of its kind (`webpush`, `fcm`, `apns`)
//! whose `apps` take the device's app, all of them at once; the outbox, if
//! listed, takes the devices no other provider does
//! (docs/decisions/0028-fcm-and-apns.md). Each provider keeps its own
//! breaker and pause.

pub mod apns;
mod fcm;
mod file;
mod keys;
mod webpush;

pub use webpush::{encrypt, encrypt_with, Vapid, MAX_PAYLOAD};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::failover::{Failover, ProviderStatus};
use super::outbox::Outbox;
use super::providers::Provider;
use super::{truncate, Channel, Message, Outcome, SendResult, MAX_RESPONSE};
use crate::config::{ChannelConfig, Config, RateLimit};
use crate::flow::provider_state::ProviderBoard;
use crate::store::{DeviceRow, Store};

pub const NAME: &str = crate::domain::Channel::Push.as_str();

/// The file under the data dir holding a copy of the generated VAPID key
/// (PKCS#8, base64), when the config gives none.
pub const VAPID_KEY_FILE: &str = "vapid-private-key";

/// The JSON object a device is sent, from the delivery's `push` parts:
/// `title` (required), `body`, `data` (JSON), `image`, `action_url`,
/// `badge`, `sound`; plus the notification's id (a service worker can use
/// it as the notification's tag).
pub fn payload(msg: &Message<'_>) -> Result<Value, String> {
    let part = |p: &str| match msg.content.get(p) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    };
    let title = part("title").ok_or("the template has no push title (push.title)")?;
    let mut out = Map::new();
    out.insert("title".into(), Value::String(title));
    for p in ["body", "image", "action_url", "badge", "sound"] {
        if let Some(v) = part(p) {
            out.insert(p.into(), Value::String(v));
        }
    }
    if let Some(d) = part("data") {
        let v: Value =
            serde_json::from_str(&d).map_err(|e| format!("push.data is not valid JSON ({e})"))?;
        out.insert("data".into(), v);
    }
    out.insert(
        "notification_id".into(),
        Value::String(msg.notification_id.to_string()),
    );
    Ok(Value::Object(out))
}

/// What sending to a recipient's devices came to: one result for the
/// delivery, each device's line, and the devices found gone.
pub struct PushOutcome {
    provider: String,
    lines: Vec<String>,
    results: Vec<SendResult>,
    pub gone: Vec<String>,
    /// A result for the whole message (the outbox), not per device.
    whole: Option<SendResult>,
}

impl PushOutcome {
    pub fn new(provider: &str) -> PushOutcome {
        PushOutcome {
            provider: provider.to_string(),
            lines: Vec::new(),
            results: Vec::new(),
            gone: Vec::new(),
            whole: None,
        }
    }

    /// A result for the whole message rather than per device.
    pub fn add_whole(&mut self, r: SendResult) {
        self.whole = Some(r);
    }

    /// One device's answer.
    pub fn add(&mut self, d: &DeviceRow, r: SendResult, line: String, gone: bool) {
        let mut line = format!("{} ({}): {line}", d.id, host(d));
        if gone {
            line.push_str(if d.kind == "webpush" {
                " (subscription gone: device removed)"
            } else {
                " (token gone: device removed)"
            });
            self.gone.push(d.id.clone());
        }
        self.lines.push(line);
        self.results.push(r);
    }

    /// What this provider's part came to, for its breaker: sent when a
    /// device took it, else transient (with the longest Retry-After) when
    /// one may later, else permanent; `None` when nothing was sent.
    fn provider_outcome(&self) -> Option<(Outcome, Option<Duration>)> {
        if let Some(w) = &self.whole {
            return Some((w.outcome, w.retry_after));
        }
        let any = |o: Outcome| self.results.iter().any(|r| r.outcome == o);
        if any(Outcome::Ok) {
            Some((Outcome::Ok, None))
        } else if any(Outcome::Transient) {
            let wait = self.results.iter().filter_map(|r| r.retry_after).max();
            Some((Outcome::Transient, wait))
        } else if self.results.is_empty() {
            None
        } else {
            Some((Outcome::Permanent, None))
        }
    }

    /// Takes another provider's part of the same send into this one.
    fn merge(&mut self, other: PushOutcome, devices: usize) {
        if let Some(w) = other.whole {
            let what = w
                .response
                .clone()
                .or_else(|| w.error.clone())
                .unwrap_or_default();
            self.lines.push(format!(
                "{} ({devices} devices): {}",
                other.provider,
                what.lines().next().unwrap_or_default()
            ));
            self.results.push(w);
        }
        self.lines.extend(other.lines);
        self.results.extend(other.results);
        self.gone.extend(other.gone);
    }

    /// A device not sent to.
    pub fn skip(&mut self, d: &DeviceRow, why: &str) {
        self.lines
            .push(format!("{} ({}): skipped, {why}", d.id, d.kind));
    }

    /// The delivery's result: sent when a device took it; else transient
    /// when a device may later (the longest Retry-After asked); else
    /// permanent.
    pub fn result(self) -> SendResult {
        if let Some(r) = self.whole {
            return r;
        }
        let pick = |o: Outcome| self.results.iter().position(|r| r.outcome == o);
        let decisive = pick(Outcome::Ok)
            .or_else(|| pick(Outcome::Transient))
            .or_else(|| (!self.results.is_empty()).then(|| self.results.len() - 1));
        // The decisive device's provider is the attempt's.
        let mut r = match decisive {
            Some(i) => self.results[i].clone(),
            None => SendResult::failed(
                &self.provider,
                "the recipient has no device a push provider here sends to",
            ),
        };
        if r.outcome == Outcome::Transient {
            r.retry_after = self.results.iter().filter_map(|r| r.retry_after).max();
        }
        let sent = self
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Ok)
            .count();
        let summary = format!("{sent} of {} devices took it", self.results.len());
        if r.outcome != Outcome::Ok {
            r.error = Some(match r.error {
                Some(e) if self.results.len() <= 1 => e,
                _ if self.results.is_empty() => {
                    "the recipient has no device a push provider here sends to".to_string()
                }
                _ => summary.clone(),
            });
        }
        let mut text = summary;
        for l in &self.lines {
            text.push('\n');
            text.push_str(l);
        }
        r.response = Some(truncate(text, MAX_RESPONSE));
        r
    }
}

/// The host of a device's endpoint, for its line in the attempt log (the
/// rest of an endpoint is a bearer capability: it is not repeated).
fn host(d: &DeviceRow) -> String {
    d.endpoint
        .as_deref()
        .and_then(|e| reqwest::Url::parse(e).ok())
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| d.kind.clone())
}

/// One configured push provider.
#[async_trait]
pub trait PushProvider: Provider {
    /// Sends `payload` to `devices` (those of the recipient's routed here).
    async fn send(&self, msg: &Message<'_>, payload: &Value, devices: &[DeviceRow]) -> PushOutcome;
    /// The kind of device it sends to (`webpush`, `fcm`, `apns`); `None`
    /// for the outbox, which takes what no other provider does.
    fn device_kind(&self) -> Option<&str>;
    /// The apps (a device's `app`) it sends to; empty: any.
    fn apps(&self) -> &[String] {
        &[]
    }
    /// The VAPID public key browsers subscribe with, if it has one.
    fn vapid_public_key(&self) -> Option<String> {
        None
    }
}

/// Whether `p` sends to `d`: the same kind, and an app it lists (a device
/// with no app goes to any provider of its kind).
fn takes(p: &dyn PushProvider, d: &DeviceRow) -> bool {
    p.device_kind() == Some(d.kind.as_str())
        && (p.apps().is_empty()
            || d.app
                .as_ref()
                .is_none_or(|a| p.apps().iter().any(|x| x == a)))
}

/// The push channel: each device to the provider for its kind and app.
pub struct PushChannel {
    store: Arc<dyn Store>,
    /// One per provider (each keeps its own breaker and pause), in the
    /// order of `channels.push.providers`.
    providers: Vec<Failover<Box<dyn PushProvider>>>,
    names: Vec<String>,
    limits: Vec<Option<RateLimit>>,
    retry_schedule: Vec<Duration>,
    max_retry_after: Duration,
    /// The longest one provider's part of a send may take.
    timeout: Duration,
    vapid_public_key: Option<String>,
}

impl PushChannel {
    fn provider(&self, i: usize) -> &dyn PushProvider {
        self.providers[i].likely(1).as_ref()
    }

    /// Which provider each device goes to (by index), and the devices none
    /// takes.
    fn route<'a>(&self, devices: &'a [DeviceRow]) -> (Vec<Vec<&'a DeviceRow>>, Vec<&'a DeviceRow>) {
        let mut groups = vec![Vec::new(); self.providers.len()];
        let mut none = Vec::new();
        let outbox = self.outbox();
        for d in devices {
            match (0..self.providers.len())
                .find(|&i| takes(self.provider(i), d))
                .or(outbox)
            {
                Some(i) => groups[i].push(d),
                None => none.push(d),
            }
        }
        (groups, none)
    }

    /// The outbox's index, if it is listed.
    fn outbox(&self) -> Option<usize> {
        (0..self.providers.len()).find(|&i| self.provider(i).device_kind().is_none())
    }
}

#[async_trait]
impl Channel for PushChannel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn retry_schedule(&self) -> &[Duration] {
        &self.retry_schedule
    }

    fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    async fn send(&self, msg: &Message<'_>) -> SendResult {
        let first = self.names[0].as_str();
        let payload = match payload(msg) {
            Ok(p) => p,
            Err(e) => return SendResult::failed(first, e),
        };
        let devices = match self.store.list_devices(msg.address).await {
            Ok(d) => d,
            Err(e) => {
                return SendResult {
                    error: Some(format!("reading the recipient's devices: {e}")),
                    ..SendResult::new(first, Outcome::Transient)
                }
            }
        };
        let (groups, none) = self.route(&devices);
        let outbox = self.outbox();
        let payload = &payload;
        let calls = groups.iter().enumerate().filter_map(|(i, g)| {
            // The outbox writes the message even for a recipient with no
            // device at all.
            let call = !g.is_empty() || (devices.is_empty() && Some(i) == outbox);
            call.then_some(async move {
                let (index, p) = self.providers[i].pick(1).await;
                let owned: Vec<DeviceRow> = g.iter().map(|d| (*d).clone()).collect();
                // A provider's whole part (an access token, the requests,
                // one more after a new token) ends within one timeout, so
                // a send stays inside the worker's lease.
                let out =
                    match tokio::time::timeout(self.timeout, p.send(msg, payload, &owned)).await {
                        Ok(out) => out,
                        Err(_) => {
                            let mut out = PushOutcome::new(p.name());
                            let e = format!(
                                "no answer within {}",
                                humantime::format_duration(self.timeout)
                            );
                            for d in &owned {
                                let r = SendResult {
                                    error: Some(e.clone()),
                                    ..SendResult::new(p.name(), Outcome::Transient)
                                };
                                out.add(d, r, e.clone(), false);
                            }
                            out
                        }
                    };
                if let Some((o, wait)) = out.provider_outcome() {
                    self.providers[i].record(index, o, wait);
                }
                (out, g.len())
            })
        });
        let parts = futures::future::join_all(calls).await;
        let mut out = PushOutcome::new(first);
        if parts.len() == 1 && parts[0].0.whole.is_some() && none.is_empty() {
            out = parts.into_iter().next().unwrap().0;
        } else {
            for (part, n) in parts {
                out.merge(part, n);
            }
            for d in none {
                let why = match &d.app {
                    Some(app) => format!("no {} provider here takes app {app:?}", d.kind),
                    None => format!("no {} provider here", d.kind),
                };
                out.skip(d, &why);
            }
        }
        for id in &out.gone {
            match self.store.delete_device(msg.address, id).await {
                Ok(_) => {
                    tracing::info!(delivery_id = msg.delivery_id, device = %id, "push device gone: removed")
                }
                Err(e) => {
                    tracing::warn!(delivery_id = msg.delivery_id, device = %id, error = %e, "removing a gone device failed")
                }
            }
        }
        out.result()
    }

    fn providers(&self) -> Vec<ProviderStatus> {
        self.providers
            .iter()
            .flat_map(|f| f.status(NAME, |p| p.name().to_string()))
            .collect()
    }

    fn share_provider_state(&self, board: &Arc<ProviderBoard>) {
        for f in &self.providers {
            f.share(board, NAME, |p| p.name().to_string());
        }
    }

    /// When every provider is paused, the end of the first pause.
    fn paused_until(&self) -> Option<i64> {
        self.providers
            .iter()
            .map(|f| f.all_paused_until())
            .try_fold(i64::MAX, |first, until| Some(first.min(until?)))
    }

    /// The first provider with its own rate limit: which providers a send
    /// reaches is known only once the devices are read.
    fn provider_limit(&self, _address: &str, _attempt: i64) -> Option<(String, RateLimit)> {
        self.limits
            .iter()
            .zip(&self.names)
            .find_map(|(l, n)| l.map(|l| (n.clone(), l)))
    }

    /// The first remote provider: a push send's requests in flight are
    /// bounded under its name.
    fn destination(&self, _address: &str, _attempt: i64) -> Option<String> {
        (0..self.providers.len())
            .map(|i| self.provider(i))
            .find(|p| p.remote())
            .map(|p| format!("{NAME}:{}", p.name()))
    }

    fn vapid_public_key(&self) -> Option<String> {
        self.vapid_public_key.clone()
    }
}

/// Whether `channels.push` has a `webpush` provider with no key of its
/// own: then one is generated on first start and kept in the database
/// (so every process on it signs with the same key), and written to
/// DATA_DIR/vapid-private-key (0600).
pub fn needs_generated_key(cfg: &ChannelConfig) -> bool {
    cfg.providers.iter().any(|p| {
        p.kind == "webpush"
            && p.settings
                .get("vapid_private_key")
                .and_then(Value::as_str)
                .is_none_or(|k| k.trim().is_empty())
    })
}

/// Checks one `channels.push` provider without sending (`missive
/// doctor`): a `webpush` table's subject and VAPID keys parse (its own,
/// or `generated`, the one kept in the database and the data dir); an
/// `fcm` table's service account file and an `apns` table's signing key
/// file are readable and parse.
pub fn check(
    p: &crate::config::ProviderConfig,
    cfg: &ChannelConfig,
    generated: Option<&str>,
) -> Result<String, String> {
    match p.kind.as_str() {
        "webpush" => {
            let w =
                webpush::WebPush::new(p, cfg.timeout, generated).map_err(|e| format!("{e:#}"))?;
            let key = w.vapid_public_key().unwrap_or_default();
            Ok(format!(
                "subject and VAPID key pair valid (public key {}...)",
                key.chars().take(12).collect::<String>()
            ))
        }
        "fcm" => fcm::Fcm::new(p, cfg.timeout)
            .map(|_| {
                "service account credentials file readable and valid (not contacted: a request would send)"
                    .into()
            })
            .map_err(|e| format!("{e:#}")),
        "apns" => apns::Apns::new(p, cfg.timeout)
            .map(|_| {
                "signing key file readable and valid (not contacted: a request would send)".into()
            })
            .map_err(|e| format!("{e:#}")),
        "file" => Ok("writes JSON files to the outbox (nothing to contact)".into()),
        other => Err(format!(
            "`{}.type`: unknown push provider type `{other}`",
            p.key
        )),
    }
}

/// A new VAPID key as base64 PKCS#8, as the database keeps it.
pub fn new_key() -> anyhow::Result<String> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    Ok(STANDARD.encode(Vapid::generate().map_err(anyhow::Error::msg)?))
}

/// Builds the push channel from `channels.push`; it reads devices from
/// `store`.
pub fn build(
    cfg: &ChannelConfig,
    root: &Config,
    store: Arc<dyn Store>,
    generated: Option<&str>,
) -> anyhow::Result<Arc<dyn Channel>> {
    let mut providers: Vec<Box<dyn PushProvider>> = Vec::new();
    for p in &cfg.providers {
        let provider: Box<dyn PushProvider> = match p.kind.as_str() {
            "file" => Box::new(Outbox::new(p, root, NAME)?),
            "webpush" => Box::new(webpush::WebPush::new(p, cfg.timeout, generated)?),
            "fcm" => Box::new(fcm::Fcm::new(p, cfg.timeout)?),
            "apns" => Box::new(apns::Apns::new(p, cfg.timeout)?),
            other => anyhow::bail!("`{}.type`: unknown push provider type `{other}`", p.key),
        };
        providers.push(provider);
    }
    if providers.is_empty() {
        anyhow::bail!("`channels.push.providers` is empty: give at least one provider, or file");
    }
    let vapid_public_key = providers.iter().find_map(|p| p.vapid_public_key());
    Ok(Arc::new(PushChannel {
        store,
        names: providers.iter().map(|p| p.name().to_string()).collect(),
        limits: cfg.providers.iter().map(|p| p.rate_limit).collect(),
        providers: providers
            .into_iter()
            .map(|p| Failover::new(vec![p], cfg.breaker_threshold, cfg.breaker_cool_down))
            .collect(),
        retry_schedule: cfg.retry_schedule.clone(),
        max_retry_after: cfg.max_retry_after,
        timeout: cfg.timeout,
        vapid_public_key,
    }))
}
