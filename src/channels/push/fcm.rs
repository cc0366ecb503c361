//! The `fcm` provider: Firebase Cloud Messaging's HTTP v1 API with a
//! service account's JSON key file.
//!
//! An access token comes from the key's `token_uri` through the OAuth 2.0
//! JWT-bearer grant (RFC 7523): a JWT signed RS256 with the key's private
//! key, for the `firebase.messaging` scope. It is kept until five minutes
//! before it expires and shared by every send (one fetch at a time); a
//! 401 from FCM fetches a new one once. Each device is one
//! `POST {base_url}/v1/projects/{project_id}/messages:send`, all at once.
//!
//! What an answer means: `UNREGISTERED`, and `INVALID_ARGUMENT` about the
//! token, mean the token is gone (the device is removed); 429,
//! `UNAVAILABLE`, `INTERNAL` and other 5xx are transient (with their
//! Retry-After); a 401 after a new token, and anything else, permanent.
//! The private key and the access token are never logged or recorded.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::keys::{badge_count, jwt, part, pkcs8_der, read_key_file};
use super::{PushOutcome, PushProvider};
use crate::channels::http::{classify_status, http_url, Client, PROVIDER_READ_LIMIT};
use crate::channels::providers::Provider;
use crate::channels::{Message, Outcome, SendResult};
use crate::config::{ConfigError, ProviderConfig};
use crate::store::DeviceRow;

/// The OAuth scope FCM's HTTP v1 API takes.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const DEFAULT_BASE: &str = "https://fcm.googleapis.com";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The assertion's lifetime (Google takes at most one hour).
const ASSERTION_SECS: i64 = 3600;
/// A token is fetched again this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);
/// The longest access token taken (Google's are about 1 KB).
const MAX_TOKEN: usize = 8 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// The service account's JSON key file.
    #[serde(default)]
    credentials_file: String,
    /// Empty: the key file's `project_id`.
    #[serde(default)]
    project_id: String,
    #[serde(default = "default_base")]
    base_url: String,
    #[serde(default)]
    apps: Vec<String>,
    #[serde(default)]
    allow_private: bool,
}

fn default_base() -> String {
    DEFAULT_BASE.into()
}

/// The fields of a service-account key file used here.
#[derive(Deserialize)]
struct ServiceAccount {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    project_id: String,
    #[serde(default)]
    private_key_id: String,
    private_key: String,
    client_email: String,
    #[serde(default)]
    token_uri: String,
}

/// An access token and when to stop using it.
struct AccessToken {
    value: String,
    until: Instant,
}

pub struct Fcm {
    name: String,
    client: Client,
    apps: Vec<String>,
    send_url: reqwest::Url,
    token_url: reqwest::Url,
    /// The JWT's `aud`: the key file's `token_uri` as written.
    audience: String,
    client_email: String,
    key_id: String,
    key: RsaKeyPair,
    token: tokio::sync::Mutex<Option<AccessToken>>,
}

/// An `https` URL, or `http` when private addresses are allowed (a local
/// stand-in): a bearer token never crosses the internet in clear.
fn secure_url(
    p: &ProviderConfig,
    field: &str,
    value: &str,
    allow_private: bool,
) -> Result<reqwest::Url, ConfigError> {
    let u = http_url(p, field, value)?;
    if u.scheme() != "https" && !allow_private {
        return Err(p.invalid(
            field,
            format!("{value:?} must be https (http only with allow_private, for a local server)"),
        ));
    }
    Ok(u)
}

