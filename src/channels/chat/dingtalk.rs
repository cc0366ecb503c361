//! `dingtalk`: a DingTalk robot's webhook (`.../robot/send?access_token=`).
//! A message is `{"msgtype": "text", "text": {"content": ...}}`, or with a
//! title `{"msgtype": "markdown", "markdown": {"title", "text"}}` (the
//! title is what the notification shows, and heads the text). A robot
//! with 加签 (signing) on also gets `timestamp` (Unix ms) and `sign`
//! ([`sign`]) in the URL's query.
//!
//! DingTalk answers HTTP 200 with `{"errcode": 0}` on success. 130101
//! ("send too fast") means the robot went over its 20 a minute and is
//! held for ten minutes: worth another try after that; -1 (system busy)
//! soon; every other code is final.

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

/// "Send too fast": the robot is held for ten minutes.
const TOO_FAST: i64 = 130101;
const TOO_FAST_WAIT: Duration = Duration::from_secs(600);
/// "System busy".
const BUSY: i64 = -1;

/// A robot's signature, before URL encoding: base64 of HMAC-SHA256 keyed
/// with the secret over `"{timestamp_ms}\n{secret}"`.
pub fn sign(timestamp_ms: i64, secret: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// The message: text, or markdown headed by the title.
pub fn message(m: &ChatMessage<'_>) -> Value {
    match m.title {
        None => json!({"msgtype": "text", "text": {"content": m.text}}),
        Some(t) => json!({
            "msgtype": "markdown",
            "markdown": {"title": t, "text": format!("#### {t}\n\n{}", m.text)},
        }),
    }
}

pub struct DingTalk(Robot);

impl DingTalk {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        Robot::new(p, timeout, true).map(DingTalk)
    }
}

impl Provider for DingTalk {
    fn name(&self) -> &str {
        &self.0.name
    }
}

#[derive(Deserialize)]
struct Answer {
    errcode: Option<i64>,
    errmsg: Option<String>,
}

#[async_trait]
impl ChatProvider for DingTalk {
    async fn send(&self, target: Option<&str>, m: &ChatMessage<'_>, _: &Message<'_>) -> SendResult {
        let mut url = match self.0.url(target) {
            Ok(u) => u,
            Err(r) => return r,
        };
        if let Some(secret) = &self.0.secret {
            let ts = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as i64;
            url.query_pairs_mut()
                .append_pair("timestamp", &ts.to_string())
                .append_pair("sign", &sign(ts, secret));
        }
        let (mut r, answer) = self.0.post(&url, &message(m)).await;
        let Some(answer) = answer else {
            return r;
        };
        let code = serde_json::from_str::<Answer>(&answer)
            .ok()
            .and_then(|a| Some((a.errcode?, a.errmsg)));
        robot_answer(
            &mut r,
            "DingTalk",
            code,
            &[(TOO_FAST, TOO_FAST_WAIT)],
            &[BUSY],
        );
        keep(&mut r, None, answer);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_dingtalks() {
        // Computed independently:
        // printf '%s' "$(printf '1700000000001\nSECdemo')" \
        //   | openssl dgst -sha256 -hmac SECdemo -binary | base64
        let s = sign(1_700_000_000_001, "SECdemo");
        assert_eq!(s, "PTs+dsurGspsy8LSQV/Ud2CTvBpozdeoue2U2fgKqxI=");
        // In the URL it is form-encoded (DingTalk's `quote_plus`).
        let mut u =
            reqwest::Url::parse("https://oapi.dingtalk.com/robot/send?access_token=t").unwrap();
        u.query_pairs_mut().append_pair("sign", &s);
        assert_eq!(
            u.query(),
            Some("access_token=t&sign=PTs%2BdsurGspsy8LSQV%2FUd2CTvBpozdeoue2U2fgKqxI%3D")
        );
    }
}
