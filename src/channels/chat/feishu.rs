//! `feishu`: a Feishu (or Lark) custom bot's webhook. A message is
//! `{"msg_type": "text", "content": {"text": ...}}`, or with a title a
//! `post` (rich text) whose title is the title; a bot with signature
//! verification on also gets `timestamp` (Unix seconds) and `sign`
//! ([`sign`]).
//!
//! Feishu answers HTTP 200 with `{"code": 0}` on success and a non-zero
//! code on failure: its rate-limit codes are worth another try (after a
//! minute, its limit's window), every other code is final.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::{keep, robot_answer, ChatMessage, ChatProvider, Robot};
use crate::channels::providers::Provider;
use crate::channels::{Message, SendResult};
use crate::config::{ConfigError, ProviderConfig};

/// Feishu's codes for "too many requests": worth another try.
const RATE_LIMITED: &[i64] = &[9499, 11232, 11233, 11247];

/// How long Feishu's limit holds once hit: its window.
const RATE_LIMITED_WAIT: Duration = Duration::from_secs(60);

/// A custom bot's signature: base64 of HMAC-SHA256 keyed with
/// `"{timestamp}\n{secret}"` over an empty message (Feishu's own
/// reference code signs so).
pub fn sign(timestamp: i64, secret: &str) -> String {
    let key = format!("{timestamp}\n{secret}");
    let mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    B64.encode(mac.finalize().into_bytes())
}

/// The message: plain text, or a `post` with the title.
pub fn message(m: &ChatMessage<'_>) -> Value {
    match m.title {
        None => json!({"msg_type": "text", "content": {"text": m.text}}),
        Some(t) => json!({
            "msg_type": "post",
            "content": {"post": {"zh_cn": {
                "title": t,
                "content": [[{"tag": "text", "text": m.text}]],
            }}},
        }),
    }
}

pub struct Feishu(Robot);

impl Feishu {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        Robot::new(p, timeout, true).map(Feishu)
    }
}

impl Provider for Feishu {
    fn name(&self) -> &str {
        &self.0.name
    }
}

#[derive(Deserialize)]
struct Answer {
    code: Option<i64>,
    /// Older bots answer `StatusCode`.
    #[serde(rename = "StatusCode")]
    status_code: Option<i64>,
    msg: Option<String>,
    #[serde(rename = "StatusMessage")]
    status_message: Option<String>,
}

#[async_trait]
impl ChatProvider for Feishu {
    async fn send(&self, target: Option<&str>, m: &ChatMessage<'_>, _: &Message<'_>) -> SendResult {
        let url = match self.0.url(target) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let mut body = message(m);
        if let Some(secret) = &self.0.secret {
            let ts = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs() as i64;
            body["timestamp"] = json!(ts.to_string());
            body["sign"] = json!(sign(ts, secret));
        }
        let (mut r, answer) = self.0.post(&url, &body).await;
        let Some(answer) = answer else {
            return r;
        };
        let code = serde_json::from_str::<Answer>(&answer)
            .ok()
            .and_then(|a| Some((a.code.or(a.status_code)?, a.msg.or(a.status_message))));
        let waits: Vec<(i64, Duration)> = RATE_LIMITED
            .iter()
            .map(|c| (*c, RATE_LIMITED_WAIT))
            .collect();
        robot_answer(&mut r, "Feishu", code, &waits, &[]);
        keep(&mut r, None, answer);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_feishus() {
        // Computed independently:
        // printf '' | openssl dgst -sha256 -hmac "$(printf '1599360473\ndemo')" -binary | base64
        assert_eq!(
            sign(1599360473, "demo"),
            "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
        );
    }
}
