//! Slack: `slack`, the Web API's `chat.postMessage` with a bot token, and
//! `slack_webhook`, an incoming webhook. Both send the text (with the
//! title in bold before it) and the template's Block Kit `blocks` when it
//! has them; the text is then what notifications and old clients show.
//!
//! Slack's Web API answers HTTP 200 with `{"ok": false, "error": "..."}`
//! on most failures, so the outcome is read from the body: `ratelimited`
//! (like an HTTP 429, with Retry-After) and Slack's own outages are worth
//! another try, every other error (`channel_not_found`, `invalid_auth`,
//! `not_in_channel`, ...) is final. An incoming webhook says what went wrong
//! in a plain-text body with the HTTP status.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{http_error, keep, post_json, ChatMessage, ChatProvider, Robot};
use crate::channels::http::{http_url, Client};
use crate::channels::providers::Provider;
use crate::channels::{Message, Outcome, SendResult};
use crate::config::{ConfigError, ProviderConfig};

fn default_base() -> String {
    "https://slack.com".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BotSettings {
    #[serde(default)]
    token: String,
    #[serde(default)]
    channel: String,
    #[serde(default = "default_base")]
    base_url: String,
    #[serde(default)]
    allow_private: bool,
}

/// Slack's errors worth another try: rate limits and Slack's own trouble.
const TRANSIENT: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Slack's wait when it says `ratelimited` without a Retry-After.
const RATELIMITED_WAIT: Duration = Duration::from_secs(30);

/// The text Slack gets: the title in bold on its own line, then the text.
fn text(m: &ChatMessage<'_>) -> String {
    match m.title {
        Some(t) => format!("*{t}*\n{}", m.text),
        None => m.text.to_string(),
    }
}

/// `{"text", "blocks"?}` and, for the Web API, `channel`.
fn body(m: &ChatMessage<'_>, channel: Option<&str>) -> Result<Value, String> {
    let mut body = json!({"text": text(m)});
    if let Some(c) = channel {
        body["channel"] = json!(c);
    }
    if let Some(blocks) = m.blocks()? {
        body["blocks"] = blocks;
    }
    Ok(body)
}

/// `chat.postMessage` with a bot token.
pub struct SlackBot {
    name: String,
    key: String,
    client: Client,
    url: reqwest::Url,
    /// Sent as a bearer token only; never logged or recorded.
    token: String,
    channel: Option<String>,
}

impl SlackBot {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        let s: BotSettings = p.parse()?;
        let token = s.token.trim().to_string();
        if token.is_empty() {
            return Err(p.invalid("token", "required: the bot's token (xoxb-...)"));
        }
        let base = http_url(p, "base_url", &s.base_url)?;
        let url = format!(
            "{}/api/chat.postMessage",
            base.as_str().trim_end_matches('/')
        );
        Ok(SlackBot {
            name: p.name.clone(),
            key: p.key.clone(),
            client: Client::for_provider(p, s.allow_private, timeout)?,
            url: reqwest::Url::parse(&url).map_err(|e| p.invalid("base_url", e))?,
            token,
            channel: Some(s.channel.trim().to_string()).filter(|c| !c.is_empty()),
        })
    }
}

impl SlackBot {
    /// Checks the token without posting (`missive doctor`): the Web API's
    /// `auth.test`, which only says whose token it is.
    pub async fn check(&self) -> Result<String, String> {
        let url = reqwest::Url::parse(
            &self
                .url
                .as_str()
                .replace("/api/chat.postMessage", "/api/auth.test"),
        )
        .map_err(|e| e.to_string())?;
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let request = self.client.http.post(url.clone()).bearer_auth(&self.token);
        let Some(resp) = self.client.send(&mut r, request, &url).await else {
            return Err(r.error.unwrap_or_else(|| "no answer".into()));
        };
        let code = resp.status().as_u16();
        let body = self
            .client
            .answer(&mut r, resp, 64 * 1024)
            .await
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        match (code, v["ok"].as_bool(), v["error"].as_str()) {
            (200, Some(true), _) => Ok(format!(
                "token accepted (auth.test: team {}, bot user {})",
                v["team"].as_str().unwrap_or("?"),
                v["user"].as_str().unwrap_or("?")
            )),
            (_, _, Some(e)) => Err(format!("Slack refused the token (auth.test: {e})")),
            _ => Err(format!("Slack's auth.test answered HTTP {code}")),
        }
    }
}

