//! `wecom`: a WeCom (企业微信) group robot's webhook
//! (`.../cgi-bin/webhook/send?key=`). A message is
//! `{"msgtype": "text", "text": {"content": ...}}`, or with a title
//! `{"msgtype": "markdown", "markdown": {"content": "**title**\n..."}}`.
//!
//! WeCom answers HTTP 200 with `{"errcode": 0}` on success. 45009 (over
//! the robot's 20 a minute) is worth another try after a minute; -1
//! (system busy) soon; every other code (93000 bad key, 40008 bad message
//! type, ...) is final.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{keep, robot_answer, ChatMessage, ChatProvider, Robot};
use crate::channels::providers::Provider;
use crate::channels::{Message, SendResult};
use crate::config::{ConfigError, ProviderConfig};

/// Over the robot's rate limit: its window is a minute.
const RATE_LIMITED: i64 = 45009;
const RATE_LIMITED_WAIT: Duration = Duration::from_secs(60);
const BUSY: i64 = -1;

/// The message: text, or markdown with the title in bold.
pub fn message(m: &ChatMessage<'_>) -> Value {
    match m.title {
        None => json!({"msgtype": "text", "text": {"content": m.text}}),
        Some(t) => json!({
            "msgtype": "markdown",
            "markdown": {"content": format!("**{t}**\n{}", m.text)},
        }),
    }
}

pub struct WeCom(Robot);

impl WeCom {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        Robot::new(p, timeout, false).map(WeCom)
    }
}

impl Provider for WeCom {
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
impl ChatProvider for WeCom {
    async fn send(&self, target: Option<&str>, m: &ChatMessage<'_>, _: &Message<'_>) -> SendResult {
        let url = match self.0.url(target) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let (mut r, answer) = self.0.post(&url, &message(m)).await;
        let Some(answer) = answer else {
            return r;
        };
        // WeCom's errmsg may end with a hint URL; the words come first.
        let code = serde_json::from_str::<Answer>(&answer)
            .ok()
            .and_then(|a| Some((a.errcode?, a.errmsg)));
        robot_answer(
            &mut r,
            "WeCom",
            code,
            &[(RATE_LIMITED, RATE_LIMITED_WAIT)],
            &[BUSY],
        );
        keep(&mut r, None, answer);
        r
    }
}
