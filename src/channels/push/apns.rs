//! The `apns` provider: Apple Push Notification service over HTTP/2 with
//! token-based authentication.
//!
//! Requests carry an ES256 JWT made from the team's `.p8` signing key
//! (`kid` the key id, `iss` the team id, `iat`); one JWT is used for up to
//! 50 minutes (Apple refuses one older than an hour and one renewed more
//! often than every 20 minutes) and made anew sooner only when APNs says
//! `ExpiredProviderToken`, after which the request is sent once more. Each
//! device is one `POST {base_url}/3/device/{token}`, all at once, over the
//! one HTTP/2 connection the client keeps.
//!
//! What an answer means: 410 (`Unregistered`) and 400 `BadDeviceToken`
//! mean the token is gone (the device is removed); 429 and 5xx are
//! transient; anything else permanent. The signing key and the JWT are
//! never logged or recorded.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::keys::{badge_count, jwt, part, pkcs8_der, read_key_file};
use super::{PushOutcome, PushProvider};
use crate::channels::http::{classify_status, http_url, Client};
use crate::channels::providers::Provider;
use crate::channels::{Message, Outcome, SendResult};
use crate::config::ProviderConfig;
use crate::store::DeviceRow;

const PRODUCTION: &str = "https://api.push.apple.com";
const SANDBOX: &str = "https://api.sandbox.push.apple.com";
/// A JWT is used this long, then made anew.
const JWT_REUSE: Duration = Duration::from_secs(50 * 60);
/// The largest payload APNs takes for a notification.
pub const MAX_PAYLOAD: usize = 4096;
/// The longest APNs device token taken (Apple's are 64 hex digits); the
/// devices API refuses longer ones.
pub const MAX_DEVICE_TOKEN: usize = 200;
/// Enough of an APNs answer: `{"reason": ..., "timestamp": ...}`.
const READ_LIMIT: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// The `.p8` token-signing key from the Apple developer account.
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    key_id: String,
    #[serde(default)]
    team_id: String,
    /// The app's bundle id (`apns-topic`).
    #[serde(default)]
    topic: String,
    #[serde(default)]
    sandbox: bool,
    /// Empty: Apple's production or sandbox host.
    #[serde(default)]
    base_url: String,
    #[serde(default = "default_push_type")]
    push_type: String,
    #[serde(default = "default_priority")]
    priority: u8,
    #[serde(default = "default_expiration")]
    expiration: String,
    #[serde(default)]
    apps: Vec<String>,
    #[serde(default)]
    allow_private: bool,
}

fn default_push_type() -> String {
    "alert".into()
}

fn default_priority() -> u8 {
    10
}

fn default_expiration() -> String {
    "1d".into()
}

/// A JWT and when it was made.
struct ProviderToken {
    value: String,
    made: Instant,
}

pub struct Apns {
    name: String,
    client: Client,
    base: String,
    key: EcdsaKeyPair,
    key_id: String,
    team_id: String,
    topic: String,
    push_type: String,
    priority: u8,
    /// Seconds APNs keeps a notification for an offline device; 0: once.
    expiration: u64,
    apps: Vec<String>,
    jwt: Mutex<Option<ProviderToken>>,
}

/// Apple's key and team ids: 10 letters or digits.
fn apple_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 32 && v.chars().all(|c| c.is_ascii_alphanumeric())
}