impl Fcm {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> anyhow::Result<Fcm> {
        let s: Settings = p.parse()?;
        let text = read_key_file(p, "credentials_file", &s.credentials_file)?;
        let field = "credentials_file";
        let sa: ServiceAccount = serde_json::from_str(&text).map_err(|e| {
            // serde's words may quote a value: only a missing field is named.
            let why = if e.to_string().starts_with("missing field") {
                e.to_string()
            } else {
                format!("line {}, column {}", e.line(), e.column())
            };
            p.invalid(
                field,
                format!("not a service-account JSON key file ({why})"),
            )
        })?;
        if !sa.kind.is_empty() && sa.kind != "service_account" {
            return Err(p
                .invalid(
                    field,
                    format!("a service-account key file, not {:?}", sa.kind),
                )
                .into());
        }
        let der = pkcs8_der(&sa.private_key).ok_or_else(|| {
            p.invalid(
                field,
                "its private_key is not a PEM \"PRIVATE KEY\" block (the value is not shown: it is a secret)",
            )
        })?;
        let key = RsaKeyPair::from_pkcs8(&der).map_err(|e| {
            p.invalid(
                field,
                format!("its private_key is not an RSA PKCS#8 key of 2048 bits or more ({e}; the value is not shown)"),
            )
        })?;
        let project = match (s.project_id.trim(), sa.project_id.trim()) {
            ("", "") => {
                return Err(p
                    .invalid("project_id", "required: the key file has no project_id")
                    .into())
            }
            ("", from_file) => from_file.to_string(),
            (own, _) => own.to_string(),
        };
        if !project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':' || c == '.')
        {
            return Err(p.invalid("project_id", "a Firebase project id").into());
        }
        if sa.client_email.trim().is_empty() {
            return Err(p.invalid(field, "its client_email is empty").into());
        }
        let audience = match sa.token_uri.trim() {
            "" => DEFAULT_TOKEN_URI.to_string(),
            t => t.to_string(),
        };
        let token_url = secure_url(p, "credentials_file.token_uri", &audience, s.allow_private)?;
        let base = secure_url(p, "base_url", &s.base_url, s.allow_private)?;
        let send_url = reqwest::Url::parse(&format!(
            "{}/v1/projects/{project}/messages:send",
            base.as_str().trim_end_matches('/')
        ))
        .map_err(|_| p.invalid("base_url", "an http(s) URL"))?;
        Ok(Fcm {
            name: p.name.clone(),
            client: Client::for_provider(p, s.allow_private, timeout)?,
            apps: s.apps,
            send_url,
            token_url,
            audience,
            client_email: sa.client_email.trim().to_string(),
            key_id: sa.private_key_id,
            key,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// The signed JWT-bearer assertion, issued at `now` (Unix s).
    fn assertion(&self, now: i64) -> Result<String, String> {
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if !self.key_id.is_empty() {
            header["kid"] = Value::String(self.key_id.clone());
        }
        let claims = json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.audience,
            "iat": now,
            "exp": now + ASSERTION_SECS,
        });
        jwt(&header, &claims, |input| {
            let mut sig = vec![0; self.key.public().modulus_len()];
            self.key
                .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input, &mut sig)
                .map_err(|_| "signing the token request failed".to_string())?;
            Ok(sig)
        })
    }

    /// A valid access token: the kept one unless it is `stale` (FCM said
    /// 401 to it) or about to expire, else a new one. One fetch at a time:
    /// sends waiting meanwhile take the new token.
    async fn access_token(&self, stale: Option<&str>) -> Result<String, SendResult> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref() {
            if Instant::now() < t.until && stale != Some(t.value.as_str()) {
                return Ok(t.value.clone());
            }
        }
        *slot = None;
        let (value, lifetime) = self.fetch_token().await?;
        let keep = lifetime.saturating_sub(TOKEN_MARGIN).max(lifetime / 2);
        *slot = Some(AccessToken {
            value: value.clone(),
            until: Instant::now() + keep,
        });
        Ok(value)
    }

    /// Asks the token endpoint for an access token: it and its lifetime,
    /// or the failure (transient when the endpoint may answer later).
    async fn fetch_token(&self) -> Result<(String, Duration), SendResult> {
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let assertion = match self.assertion(chrono::Utc::now().timestamp()) {
            Ok(a) => a,
            Err(e) => return Err(SendResult::failed(&self.name, e)),
        };
        let form = serde_urlencoded::to_string([
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ])
        .expect("a form of strings encodes");
        let request = self
            .client
            .http
            .post(self.token_url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form);
        let Some(resp) = self.client.send(&mut r, request, &self.token_url).await else {
            let e = r.error.take().unwrap_or_default();
            r.error = Some(format!("getting an FCM access token: {e}"));
            return Err(r);
        };
        let body = match self.client.answer(&mut r, resp, PROVIDER_READ_LIMIT).await {
            Ok(b) => b,
            Err(e) => {
                // What was read may hold the token: it is not kept.
                r.response = None;
                r.outcome = Outcome::Transient;
                r.error = Some(format!("getting an FCM access token: {e}"));
                return Err(r);
            }
        };
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let code = r.status_code.unwrap_or_default();
        if r.outcome == Outcome::Ok {
            let token = v["access_token"].as_str().unwrap_or_default();
            if token.is_empty() || token.len() > MAX_TOKEN || !token.is_ascii() {
                r.outcome = Outcome::Transient;
                r.error = Some("the FCM token endpoint's answer has no usable access_token".into());
                return Err(r);
            }
            let secs = v["expires_in"]
                .as_u64()
                .unwrap_or(3600)
                .clamp(60, 24 * 3600);
            return Ok((token.to_string(), Duration::from_secs(secs)));
        }
        // An OAuth error: its code and description only (RFC 6749 §5.2).
        let words = [&v["error"], &v["error_description"]]
            .iter()
            .filter_map(|w| w.as_str())
            .collect::<Vec<_>>()
            .join(": ");
        let words: String = words.chars().take(300).collect();
        r.error = Some(format!(
            "getting an FCM access token: HTTP {code}{}{words}",
            if words.is_empty() { "" } else { " " }
        ));
        Err(r)
    }

    /// Sends to one device with `token`: the result, the attempt line, and
    /// whether the device is gone.
    async fn one(&self, d: &DeviceRow, payload: &Value, token: &str) -> (SendResult, String, bool) {
        let Some(device) = d.token.as_deref().filter(|t| !t.is_empty()) else {
            let r = SendResult::failed(&self.name, "the device has no token");
            return (r, "no token".into(), false);
        };
        let body = message(device, payload).to_string();
        let mut token = token.to_string();
        let mut refreshed = false;
        loop {
            let mut r = SendResult::new(&self.name, Outcome::Permanent);
            let request = self
                .client
                .http
                .post(self.send_url.clone())
                .bearer_auth(&token)
                .header("content-type", "application/json; charset=utf-8")
                .body(body.clone());
            let Some(resp) = self.client.send(&mut r, request, &self.send_url).await else {
                let e = r.error.clone().unwrap_or_default();
                return (r, e, false);
            };
            let answer = match self.client.answer(&mut r, resp, PROVIDER_READ_LIMIT).await {
                Ok(a) => a,
                Err(e) => {
                    r.error = Some(e.clone());
                    return (r, e, false);
                }
            };
            if r.status_code == Some(401) && !refreshed {
                refreshed = true;
                match self.access_token(Some(&token)).await {
                    Ok(t) => {
                        token = t;
                        continue;
                    }
                    Err(e) => {
                        let line = e.error.clone().unwrap_or_default();
                        return (e, line, false);
                    }
                }
            }
            let (line, gone) = read_answer(&mut r, &answer);
            return (r, line, gone);
        }
    }
}

