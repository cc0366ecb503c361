//! The SMS channel: providers `twilio` (Twilio's Messages API), `http` (a
//! generic templated HTTP gateway) and `file` (one JSON file per message,
//! the zero-configuration default).
//!
//! Each provider of `channels.sms.providers` is read and checked at start-up
//! (a bad setting stops the process, naming its key). Sending uses the first
//! one; the list is kept in order so failover can walk it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::failover::{Failover, ProviderStatus};
use super::http::{read_capped, refusal, Guard};
use super::outbox::Outbox;
use super::webhook::{classify_status, error_chain, parse_retry_after};
use super::{truncate, Channel, Message, Outcome, SendResult, MAX_RESPONSE};
use crate::config::{ChannelConfig, Config, ConfigError, ProviderConfig};
use crate::flow::provider_state::ProviderBoard;
use crate::render::render_text;

/// How much of an answer is read (more than is stored: a Twilio answer is
/// parsed for its sid before it is cut to [`MAX_RESPONSE`]).
const READ_LIMIT: usize = 64 * 1024;

/// A provider's HTTP client: no redirects (never follow one carrying
/// credentials somewhere else), and only globally reachable addresses
/// unless the provider's `allow_private` is set.
fn client(
    p: &ProviderConfig,
    allow_private: bool,
    timeout: Duration,
) -> Result<Client, ConfigError> {
    let guard = Guard::new(allow_private, format!("{}.allow_private", p.key));
    let http = guard
        .client_builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| ConfigError::Read(format!("`{}`: its HTTP client: {e}", p.key)))?;
    Ok(Client { http, guard })
}

/// An HTTP client and the address rule it connects under.
struct Client {
    http: reqwest::Client,
    guard: Guard,
}

/// Builds the SMS channel from `channels.sms`.
pub fn build(cfg: &ChannelConfig, root: &Config) -> anyhow::Result<Option<Arc<dyn Channel>>> {
    let mut providers: Vec<Box<dyn SmsProvider>> = Vec::new();
    for p in &cfg.providers {
        let provider: Box<dyn SmsProvider> = match p.kind.as_str() {
            "file" => Box::new(FileProvider(Outbox::new(p, root, "sms")?)),
            "twilio" => Box::new(TwilioProvider::new(p, cfg.timeout)?),
            "http" => Box::new(HttpProvider::new(p, cfg.timeout)?),
            other => anyhow::bail!("`{}.type`: unknown SMS provider type `{other}`", p.key),
        };
        providers.push(provider);
    }
    if providers.is_empty() {
        anyhow::bail!("`channels.sms.providers` is empty: give at least one of file, twilio, http");
    }
    Ok(Some(Arc::new(SmsChannel {
        providers: Failover::with_limits(
            providers,
            cfg.providers
                .iter()
                .map(|p| (p.name.clone(), p.rate_limit))
                .collect(),
            cfg.breaker_threshold,
            cfg.breaker_cool_down,
        ),
        retry_schedule: cfg.retry_schedule.clone(),
        max_retry_after: cfg.max_retry_after,
    })))
}

pub struct SmsChannel {
    /// In failover order; never empty.
    providers: Failover<Box<dyn SmsProvider>>,
    retry_schedule: Vec<Duration>,
    max_retry_after: Duration,
}

/// One configured way to send a text message.
#[async_trait]
trait SmsProvider: Send + Sync {
    /// The provider's configured name (`channels.sms.<name>`).
    fn name(&self) -> &str;
    /// Sends over the network (its sends in flight are bounded).
    fn remote(&self) -> bool {
        true
    }
    async fn send(&self, to: &str, text: &str, msg: &Message<'_>) -> SendResult;
}

#[async_trait]
impl Channel for SmsChannel {
    fn name(&self) -> &'static str {
        "sms"
    }

    fn retry_schedule(&self) -> &[Duration] {
        &self.retry_schedule
    }

    fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    async fn send(&self, msg: &Message<'_>) -> SendResult {
        let (index, provider) = self.providers.pick(msg.attempt).await;
        let text = match msg.content.get("text") {
            Some(Value::String(t)) => t.as_str(),
            _ => return SendResult::failed(provider.name(), "the template has no sms text"),
        };
        if text.trim().is_empty() {
            return SendResult::failed(provider.name(), "the sms text is empty");
        }
        let result = provider.send(msg.address, text, msg).await;
        self.providers
            .record(index, result.outcome, result.retry_after);
        result
    }

    fn paused_until(&self) -> Option<i64> {
        self.providers.all_paused_until()
    }

    fn provider_limit(&self, attempt: i64) -> Option<(String, crate::config::RateLimit)> {
        self.providers
            .peek(attempt)
            .map(|(name, l)| (name.to_string(), l))
    }

    fn providers(&self) -> Vec<ProviderStatus> {
        self.providers.status("sms", |p| p.name().to_string())
    }

    fn destination(&self, _address: &str, attempt: i64) -> Option<String> {
        let p = self.providers.likely(attempt);
        p.remote().then(|| format!("sms:{}", p.name()))
    }

    fn share_provider_state(&self, board: &Arc<ProviderBoard>) {
        self.providers.share(board, "sms", |p| p.name().to_string());
    }
}

/// Fills `r` from a failed request. The URL is left out of the message: a
/// gateway URL may carry a key in its query.
fn request_error(r: &mut SendResult, e: reqwest::Error, host: &str, timeout: Duration) {
    if let Some(refused) = refusal(&e) {
        // A setting to change, not a failure to wait out.
        r.outcome = Outcome::Permanent;
        r.error = Some(refused.to_string());
        return;
    }
    r.outcome = Outcome::Transient;
    r.error = Some(if e.is_timeout() {
        format!(
            "{host}: timed out after {}",
            humantime::format_duration(timeout)
        )
    } else {
        format!("{host}: {}", error_chain(&e.without_url()))
    });
}

/// `host[:port]` of a URL, for error messages.
fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

/// Sends `request` to `url` under the provider's address rule: an IP
/// literal is judged before sending, names by the resolver, and the peer
/// once connected.
async fn send_checked(
    r: &mut SendResult,
    client: &Client,
    request: reqwest::RequestBuilder,
    url: &reqwest::Url,
    timeout: Duration,
) -> Option<reqwest::Response> {
    if let Err(e) = client.guard.check_url(url) {
        r.outcome = Outcome::Permanent;
        r.error = Some(e.to_string());
        return None;
    }
    match request.send().await {
        Ok(resp) => match client.guard.check_peer(&resp) {
            Ok(()) => Some(resp),
            Err(e) => {
                r.outcome = Outcome::Permanent;
                r.error = Some(e.to_string());
                None
            }
        },
        Err(e) => {
            request_error(r, e, &host_of(url), timeout);
            None
        }
    }
}

/// The status, Retry-After and (up to [`READ_LIMIT`] of) the body of an
/// answer; the rest is never read.
async fn read_answer(r: &mut SendResult, mut resp: reqwest::Response) -> Result<String, String> {
    let code = resp.status().as_u16();
    r.status_code = Some(code);
    r.outcome = classify_status(code);
    r.retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    match read_capped(&mut resp, READ_LIMIT).await {
        Ok(body) => Ok(body.text(READ_LIMIT)),
        Err((body, e)) => {
            r.response = Some(body.text(MAX_RESPONSE));
            Err(format!(
                "reading the answer: {}",
                error_chain(&e.without_url())
            ))
        }
    }
}

/// An `http(s)://` URL, or an error for `<key>.<field>`.
fn http_url(p: &ProviderConfig, field: &str, value: &str) -> Result<reqwest::Url, ConfigError> {
    match reqwest::Url::parse(value.trim()) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => Ok(u),
        _ => Err(p.invalid(field, format!("{value:?} is not an http(s) URL"))),
    }
}

// ---------------------------------------------------------------- file

/// Writes `<delivery_id>.json` with the number and the text to the outbox.
struct FileProvider(Outbox);

#[async_trait]
impl SmsProvider for FileProvider {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn remote(&self) -> bool {
        false
    }