impl Apns {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> anyhow::Result<Apns> {
        let s: Settings = p.parse()?;
        let text = read_key_file(p, "key_file", &s.key_file)?;
        let der = pkcs8_der(&text).ok_or_else(|| {
            p.invalid(
                "key_file",
                "not a .p8 key: no PEM \"PRIVATE KEY\" block (the contents are not shown)",
            )
        })?;
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
                .map_err(|e| {
                    p.invalid(
                        "key_file",
                        format!("not a P-256 PKCS#8 signing key ({e}; the contents are not shown)"),
                    )
                })?;
        let (key_id, team_id, topic) = (s.key_id.trim(), s.team_id.trim(), s.topic.trim());
        if !apple_id(key_id) {
            return Err(p
                .invalid("key_id", "the signing key's id, e.g. \"ABC123DEFG\"")
                .into());
        }
        if !apple_id(team_id) {
            return Err(p
                .invalid(
                    "team_id",
                    "the Apple developer team id, e.g. \"DEF123GHIJ\"",
                )
                .into());
        }
        if topic.is_empty()
            || topic.len() > 255
            || topic.chars().any(|c| c.is_control() || c == ' ')
        {
            return Err(p
                .invalid("topic", "the app's bundle id, e.g. \"com.example.app\"")
                .into());
        }
        let base = match s.base_url.trim() {
            "" if s.sandbox => SANDBOX.to_string(),
            "" => PRODUCTION.to_string(),
            b => {
                let u = http_url(p, "base_url", b)?;
                if u.scheme() != "https" && !s.allow_private {
                    return Err(p
                        .invalid(
                            "base_url",
                            "must be https (http only with allow_private, for a local server)",
                        )
                        .into());
                }
                u.as_str().trim_end_matches('/').to_string()
            }
        };
        let push_types = [
            "alert",
            "background",
            "voip",
            "complication",
            "fileprovider",
            "mdm",
            "liveactivity",
            "pushtotalk",
        ];
        if !push_types.contains(&s.push_type.as_str()) {
            return Err(p
                .invalid("push_type", format!("one of {}", push_types.join(", ")))
                .into());
        }
        if ![1, 5, 10].contains(&s.priority) {
            return Err(p
                .invalid("priority", "10 (at once), 5 (power-saving) or 1 (lowest)")
                .into());
        }
        let expiration = humantime::parse_duration(s.expiration.trim())
            .map_err(|_| {
                p.invalid(
                    "expiration",
                    "a duration such as \"1d\", or \"0s\": deliver once or drop",
                )
            })?
            .as_secs();
        Ok(Apns {
            name: p.name.clone(),
            client: Client::for_provider_http2(p, s.allow_private, timeout)?,
            base,
            key,
            key_id: key_id.to_string(),
            team_id: team_id.to_string(),
            topic: topic.to_string(),
            push_type: s.push_type,
            priority: s.priority,
            expiration,
            apps: s.apps,
            jwt: Mutex::new(None),
        })
    }

    /// The provider JWT: the kept one unless it is `stale` (APNs said
    /// `ExpiredProviderToken` to it) or 50 minutes old, else a new one.
    fn provider_token(&self, stale: Option<&str>) -> Result<String, String> {
        let mut slot = self.jwt.lock().unwrap();
        if let Some(t) = slot.as_ref() {
            if t.made.elapsed() < JWT_REUSE && stale != Some(t.value.as_str()) {
                return Ok(t.value.clone());
            }
        }
        let value = self.sign(chrono::Utc::now().timestamp())?;
        *slot = Some(ProviderToken {
            value: value.clone(),
            made: Instant::now(),
        });
        Ok(value)
    }