/// Reads FCM's answer into `r` (whose status and Retry-After are set):
/// the attempt line and whether the token is gone.
pub fn read_answer(r: &mut SendResult, answer: &str) -> (String, bool) {
    let code = r.status_code.unwrap_or_default();
    let v: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
    if (200..300).contains(&code) {
        r.outcome = Outcome::Ok;
        let name = v["name"].as_str().unwrap_or_default();
        return (format!("HTTP {code} {name}").trim_end().to_string(), false);
    }
    let e = &v["error"];
    let status = e["status"].as_str().unwrap_or_default();
    let details = e["details"].as_array().cloned().unwrap_or_default();
    let error_code = details
        .iter()
        .find_map(|d| d["errorCode"].as_str())
        .unwrap_or(status);
    let message: String = e["message"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    // INVALID_ARGUMENT is about the token when FCM says so (a field
    // violation on message.token, or its words); otherwise it is about the
    // message, and the device stays.
    let about_token = details.iter().any(|d| {
        d["fieldViolations"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["field"] == "message.token"))
    }) || message.to_ascii_lowercase().contains("registration token");
    let gone = error_code == "UNREGISTERED"
        || ((error_code == "INVALID_ARGUMENT" || status == "INVALID_ARGUMENT") && about_token);
    r.outcome = if gone {
        Outcome::Permanent
    } else if matches!(error_code, "UNAVAILABLE" | "INTERNAL" | "QUOTA_EXCEEDED") {
        Outcome::Transient
    } else {
        classify_status(code)
    };
    let what = match (error_code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" {error_code}"),
        (true, false) => format!(": {message}"),
        (false, false) => format!(" {error_code}: {message}"),
    };
    let line = format!("HTTP {code}{what}");
    r.error = Some(format!("FCM answered {line}"));
    (line, gone)
}