    async fn send(&self, to: &str, text: &str, msg: &Message<'_>) -> SendResult {
        let mut r = SendResult::new(&self.0.name, Outcome::Permanent);
        let mut body = serde_json::to_vec_pretty(&json!({
            "to": to,
            "text": text,
            "delivery_id": msg.delivery_id,
            "notification_id": msg.notification_id,
        }))
        .expect("a JSON object serializes");
        body.push(b'\n');
        match self.0.write(msg.delivery_id, "json", &body).await {
            Ok(path) => {
                r.outcome = Outcome::Ok;
                r.response = Some(truncate(format!("wrote {}", path.display()), MAX_RESPONSE));
            }
            Err(e) => {
                // A full or read-only disk may recover; retries end it anyway.
                r.outcome = Outcome::Transient;
                r.error = Some(format!("writing to {}: {e}", self.0.dir.display()));
            }
        }
        r
    }
}

// ---------------------------------------------------------------- twilio

fn default_twilio_base() -> String {
    "https://api.twilio.com".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TwilioSettings {
    #[serde(default)]
    account_sid: String,
    #[serde(default)]
    auth_token: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    messaging_service_sid: String,
    #[serde(default = "default_twilio_base")]
    base_url: String,
    /// `base_url` may be a private, loopback or link-local address.
    #[serde(default)]
    allow_private: bool,
}

/// Twilio's Messages API: `POST /2010-04-01/Accounts/{sid}/Messages.json`.
struct TwilioProvider {
    name: String,
    client: Client,
    timeout: Duration,
    url: reqwest::Url,
    account_sid: String,
    /// Sent as the basic-auth password only; never logged or recorded.
    auth_token: String,
    from: Option<String>,
    messaging_service_sid: Option<String>,
}

/// The parts of Twilio's answers missive reads.
#[derive(Deserialize)]
struct TwilioMessage {
    sid: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

fn sid_like(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric())
}

impl TwilioProvider {
    fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        let s: TwilioSettings = p.parse()?;
        let account_sid = s.account_sid.trim().to_string();
        if account_sid.is_empty() {
            return Err(p.invalid("account_sid", "required: the Twilio Account SID (AC...)"));
        }
        if !sid_like(&account_sid) {
            return Err(p.invalid(
                "account_sid",
                format!("{account_sid:?} is not a Twilio SID (letters and digits, AC...)"),
            ));
        }
        let auth_token = s.auth_token.trim().to_string();
        if auth_token.is_empty() {
            return Err(p.invalid("auth_token", "required: the Twilio account's auth token"));
        }
        let from = Some(s.from.trim().to_string()).filter(|f| !f.is_empty());
        let messaging_service_sid =
            Some(s.messaging_service_sid.trim().to_string()).filter(|m| !m.is_empty());
        if from.is_none() && messaging_service_sid.is_none() {
            return Err(p.invalid(
                "from",
                "empty, and so is messaging_service_sid: set `from` (a sending number such as +15005550006) or `messaging_service_sid` (MG...)",
            ));
        }
        if let Some(m) = &messaging_service_sid {
            if !sid_like(m) {
                return Err(p.invalid(
                    "messaging_service_sid",
                    format!("{m:?} is not a Twilio SID (letters and digits, MG...)"),
                ));
            }
        }
        let base = http_url(p, "base_url", &s.base_url)?;
        let url = format!(
            "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
            base.as_str().trim_end_matches('/')
        );
        let url = reqwest::Url::parse(&url).map_err(|e| p.invalid("base_url", e))?;
        Ok(TwilioProvider {
            name: p.name.clone(),
            client: client(p, s.allow_private, timeout)?,
            timeout,
            url,
            account_sid,
            auth_token,
            from,
            messaging_service_sid,
        })
    }
}

