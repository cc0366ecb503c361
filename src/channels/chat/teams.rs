//! `teams`: a Microsoft Teams Workflows webhook ("post to a channel when a
//! webhook request is received"), sent a message with one Adaptive Card:
//! the title as a bold heading, then the text. Teams answers with the HTTP
//! status only (202 when the flow took the message), so the outcome is the
//! status's: 2xx sent, 408/429/5xx again later, any other 4xx final.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{http_error, keep, post_json, url_setting, webhook_url, ChatMessage, ChatProvider};
use crate::channels::http::Client;
use crate::channels::providers::Provider;
use crate::channels::{Message, Outcome, SendResult};
use crate::config::{ConfigError, ProviderConfig};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    url: String,
    #[serde(default)]
    allow_private: bool,
}

/// The message a Workflows webhook takes: one Adaptive Card attachment.
pub fn card(m: &ChatMessage<'_>) -> Value {
    let mut body = Vec::new();
    if let Some(t) = m.title {
        body.push(json!({
            "type": "TextBlock",
            "text": t,
            "size": "Medium",
            "weight": "Bolder",
            "wrap": true,
        }));
    }
    body.push(json!({"type": "TextBlock", "text": m.text, "wrap": true}));
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}

pub struct Teams {
    name: String,
    key: String,
    client: Client,
    /// Holds the flow's signature (`sig=`): never logged or recorded.
    url: Option<reqwest::Url>,
}

impl Teams {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        let s: Settings = p.parse()?;
        Ok(Teams {
            name: p.name.clone(),
            key: p.key.clone(),
            client: Client::for_provider(p, s.allow_private, timeout)?,
            url: url_setting(p, &s.url)?,
        })
    }
}

impl Provider for Teams {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait]
impl ChatProvider for Teams {
    async fn send(&self, target: Option<&str>, m: &ChatMessage<'_>, _: &Message<'_>) -> SendResult {
        let url = match webhook_url(self.url.as_ref(), target, &self.key) {
            Ok(u) => u,
            Err(e) => return SendResult::failed(&self.name, e),
        };
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let request = self.client.http.post(url.clone());
        let Some(answer) = post_json(&self.client, &mut r, request, &url, &card(m)).await else {
            return r;
        };
        http_error(&mut r, "Teams");
        keep(&mut r, None, answer);
        r
    }
}