impl Provider for SlackBot {
    fn name(&self) -> &str {
        &self.name
    }
}

/// The parts of a Web API answer missive reads.
#[derive(Deserialize)]
struct ApiAnswer {
    ok: Option<bool>,
    error: Option<String>,
    channel: Option<String>,
    ts: Option<String>,
}

#[async_trait]
impl ChatProvider for SlackBot {
    async fn send(&self, target: Option<&str>, m: &ChatMessage<'_>, _: &Message<'_>) -> SendResult {
        let Some(channel) = target.or(self.channel.as_deref()) else {
            return SendResult::failed(
                &self.name,
                format!(
                    "no Slack channel: address it as {}:CHANNEL or set `{}.channel`",
                    self.name, self.key
                ),
            );
        };
        let body = match body(m, Some(channel)) {
            Ok(b) => b,
            Err(e) => return SendResult::failed(&self.name, e),
        };
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let request = self
            .client
            .http
            .post(self.url.clone())
            .bearer_auth(&self.token);
        let Some(answer) = post_json(&self.client, &mut r, request, &self.url, &body).await else {
            return r;
        };
        let code = r.status_code.unwrap_or_default();
        match serde_json::from_str::<ApiAnswer>(&answer) {
            Ok(a) if r.outcome == Outcome::Ok && a.ok == Some(true) => {
                let first = format!(
                    "channel={} ts={}",
                    a.channel.unwrap_or_default(),
                    a.ts.unwrap_or_default()
                );
                keep(&mut r, Some(first), answer);
            }
            Ok(ApiAnswer { error: Some(e), .. }) => {
                if TRANSIENT.contains(&e.as_str()) {
                    r.outcome = Outcome::Transient;
                    if e.contains("rate") {
                        r.retry_after = r.retry_after.or(Some(RATELIMITED_WAIT));
                    }
                } else if r.outcome == Outcome::Ok {
                    r.outcome = Outcome::Permanent;
                }
                r.error = Some(format!("Slack error {e} (HTTP {code})"));
                keep(&mut r, None, answer);
            }
            _ => {
                if r.outcome == Outcome::Ok {
                    // 200 without `"ok": true`: not an answer Slack gives.
                    r.outcome = Outcome::Transient;
                    r.error = Some(format!("Slack answered HTTP {code} without \"ok\": true"));
                }
                http_error(&mut r, "Slack");
                keep(&mut r, None, answer);
            }
        }
        r
    }

    /// Slack's limit is about a message a second per channel.
    fn limit_per_target(&self) -> bool {
        true
    }
}

/// An incoming webhook.
pub struct SlackWebhook(Robot);

impl SlackWebhook {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        Robot::new(p, timeout, false).map(SlackWebhook)
    }
}

impl Provider for SlackWebhook {
    fn name(&self) -> &str {
        &self.0.name
    }
}

#[async_trait]
impl ChatProvider for SlackWebhook {
    async fn send(&self, target: Option<&str>, m: &ChatMessage<'_>, _: &Message<'_>) -> SendResult {
        let url = match self.0.url(target) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let body = match body(m, None) {
            Ok(b) => b,
            Err(e) => return SendResult::failed(&self.0.name, e),
        };
        let (mut r, answer) = self.0.post(&url, &body).await;
        let Some(answer) = answer else {
            return r;
        };
        if r.outcome != Outcome::Ok {
            let code = r.status_code.unwrap_or_default();
            // Slack words a webhook's failure in the body: `channel_not_found`.
            let said = answer.trim();
            r.error = Some(if said.is_empty() || said.len() > 200 {
                format!("Slack answered HTTP {code}")
            } else {
                format!("Slack answered HTTP {code}: {said}")
            });
        }
        keep(&mut r, None, answer);
        r
    }
}