#[async_trait]
impl SmsProvider for TwilioProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, to: &str, text: &str, _msg: &Message<'_>) -> SendResult {
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let mut form: Vec<(&str, &str)> = vec![("To", to), ("Body", text)];
        if let Some(f) = &self.from {
            form.push(("From", f));
        }
        if let Some(m) = &self.messaging_service_sid {
            form.push(("MessagingServiceSid", m));
        }
        let request = self
            .client
            .http
            .post(self.url.clone())
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header("accept", "application/json")
            .form(&form);
        let Some(resp) = send_checked(&mut r, &self.client, request, &self.url, self.timeout).await
        else {
            return r;
        };
        let body = match read_answer(&mut r, resp).await {
            Ok(b) => b,
            Err(e) => {
                r.error = Some(e);
                // The status says whether Twilio took the message; keep it.
                return r;
            }
        };
        let code = r.status_code.unwrap_or_default();
        if r.outcome == Outcome::Ok {
            // Put the message's sid first, so it survives the cut.
            r.response = Some(match serde_json::from_str::<TwilioMessage>(&body) {
                Ok(TwilioMessage {
                    sid: Some(sid),
                    status,
                }) => {
                    let status = status.unwrap_or_default();
                    truncate(format!("sid={sid} status={status}\n{body}"), MAX_RESPONSE)
                }
                _ => truncate(body, MAX_RESPONSE),
            });
        } else {
            r.error = Some(match serde_json::from_str::<TwilioError>(&body) {
                Ok(TwilioError {
                    code: Some(c),
                    message,
                }) => {
                    format!(
                        "Twilio error {c}: {} (HTTP {code})",
                        message.unwrap_or_default()
                    )
                }
                Ok(TwilioError {
                    code: None,
                    message: Some(m),
                }) => format!("Twilio answered HTTP {code}: {m}"),
                _ => format!("Twilio answered HTTP {code}"),
            });
            r.response = Some(truncate(body, MAX_RESPONSE));
        }
        r
    }
}

// ---------------------------------------------------------------- http

fn default_method() -> String {
    "POST".into()
}

fn default_content_type() -> String {
    "application/json".into()
}

fn default_body() -> String {
    "{\"to\": {{json to}}, \"text\": {{json text}} }".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSettings {
    #[serde(default = "default_method")]
    method: String,
    #[serde(default)]
    url: String,
    #[serde(default = "default_content_type")]
    content_type: String,
    #[serde(default = "default_body")]
    body: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// `url` may be a private, loopback or link-local address.
    #[serde(default)]
    allow_private: bool,
}

/// A generic gateway: `method url` with `headers` and a body rendered from
/// the `body` template over `to`, `text` and `delivery_id`. The URL may use
/// the same variables; there they are percent-encoded.
struct HttpProvider {
    name: String,
    key: String,
    client: Client,
    timeout: Duration,
    method: reqwest::Method,
    url: String,
    body: String,
    /// May hold credentials: never logged or recorded.
    headers: reqwest::header::HeaderMap,
}

/// The variables the body template sees.
fn body_data(to: &str, text: &str, delivery_id: &str) -> Value {
    json!({"to": to, "text": text, "delivery_id": delivery_id})
}

/// The same, percent-encoded for use in a URL.
fn url_data(to: &str, text: &str, delivery_id: &str) -> Value {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    json!({"to": enc(to), "text": enc(text), "delivery_id": enc(delivery_id)})
}

impl HttpProvider {
    fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        let s: HttpSettings = p.parse()?;
        let method = match s.method.trim().to_ascii_uppercase().as_str() {
            "GET" => reqwest::Method::GET,
            "POST" => reqwest::Method::POST,
            "PUT" => reqwest::Method::PUT,
            "PATCH" => reqwest::Method::PATCH,
            _ => {
                return Err(p.invalid(
                    "method",
                    format!("{:?}: one of GET, POST, PUT, PATCH", s.method),
                ))
            }
        };
        let url = s.url.trim().to_string();
        if url.is_empty() {
            return Err(p.invalid("url", "required: the gateway's http(s) URL"));
        }
        // Sample data with a quote, a backslash and a line break, so a body
        // that pastes `{{text}}` into JSON instead of `{{json text}}` is
        // caught now rather than on the first message.
        let (to, text, id) = (
            "+15005550006",
            "Sample \"text\" \\ 验证码\nline 2",
            "00000000-0000-0000-0000-000000000000",
        );
        let sample_url =
            render_text(&url, &url_data(to, text, id)).map_err(|e| p.invalid("url", e))?;
        http_url(p, "url", &sample_url)?;
        let sample = render_text(&s.body, &body_data(to, text, id)).map_err(|e| {
            p.invalid(
                "body",
                format!("{e}; the template may use to, text and delivery_id"),
            )
        })?;
        let content_type = s.content_type.trim().to_string();
        if content_type.to_ascii_lowercase().contains("json") {
            if let Err(e) = serde_json::from_str::<Value>(&sample) {
                return Err(p.invalid(
                    "body",
                    format!("with content_type {content_type:?} it must render to JSON, but renders {sample:?} ({e}); write values with the json helper: {{{{json text}}}}"),
                ));
            }
        }
        let mut headers = reqwest::header::HeaderMap::new();
        if !content_type.is_empty() {
            let v = reqwest::header::HeaderValue::from_str(&content_type).map_err(|_| {
                p.invalid(
                    "content_type",
                    format!("{content_type:?} is not a valid header value"),
                )
            })?;
            headers.insert(reqwest::header::CONTENT_TYPE, v);
        }
        for (k, v) in &s.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| p.invalid(&format!("headers.{k}"), "not a valid header name"))?;
            let mut value = reqwest::header::HeaderValue::from_str(v.trim())
                .map_err(|_| p.invalid(&format!("headers.{k}"), "not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(HttpProvider {
            name: p.name.clone(),
            key: p.key.clone(),
            client: client(p, s.allow_private, timeout)?,
            timeout,
            method,
            url,
            body: s.body,
            headers,
        })
    }
}