    /// A new JWT issued at `now` (Unix s).
    fn sign(&self, now: i64) -> Result<String, String> {
        jwt(
            &json!({"alg": "ES256", "kid": self.key_id}),
            &json!({"iss": self.team_id, "iat": now}),
            |input| {
                self.key
                    .sign(&SystemRandom::new(), input)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| "signing the APNs token failed".to_string())
            },
        )
    }

    /// Sends to one device: the result, the attempt line, and whether the
    /// device is gone.
    async fn one(&self, d: &DeviceRow, body: &str) -> (SendResult, String, bool) {
        let token = d.token.as_deref().unwrap_or_default();
        if token.is_empty()
            || token.len() > MAX_DEVICE_TOKEN
            || !token.chars().all(|c| c.is_ascii_hexdigit())
        {
            let r = SendResult::failed(
                &self.name,
                "the device's token is not an APNs device token (hex digits)",
            );
            return (r, "not an APNs device token (hex digits)".into(), false);
        }
        let url = match reqwest::Url::parse(&format!("{}/3/device/{token}", self.base)) {
            Ok(u) => u,
            Err(e) => {
                let r = SendResult::failed(&self.name, format!("the APNs URL: {e}"));
                return (r, "no valid URL".into(), false);
            }
        };
        let expiration = match self.expiration {
            0 => 0,
            s => chrono::Utc::now().timestamp() as u64 + s,
        };
        let mut stale: Option<String> = None;
        loop {
            let jwt = match self.provider_token(stale.as_deref()) {
                Ok(j) => j,
                Err(e) => return (SendResult::failed(&self.name, e.clone()), e, false),
            };
            let mut r = SendResult::new(&self.name, Outcome::Permanent);
            let request = self
                .client
                .http
                .post(url.clone())
                .header("authorization", format!("bearer {jwt}"))
                .header("apns-topic", &self.topic)
                .header("apns-push-type", &self.push_type)
                .header("apns-priority", self.priority.to_string())
                .header("apns-expiration", expiration.to_string())
                .header("content-type", "application/json")
                .body(body.to_string());
            let Some(resp) = self.client.send(&mut r, request, &url).await else {
                let e = r.error.clone().unwrap_or_default();
                return (r, e, false);
            };
            let apns_id = resp
                .headers()
                .get("apns-id")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(64).collect::<String>());
            let answer = match self.client.answer(&mut r, resp, READ_LIMIT).await {
                Ok(a) => a,
                Err(e) => {
                    r.error = Some(e.clone());
                    return (r, e, false);
                }
            };
            let reason = reason(&answer);
            if r.status_code == Some(403) && reason == "ExpiredProviderToken" && stale.is_none() {
                stale = Some(jwt);
                continue;
            }
            let (line, gone) = read_answer(&mut r, &reason, apns_id.as_deref());
            return (r, line, gone);
        }
    }
}

/// The `reason` of an APNs error answer.
fn reason(answer: &str) -> String {
    serde_json::from_str::<Value>(answer)
        .ok()
        .and_then(|v| v["reason"].as_str().map(|s| s.chars().take(100).collect()))
        .unwrap_or_default()
}

/// Reads APNs' answer into `r` (whose status is set): the attempt line and
/// whether the token is gone.
pub fn read_answer(r: &mut SendResult, reason: &str, apns_id: Option<&str>) -> (String, bool) {
    let code = r.status_code.unwrap_or_default();
    if code == 200 {
        r.outcome = Outcome::Ok;
        return match apns_id {
            Some(id) => (format!("HTTP 200 apns-id {id}"), false),
            None => ("HTTP 200".into(), false),
        };
    }
    let gone = code == 410 || (code == 400 && reason == "BadDeviceToken");
    r.outcome = match code {
        _ if gone => Outcome::Permanent,
        // A new JWT was already tried: the clock may be off; later.
        403 if reason == "ExpiredProviderToken" => Outcome::Transient,
        c => classify_status(c),
    };
    let line = if reason.is_empty() {
        format!("HTTP {code}")
    } else {
        format!("HTTP {code} {reason}")
    };
    r.error = Some(format!("APNs answered {line}"));
    (line, gone)
}

