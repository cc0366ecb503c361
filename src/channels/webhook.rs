//! The webhook channel: a signed POST to the recipient's `webhook_url`,
//! following Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`).
//!
//! Only what is webhook-specific lives here: the body, the signature and
//! its secret, and the receiver as destination. Sending under the address
//! rule and reading the answer are src/channels/http.rs's, shared with the
//! HTTP providers; errors keep the receiver's URL, which is the
//! recipient's own and the first thing to check.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::http::{Direct, Guard, Naming};
use super::{Channel, Message, Outcome, SendResult, MAX_RESPONSE};
use crate::config::WebhookConfig;

pub use crate::domain::secrets::{
    decode_webhook_secret as decode_secret, generate_webhook_secret as generate_secret,
};

/// The `webhook-signature` header value.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    Signer::new(key).sign(id, &timestamp.to_string(), body)
}

/// An HMAC-SHA-256 keyed once: each signature starts from a copy of it
/// instead of hashing the key's two blocks again.
#[derive(Clone)]
pub struct Signer(Hmac<Sha256>);

impl Signer {
    pub fn new(key: &[u8]) -> Signer {
        Signer(Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length"))
    }

    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, the timestamp
    /// as the `webhook-timestamp` header writes it.
    pub fn sign(&self, id: &str, timestamp: &str, body: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        let mut out = String::with_capacity(48);
        out.push_str("v1,");
        B64.encode_string(mac.finalize().into_bytes(), &mut out);
        out
    }
}

pub struct WebhookChannel {
    /// Recipients' URLs reach only global addresses unless
    /// `channels.webhook.allow_private` is set.
    client: Direct,
    signer: Signer,
    cfg: WebhookConfig,
}

impl WebhookChannel {
    pub fn new(cfg: WebhookConfig) -> anyhow::Result<Self> {
        let key = decode_secret(&cfg.signing_secret).ok_or_else(|| {
            anyhow::anyhow!("channels.webhook.signing_secret is not a valid whsec_ secret")
        })?;
        let guard = Guard::new(cfg.allow_private, "channels.webhook.allow_private");
        let client = Direct::new(guard, cfg.timeout, Naming::Url, 256)?;
        Ok(WebhookChannel {
            client,
            signer: Signer::new(&key),
            cfg,
        })
    }

    fn body(msg: &Message<'_>) -> String {
        match msg.content.get("body") {
            Some(serde_json::Value::String(b)) => b.clone(),
            _ => serde_json::Value::Object(msg.content.clone()).to_string(),
        }
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    fn name(&self) -> &'static str {
        crate::domain::Channel::Webhook.as_str()
    }

    fn retry_schedule(&self) -> &[Duration] {
        &self.cfg.retry_schedule
    }

    fn max_retry_after(&self) -> Duration {
        self.cfg.max_retry_after
    }

    /// The receiver's host and port.
    fn destination(&self, address: &str, _attempt: i64) -> Option<String> {
        let url = crate::util::parse_url(address).ok()?;
        Some(format!(
            "webhook:{}:{}",
            url.host_str()?.to_ascii_lowercase(),
            url.port_or_known_default().unwrap_or(0)
        ))
    }

    async fn send(&self, msg: &Message<'_>) -> SendResult {
        let mut result = SendResult::new(self.name(), Outcome::Permanent);
        let url = match crate::util::parse_url(msg.address) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u,
            _ => {
                result.error = Some(format!("{} is not an http(s) URL", msg.address));
                return result;
            }
        };
        let body = Self::body(msg);
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .to_string();
        let signature = self.signer.sign(msg.delivery_id, &ts, &body);
        let headers = [
            ("content-type", "application/json"),
            ("webhook-id", msg.delivery_id),
            ("webhook-timestamp", ts.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        let answer = self
            .client
            .post(&mut result, &url, &headers, body, MAX_RESPONSE);
        if let Some(answer) = answer.await {
            result.response = Some(answer);
        }
        if result.outcome != Outcome::Ok && result.error.is_none() {
            let code = result.status_code.unwrap_or_default();
            result.error = Some(format!("receiver answered HTTP {code}"));
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
    fn one_keyed_signer_signs_each_message_afresh() {
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signer = Signer::new(&key);
        let body = r#"{"test": 2432232314}"#;
        let other = signer.sign("msg_other", "1614265331", "{}");
        assert_eq!(other, sign(&key, "msg_other", 1614265331, "{}"));
        for _ in 0..2 {
            assert_eq!(
                signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body),
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
            );
        }
    }
}