#[async_trait]
impl SmsProvider for HttpProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, to: &str, text: &str, msg: &Message<'_>) -> SendResult {
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let url = match render_text(&self.url, &url_data(to, text, msg.delivery_id))
            .map_err(|e| e.to_string())
            .and_then(|u| reqwest::Url::parse(&u).map_err(|e| e.to_string()))
        {
            Ok(u) => u,
            Err(e) => {
                r.error = Some(format!("`{}.url`: {e}", self.key));
                return r;
            }
        };
        let body = match render_text(&self.body, &body_data(to, text, msg.delivery_id)) {
            Ok(b) => b,
            Err(e) => {
                r.error = Some(format!("`{}.body`: {e}", self.key));
                return r;
            }
        };
        let mut request = self
            .client
            .http
            .request(self.method.clone(), url.clone())
            .headers(self.headers.clone());
        if !(body.is_empty() && self.method == reqwest::Method::GET) {
            request = request.body(body);
        }
        let Some(resp) = send_checked(&mut r, &self.client, request, &url, self.timeout).await
        else {
            return r;
        };
        let code = match read_answer(&mut r, resp).await {
            Ok(body) => {
                r.response = Some(truncate(body, MAX_RESPONSE));
                r.status_code.unwrap_or_default()
            }
            Err(e) => {
                r.error = Some(e);
                return r;
            }
        };
        if r.outcome != Outcome::Ok {
            r.error = Some(format!("gateway answered HTTP {code}"));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sms(extra: &str) -> Result<Config, String> {
        Config::from_toml(extra).map_err(|e| e.to_string())
    }

    fn build_err(extra: &str) -> String {
        let cfg = sms(extra).unwrap();
        match build(&cfg.sms, &cfg) {
            Ok(_) => panic!("expected an error for {extra}"),
            Err(e) => format!("{e:#}"),
        }
    }

    const TWILIO: &str = "[channels.sms]\nproviders = [\"twilio\"]\n[channels.sms.twilio]\n";
    const HTTP: &str = "[channels.sms]\nproviders = [\"http\"]\n[channels.sms.http]\n";

    #[test]
    fn the_default_file_provider_builds() {
        let cfg = sms("").unwrap();
        assert!(build(&cfg.sms, &cfg).unwrap().is_some());
    }

    #[test]
    fn twilio_settings_are_checked() {
        let e = build_err(&format!(
            "{TWILIO}auth_token = \"t\"\nfrom = \"+15005550006\""
        ));
        assert!(e.contains("channels.sms.twilio.account_sid"), "{e}");
        let e = build_err(&format!(
            "{TWILIO}account_sid = \"AC1\"\nfrom = \"+15005550006\""
        ));
        assert!(e.contains("channels.sms.twilio.auth_token"), "{e}");
        let e = build_err(&format!(
            "{TWILIO}account_sid = \"AC1\"\nauth_token = \"secret-token\""
        ));
        assert!(
            e.contains("channels.sms.twilio.from") && e.contains("messaging_service_sid"),
            "{e}"
        );
        assert!(!e.contains("secret-token"), "{e}");
        let e = build_err(&format!("{TWILIO}account_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+1\"\nbase_url = \"ftp://x\""));
        assert!(e.contains("channels.sms.twilio.base_url"), "{e}");
        // An unknown key is refused as the settings are read.
        let e = sms(&format!(
            "{TWILIO}account_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+1\"\nregion = \"ie1\""
        ))
        .unwrap_err();
        assert!(
            e.contains("channels.sms.twilio") && e.contains("region"),
            "{e}"
        );
        let e = build_err(&format!(
            "{TWILIO}account_sid = \"AC/../x\"\nauth_token = \"t\"\nfrom = \"+1\""
        ));
        assert!(e.contains("channels.sms.twilio.account_sid"), "{e}");
        // A custom name with a type, and no defaults to lean on.
        let cfg = sms("[channels.sms]\nproviders = [\"main\"]\n[channels.sms.main]\ntype = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nmessaging_service_sid = \"MG1\"").unwrap();
        assert!(build(&cfg.sms, &cfg).is_ok());
    }

    #[test]
    fn http_settings_are_checked() {
        let e = build_err(HTTP);
        assert!(e.contains("channels.sms.http.url"), "{e}");
        let e = build_err(&format!("{HTTP}url = \"http://gw\"\nmethod = \"DELETE\""));
        assert!(e.contains("channels.sms.http.method"), "{e}");
        let e = build_err(&format!(
            "{HTTP}url = \"http://gw\"\nbody = \"{{{{#if to}}\""
        ));
        assert!(e.contains("channels.sms.http.body"), "{e}");
        let e = build_err(&format!(
            "{HTTP}url = \"http://gw\"\nbody = \"{{{{phone}}}}\""
        ));
        assert!(e.contains("channels.sms.http.body"), "{e}");
        let e = build_err(&format!(
            "{HTTP}url = \"http://gw\"\nbody = '{{\"text\": \"{{{{text}}}}\"}}'"
        ));
        assert!(
            e.contains("channels.sms.http.body") && e.contains("json"),
            "{e}"
        );
        let e = build_err(&format!(
            "{HTTP}url = \"http://gw\"\nheaders = {{ \"bad name\" = \"x\" }}"
        ));
        assert!(e.contains("channels.sms.http.headers"), "{e}");
        let e = build_err(&format!("{HTTP}url = \"not a url\""));
        assert!(e.contains("channels.sms.http.url"), "{e}");
        let cfg = sms(&format!(
            "{HTTP}url = \"https://gw.example.com/send?to={{{{to}}}}&msg={{{{text}}}}\"\nmethod = \"get\"\ncontent_type = \"\"\nbody = \"\""
        ))
        .unwrap();
        assert!(build(&cfg.sms, &cfg).is_ok());
    }

    #[tokio::test]
    async fn content_without_text_fails_permanently() {
        let cfg = sms("").unwrap();
        let ch = build(&cfg.sms, &cfg).unwrap().unwrap();
        let content = serde_json::Map::new();
        let msg = Message {
            delivery_id: "d1",
            notification_id: "n1",
            recipient: "+8613800000000",
            category: "transactional",
            attempt: 1,
            address: "+8613800000000",
            content: &content,
        };
        let r = ch.send(&msg).await;
        assert_eq!(r.outcome, Outcome::Permanent);
        assert_eq!(r.provider, "file");
        assert_eq!(r.error.as_deref(), Some("the template has no sms text"));
    }

    #[test]
    fn url_variables_are_percent_encoded() {
        let u = render_text(
            "http://gw/s?to={{to}}&t={{text}}",
            &url_data("+861", "a b&c=验", "d"),
        )
        .unwrap();
        assert_eq!(u, "http://gw/s?to=%2B861&t=a+b%26c%3D%E9%AA%8C");
    }
}