/// The APNs payload: `aps` (the alert's title and body, a numeric badge,
/// the sound; `mutable-content` when there is an image for a notification
/// service extension to fetch), then the template's data at the top level
/// (a value that is not an object as `data`), `notification_id`,
/// `action_url` and `image`.
pub fn apns_payload(payload: &Value) -> Value {
    let mut alert = Map::new();
    for p in ["title", "body"] {
        if let Some(v) = part(payload, p) {
            alert.insert(p.into(), Value::String(v.into()));
        }
    }
    let mut aps = Map::new();
    aps.insert("alert".into(), Value::Object(alert));
    if let Some(b) = badge_count(payload) {
        aps.insert("badge".into(), json!(b));
    }
    if let Some(s) = part(payload, "sound") {
        aps.insert("sound".into(), json!(s));
    }
    if part(payload, "image").is_some() {
        aps.insert("mutable-content".into(), json!(1));
    }
    let mut out = Map::new();
    match payload.get("data") {
        Some(Value::Object(o)) => {
            for (k, v) in o {
                if k != "aps" {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Some(v) => {
            out.insert("data".into(), v.clone());
        }
        None => {}
    }
    for p in ["notification_id", "action_url", "image"] {
        if let Some(v) = part(payload, p) {
            out.insert(p.into(), Value::String(v.into()));
        }
    }
    out.insert("aps".into(), Value::Object(aps));
    Value::Object(out)
}

impl Provider for Apns {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait]
impl PushProvider for Apns {
    async fn send(
        &self,
        _msg: &Message<'_>,
        payload: &Value,
        devices: &[DeviceRow],
    ) -> PushOutcome {
        let mut out = PushOutcome::new(&self.name);
        let body = apns_payload(payload).to_string();
        if body.len() > MAX_PAYLOAD {
            let e = format!(
                "the APNs payload is {} bytes; APNs takes at most {MAX_PAYLOAD}",
                body.len()
            );
            for d in devices {
                out.add(
                    d,
                    SendResult::failed(&self.name, e.clone()),
                    e.clone(),
                    false,
                );
            }
            return out;
        }
        let answers = futures::future::join_all(devices.iter().map(|d| self.one(d, &body))).await;
        for (d, (r, line, gone)) in devices.iter().zip(answers) {
            out.add(d, r, line, gone);
        }
        out
    }

    fn device_kind(&self) -> Option<&str> {
        Some("apns")
    }

    fn apps(&self) -> &[String] {
        &self.apps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(code: u16, reason: &str) -> (Outcome, String, bool) {
        let mut r = SendResult::new("apns", Outcome::Permanent);
        r.status_code = Some(code);
        let (line, gone) = read_answer(&mut r, reason, Some("A-1"));
        (r.outcome, line, gone)
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(
            answer(200, ""),
            (Outcome::Ok, "HTTP 200 apns-id A-1".into(), false)
        );
        assert_eq!(
            answer(410, "Unregistered"),
            (Outcome::Permanent, "HTTP 410 Unregistered".into(), true)
        );
        assert!(answer(400, "BadDeviceToken").2);
        assert_eq!(
            answer(400, "DeviceTokenNotForTopic"),
            (
                Outcome::Permanent,
                "HTTP 400 DeviceTokenNotForTopic".into(),
                false
            )
        );
        assert_eq!(answer(429, "TooManyRequests").0, Outcome::Transient);
        assert_eq!(answer(500, "InternalServerError").0, Outcome::Transient);
        assert_eq!(answer(503, "ServiceUnavailable").0, Outcome::Transient);
        assert_eq!(answer(403, "InvalidProviderToken").0, Outcome::Permanent);
        assert_eq!(
            reason(r#"{"reason":"Unregistered","timestamp":1}"#),
            "Unregistered"
        );
    }

    #[test]
    fn the_payload_puts_aps_beside_the_data() {
        let p = json!({"title": "T", "body": "B", "badge": "2", "sound": "default",
                       "data": {"order": 7, "aps": "no"}, "notification_id": "n1", "image": "https://i/x.png"});
        let v = apns_payload(&p);
        assert_eq!(
            v["aps"],
            json!({"alert": {"title": "T", "body": "B"}, "badge": 2, "sound": "default", "mutable-content": 1})
        );
        assert_eq!(v["order"], 7);
        assert_eq!(v["notification_id"], "n1");
        assert_eq!(v["image"], "https://i/x.png");
    }
}