/// A value of the template's `data` as FCM's string map takes it.
fn as_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The HTTP v1 message for one device: `notification` (title, body,
/// image), `data` (the template's data as strings, with `notification_id`
/// and `action_url`), and the platform parts the template asks for:
/// `android.notification` (sound, a numeric badge as
/// `notification_count`), `apns.payload.aps` (badge, sound) and
/// `webpush.fcm_options.link` (an https `action_url`).
pub fn message(token: &str, payload: &Value) -> Value {
    let mut notification = Map::new();
    for p in ["title", "body", "image"] {
        if let Some(v) = part(payload, p) {
            notification.insert(p.into(), Value::String(v.into()));
        }
    }
    let mut data = Map::new();
    match payload.get("data") {
        Some(Value::Object(o)) => {
            for (k, v) in o {
                data.insert(k.clone(), Value::String(as_string(v)));
            }
        }
        Some(v) => {
            data.insert("data".into(), Value::String(as_string(v)));
        }
        None => {}
    }
    for p in ["notification_id", "action_url"] {
        if let Some(v) = part(payload, p) {
            data.insert(p.into(), Value::String(v.into()));
        }
    }
    let mut m = json!({"token": token, "notification": notification});
    if !data.is_empty() {
        m["data"] = Value::Object(data);
    }
    let sound = part(payload, "sound");
    let badge = badge_count(payload);
    let mut android = Map::new();
    if let Some(s) = sound {
        android.insert("sound".into(), json!(s));
    }
    if let Some(b) = badge {
        android.insert("notification_count".into(), json!(b));
    }
    if !android.is_empty() {
        m["android"] = json!({"notification": android});
    }
    let mut aps = Map::new();
    if let Some(b) = badge {
        aps.insert("badge".into(), json!(b));
    }
    if let Some(s) = sound {
        aps.insert("sound".into(), json!(s));
    }
    if !aps.is_empty() {
        m["apns"] = json!({"payload": {"aps": aps}});
    }
    if let Some(link) = part(payload, "action_url").filter(|u| u.starts_with("https://")) {
        m["webpush"] = json!({"fcm_options": {"link": link}});
    }
    json!({ "message": m })
}

impl Provider for Fcm {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait]
impl PushProvider for Fcm {
    async fn send(
        &self,
        _msg: &Message<'_>,
        payload: &Value,
        devices: &[DeviceRow],
    ) -> PushOutcome {
        let mut out = PushOutcome::new(&self.name);
        // One token for the whole send: a failure to get one is every
        // device's answer, and asked once.
        let token = match self.access_token(None).await {
            Ok(t) => t,
            Err(r) => {
                let line = r.error.clone().unwrap_or_default();
                for d in devices {
                    out.add(d, r.clone(), line.clone(), false);
                }
                return out;
            }
        };
        let answers =
            futures::future::join_all(devices.iter().map(|d| self.one(d, payload, &token))).await;
        for (d, (r, line, gone)) in devices.iter().zip(answers) {
            out.add(d, r, line, gone);
        }
        out
    }

    fn device_kind(&self) -> Option<&str> {
        Some("fcm")
    }

    fn apps(&self) -> &[String] {
        &self.apps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(code: u16, body: Value) -> (SendResult, String, bool) {
        let mut r = SendResult::new("fcm", Outcome::Permanent);
        r.status_code = Some(code);
        let (line, gone) = read_answer(&mut r, &body.to_string());
        (r, line, gone)
    }

    fn fcm_error(code: u16, status: &str, error_code: Option<&str>, message: &str) -> Value {
        let mut details = vec![];
        if let Some(c) = error_code {
            details.push(json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": c}));
        }
        json!({"error": {"code": code, "message": message, "status": status, "details": details}})
    }

    #[test]
    fn answers_are_classified() {
        let (r, line, gone) = answer(200, json!({"name": "projects/p/messages/1"}));
        assert_eq!((r.outcome, gone), (Outcome::Ok, false));
        assert_eq!(line, "HTTP 200 projects/p/messages/1");
        let (r, line, gone) = answer(
            404,
            fcm_error(
                404,
                "NOT_FOUND",
                Some("UNREGISTERED"),
                "Requested entity was not found.",
            ),
        );
        assert_eq!((r.outcome, gone), (Outcome::Permanent, true));
        assert_eq!(
            line,
            "HTTP 404 UNREGISTERED: Requested entity was not found."
        );
        let (_, _, gone) = answer(
            400,
            fcm_error(
                400,
                "INVALID_ARGUMENT",
                Some("INVALID_ARGUMENT"),
                "The registration token is not a valid FCM registration token",
            ),
        );
        assert!(gone);
        // INVALID_ARGUMENT about the message keeps the device.
        let (r, _, gone) = answer(
            400,
            fcm_error(
                400,
                "INVALID_ARGUMENT",
                Some("INVALID_ARGUMENT"),
                "Invalid JSON payload received.",
            ),
        );
        assert_eq!((r.outcome, gone), (Outcome::Permanent, false));
        // A 404 without UNREGISTERED (a wrong project) keeps the device.
        let (_, _, gone) = answer(404, fcm_error(404, "NOT_FOUND", None, "not found"));
        assert!(!gone);
        for (code, status) in [
            (429, "RESOURCE_EXHAUSTED"),
            (503, "UNAVAILABLE"),
            (500, "INTERNAL"),
        ] {
            let (r, _, gone) = answer(code, fcm_error(code, status, None, "later"));
            assert_eq!((r.outcome, gone), (Outcome::Transient, false), "{code}");
        }
        let (r, _, _) = answer(401, fcm_error(401, "UNAUTHENTICATED", None, "bad token"));
        assert_eq!(r.outcome, Outcome::Permanent);
        let (r, _, _) = answer(
            403,
            fcm_error(403, "PERMISSION_DENIED", Some("SENDER_ID_MISMATCH"), "x"),
        );
        assert_eq!(r.outcome, Outcome::Permanent);
    }

    #[test]
    fn the_message_has_the_platform_parts_the_template_asks_for() {
        let p = json!({"title": "T", "body": "B", "image": "https://i/x.png", "badge": "4",
                       "sound": "ping.caf", "action_url": "https://shop/o/1",
                       "data": {"order": 7, "code": "x"}, "notification_id": "n1"});
        let m = message("tok", &p);
        assert_eq!(m["message"]["token"], "tok");
        assert_eq!(
            m["message"]["notification"],
            json!({"title": "T", "body": "B", "image": "https://i/x.png"})
        );
        assert_eq!(
            m["message"]["data"],
            json!({"order": "7", "code": "x", "notification_id": "n1", "action_url": "https://shop/o/1"})
        );
        assert_eq!(
            m["message"]["android"]["notification"],
            json!({"sound": "ping.caf", "notification_count": 4})
        );
        assert_eq!(
            m["message"]["apns"]["payload"]["aps"],
            json!({"badge": 4, "sound": "ping.caf"})
        );
        assert_eq!(
            m["message"]["webpush"]["fcm_options"]["link"],
            "https://shop/o/1"
        );
        let m = message("tok", &json!({"title": "T"}));
        assert!(
            m["message"].get("android").is_none() && m["message"].get("data").is_none(),
            "{m}"
        );
    }
}
