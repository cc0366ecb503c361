//! The push channel: notifications to a recipient's devices through
//! providers `webpush` (browsers, VAPID + `aes128gcm`, webpush.rs) and
//! `file` (one JSON file per message, file.rs; the zero-configuration
//! default). FCM and APNs devices can be stored already
//! (`/v1/recipients/{id}/devices`); they are skipped until a provider for
//! them exists.
//!
//! A push delivery's address is the recipient's id, like in-app: its
//! devices are read when it is sent, not when it is accepted, so a device
//! added or removed meanwhile counts. One delivery reaches all of the
//! recipient's devices, one request each, and its attempt records every
//! device's answer, one line each (docs/decisions/0026-push-channel.md):
//! sent when at least one device took it, retried when none did and one
//! may later, failed otherwise. A device whose push service says 404 or
//! 410 is removed there and then.

mod file;
mod webpush;

pub use webpush::{encrypt, encrypt_with, Vapid, MAX_PAYLOAD};

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::outbox::Outbox;
use super::providers::{Kind, Provider, ProviderChannel};
use super::{truncate, Channel, Message, Outcome, SendResult, MAX_RESPONSE};
use crate::config::{ChannelConfig, Config};
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
            line.push_str(" (subscription gone: device removed)");
            self.gone.push(d.id.clone());
        }
        self.lines.push(line);
        self.results.push(r);
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
        let mut r = match decisive {
            Some(i) => self.results[i].clone(),
            None => SendResult::failed(
                &self.provider,
                "the recipient has no device this provider sends to",
            ),
        };
        r.provider = self.provider.clone();
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
                    "the recipient has no device this provider sends to".to_string()
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
    /// Sends `payload` to `devices` (all of the recipient's).
    async fn send(&self, msg: &Message<'_>, payload: &Value, devices: &[DeviceRow]) -> PushOutcome;
    /// The VAPID public key browsers subscribe with, if it has one.
    fn vapid_public_key(&self) -> Option<String> {
        None
    }
}

/// The push channel over the shared provider machinery.
pub struct Push {
    store: Arc<dyn Store>,
    vapid_public_key: Option<String>,
}

#[async_trait]
impl Kind for Push {
    const NAME: &'static str = NAME;
    type Provider = dyn PushProvider;

    async fn send(
        &self,
        provider: &dyn PushProvider,
        msg: &Message<'_>,
    ) -> Result<SendResult, String> {
        let payload = payload(msg)?;
        let devices = match self.store.list_devices(msg.address).await {
            Ok(d) => d,
            Err(e) => {
                return Ok(SendResult {
                    error: Some(format!("reading the recipient's devices: {e}")),
                    ..SendResult::new(provider.name(), Outcome::Transient)
                })
            }
        };
        let out = provider.send(msg, &payload, &devices).await;
        for id in &out.gone {
            match self.store.delete_device(msg.address, id).await {
                Ok(_) => {
                    tracing::info!(delivery_id = msg.delivery_id, device = %id, "push subscription gone: device removed")
                }
                Err(e) => {
                    tracing::warn!(delivery_id = msg.delivery_id, device = %id, error = %e, "removing a gone device failed")
                }
            }
        }
        Ok(out.result())
    }

    fn public_key(&self) -> Option<String> {
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
/// or `generated`, the one kept in the database and the data dir).
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
            other => anyhow::bail!("`{}.type`: unknown push provider type `{other}`", p.key),
        };
        providers.push(provider);
    }
    let vapid_public_key = providers.iter().find_map(|p| p.vapid_public_key());
    let kind = Push {
        store,
        vapid_public_key,
    };
    Ok(Arc::new(ProviderChannel::new(kind, providers, cfg)))
}
