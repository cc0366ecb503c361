//! The webhook channel: a signed POST to the recipient's `webhook_url`,
//! following Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::http::{read_capped, refusal, Guard};
use super::{Channel, Message, Outcome, SendResult, MAX_RESPONSE};
use crate::config::WebhookConfig;

pub use crate::domain::secrets::{
    decode_webhook_secret as decode_secret, generate_webhook_secret as generate_secret,
};

/// The `webhook-signature` header value.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

pub struct WebhookChannel {
    client: reqwest::Client,
    key: Vec<u8>,
    cfg: WebhookConfig,
    /// Recipients' URLs reach only global addresses unless
    /// `channels.webhook.allow_private` is set.
    guard: Guard,
}

impl WebhookChannel {
    pub fn new(cfg: WebhookConfig) -> anyhow::Result<Self> {
        let key = decode_secret(&cfg.signing_secret).ok_or_else(|| {
            anyhow::anyhow!("channels.webhook.signing_secret is not a valid whsec_ secret")
        })?;
        let guard = Guard::new(cfg.allow_private, "channels.webhook.allow_private");
        let client = guard
            .client_builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(WebhookChannel {
            client,
            key,
            cfg,
            guard,
        })
    }

    fn body(msg: &Message<'_>) -> String {
        match msg.content.get("body") {
            Some(serde_json::Value::String(b)) => b.clone(),
            _ => serde_json::Value::Object(msg.content.clone()).to_string(),
        }
    }
}

/// Maps an HTTP status to an outcome per DESIGN.md.
pub fn classify_status(code: u16) -> Outcome {
    match code {
        200..=299 => Outcome::Ok,
        408 | 429 | 500..=599 => Outcome::Transient,
        _ => Outcome::Permanent,
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let when = UNIX_EPOCH + Duration::from_secs(when.timestamp().max(0) as u64);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An error and its causes on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

#[async_trait]
impl Channel for WebhookChannel {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn retry_schedule(&self) -> &[Duration] {
        &self.cfg.retry_schedule
    }

    fn max_retry_after(&self) -> Duration {
        self.cfg.max_retry_after
    }

    /// The receiver's host and port.
    fn destination(&self, address: &str, _attempt: i64) -> Option<String> {
        let url = reqwest::Url::parse(address).ok()?;
        Some(format!(
            "webhook:{}:{}",
            url.host_str()?.to_ascii_lowercase(),
            url.port_or_known_default().unwrap_or(0)
        ))
    }

    async fn send(&self, msg: &Message<'_>) -> SendResult {
        let mut result = SendResult::new("webhook", Outcome::Permanent);
        let url = match reqwest::Url::parse(msg.address) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u,
            _ => {
                result.error = Some(format!("{} is not an http(s) URL", msg.address));
                return result;
            }
        };
        if let Err(e) = self.guard.check_url(&url) {
            result.error = Some(e.to_string());
            return result;
        }
        let body = Self::body(msg);
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let signature = sign(&self.key, msg.delivery_id, ts, &body);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", msg.delivery_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(mut resp) => {
                if let Err(e) = self.guard.check_peer(&resp) {
                    result.error = Some(e.to_string());
                    return result;
                }
                let code = resp.status().as_u16();
                result.status_code = Some(code);
                result.outcome = classify_status(code);
                result.retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                // Only what is kept is read; dropping the response then
                // closes the connection on whatever else the receiver sends.
                match read_capped(&mut resp, MAX_RESPONSE).await {
                    Ok(body) => result.response = Some(body.text(MAX_RESPONSE)),
                    Err((body, e)) => {
                        result.response = Some(body.text(MAX_RESPONSE));
                        result.error = Some(format!("reading the answer: {}", error_chain(&e)))
                    }
                }
                if result.outcome != Outcome::Ok && result.error.is_none() {
                    result.error = Some(format!("receiver answered HTTP {code}"));
                }
            }
            Err(e) => {
                if let Some(refused) = refusal(&e) {
                    result.outcome = Outcome::Permanent;
                    result.error = Some(refused.to_string());
                } else if e.is_timeout() {
                    result.outcome = Outcome::Transient;
                    result.error = Some(format!(
                        "timed out after {}",
                        humantime::format_duration(self.cfg.timeout)
                    ));
                } else {
                    result.outcome = Outcome::Transient;
                    result.error = Some(error_chain(&e));
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // Example from the Standard Webhooks specification.
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn statuses_classify_per_the_design() {
        assert_eq!(classify_status(204), Outcome::Ok);
        for c in [408, 429, 500, 503] {
            assert_eq!(classify_status(c), Outcome::Transient, "{c}");
        }
        for c in [400, 401, 404, 410, 422] {
            assert_eq!(classify_status(c), Outcome::Permanent, "{c}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        let later = chrono::DateTime::from_timestamp(1_700_000_010, 0)
            .unwrap()
            .to_rfc2822();
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
