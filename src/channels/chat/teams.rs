//! `teams`: a Microsoft Teams Workflows webhook ("post to a channel when a
//! webhook request is received"), sent a message with one Adaptive Card:
//! the title as a bold heading, then the text. Teams answers with the HTTP
//! status only (202 when the flow took the message), so the outcome is the
//! status's: 2xx sent, 408/429/5xx again later, any other 4xx final.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{http_error, keep, ChatMessage, ChatProvider, Robot};
use crate::channels::providers::Provider;
use crate::channels::{Message, SendResult};
use crate::config::{ConfigError, ProviderConfig};

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

pub struct Teams(Robot);

impl Teams {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        Robot::new(p, timeout, false).map(Teams)
    }
}

impl Provider for Teams {
    fn name(&self) -> &str {
        &self.0.name
    }
}

#[async_trait]
impl ChatProvider for Teams {
    async fn send(&self, target: Option<&str>, m: &ChatMessage<'_>, _: &Message<'_>) -> SendResult {
        let url = match self.0.url(target) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let (mut r, answer) = self.0.post(&url, &card(m)).await;
        let Some(answer) = answer else {
            return r;
        };
        http_error(&mut r, "Teams");
        keep(&mut r, None, answer);
        r
    }
}
