//! `telegram`: the Bot API's `sendMessage`, `POST {base}/bot{token}/
//! sendMessage` with `chat_id`, `text` and, if set, `parse_mode`. The
//! token is in the path, so a failed request names the host only and the
//! URL is never recorded.
//!
//! Telegram answers `{"ok": true, "result": {...}}`, or `{"ok": false,
//! "error_code", "description", "parameters": {"retry_after"}}` with the
//! same HTTP status: 429 waits `retry_after` seconds, 5xx is worth another
//! try, 400 (chat not found, bad markup) and 403 (bot blocked or removed)
//! are final.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{http_error, keep, post_json, ChatMessage, ChatProvider};
use crate::channels::http::{http_url, Client};
use crate::channels::providers::Provider;
use crate::channels::{Message, Outcome, SendResult};
use crate::config::{ConfigError, ProviderConfig};

fn default_base() -> String {
    "https://api.telegram.org".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    token: String,
    #[serde(default)]
    chat_id: String,
    #[serde(default)]
    parse_mode: String,
    #[serde(default = "default_base")]
    base_url: String,
    #[serde(default)]
    allow_private: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum ParseMode {
    Plain,
    Html,
    MarkdownV2,
    Markdown,
}

impl ParseMode {
    fn as_str(self) -> Option<&'static str> {
        match self {
            ParseMode::Plain => None,
            ParseMode::Html => Some("HTML"),
            ParseMode::MarkdownV2 => Some("MarkdownV2"),
            ParseMode::Markdown => Some("Markdown"),
        }
    }

    /// The title as a bold first line, escaped for the mode.
    fn title(self, t: &str) -> String {
        match self {
            ParseMode::Plain => t.to_string(),
            ParseMode::Html => format!(
                "<b>{}</b>",
                t.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            ),
            ParseMode::MarkdownV2 => {
                let mut s = String::from("*");
                for c in t.chars() {
                    if "_*[]()~`>#+-=|{}.!\\".contains(c) {
                        s.push('\\');
                    }
                    s.push(c);
                }
                s.push('*');
                s
            }
            ParseMode::Markdown => format!("*{}*", t.replace(['*', '_', '`', '['], "")),
        }
    }
}

pub struct Telegram {
    name: String,
    key: String,
    client: Client,
    /// `{base}/bot{token}/sendMessage`: holds the token, never logged or
    /// recorded.
    url: reqwest::Url,
    chat_id: Option<String>,
    parse_mode: ParseMode,
}

impl Telegram {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        let s: Settings = p.parse()?;
        let token = s.token.trim();
        if token.is_empty() {
            return Err(p.invalid(
                "token",
                "required: the bot's token from @BotFather (123456:ABC...)",
            ));
        }
        if !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'))
        {
            return Err(p.invalid(
                "token",
                "not a bot token (letters, digits, `:`, `_` and `-`; the value is not shown)",
            ));
        }
        let parse_mode = match s.parse_mode.trim() {
            "" => ParseMode::Plain,
            "HTML" => ParseMode::Html,
            "MarkdownV2" => ParseMode::MarkdownV2,
            "Markdown" => ParseMode::Markdown,
            other => {
                return Err(p.invalid(
                    "parse_mode",
                    format!("{other:?}: one of \"\", HTML, MarkdownV2, Markdown"),
                ))
            }
        };
        let base = http_url(p, "base_url", &s.base_url)?;
        let url = format!(
            "{}/bot{token}/sendMessage",
            base.as_str().trim_end_matches('/')
        );
        Ok(Telegram {
            name: p.name.clone(),
            key: p.key.clone(),
            client: Client::for_provider(p, s.allow_private, timeout)?,
            url: reqwest::Url::parse(&url).map_err(|_| p.invalid("base_url", "not a URL"))?,
            chat_id: Some(s.chat_id.trim().to_string()).filter(|c| !c.is_empty()),
            parse_mode,
        })
    }
}

impl Telegram {
    /// Checks the token without posting (`missive doctor`): the Bot API's
    /// `getMe`. Errors name no URL (it holds the token).
    pub async fn check(&self) -> Result<String, String> {
        let url = reqwest::Url::parse(&self.url.as_str().replace("/sendMessage", "/getMe"))
            .map_err(|_| "the base URL is not valid".to_string())?;
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let request = self.client.http.get(url.clone());
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
        match (code, v["ok"].as_bool()) {
            (200, Some(true)) => Ok(format!(
                "token accepted (getMe: @{})",
                v["result"]["username"].as_str().unwrap_or("?")
            )),
            _ => Err(format!(
                "Telegram refused the token (getMe: HTTP {code}{})",
                v["description"]
                    .as_str()
                    .map(|d| format!(", {d}"))
                    .unwrap_or_default()
            )),
        }
    }
}

impl Provider for Telegram {
    fn name(&self) -> &str {
        &self.name
    }
}

#[derive(Deserialize)]
struct Answer {
    ok: Option<bool>,
    error_code: Option<i64>,
    description: Option<String>,
    parameters: Option<Parameters>,
    result: Option<Sent>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

#[derive(Deserialize)]
struct Sent {
    message_id: Option<i64>,
}

#[async_trait]
impl ChatProvider for Telegram {
    async fn send(&self, target: Option<&str>, m: &ChatMessage<'_>, _: &Message<'_>) -> SendResult {
        let Some(chat_id) = target.or(self.chat_id.as_deref()) else {
            return SendResult::failed(
                &self.name,
                format!(
                    "no Telegram chat: address it as {}:CHAT_ID or set `{}.chat_id`",
                    self.name, self.key
                ),
            );
        };
        let text = match m.title {
            Some(t) => format!("{}\n\n{}", self.parse_mode.title(t), m.text),
            None => m.text.to_string(),
        };
        let mut body = json!({"chat_id": chat_id, "text": text});
        if let Some(mode) = self.parse_mode.as_str() {
            body["parse_mode"] = json!(mode);
        }
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let request = self.client.http.post(self.url.clone());
        let Some(answer) = post_json(&self.client, &mut r, request, &self.url, &body).await else {
            return r;
        };
        let http = r.status_code.unwrap_or_default();
        match serde_json::from_str::<Answer>(&answer) {
            Ok(a) if r.outcome == Outcome::Ok && a.ok == Some(true) => {
                let id = a.result.and_then(|s| s.message_id);
                keep(&mut r, id.map(|id| format!("message_id={id}")), answer);
                return r;
            }
            Ok(a) if a.ok == Some(false) => {
                if let Some(wait) = a.parameters.and_then(|p| p.retry_after) {
                    r.retry_after = Some(Duration::from_secs(wait));
                    r.outcome = Outcome::Transient;
                }
                let code = a.error_code.map_or(http as i64, |c| c);
                r.error = Some(format!(
                    "Telegram error {code}: {}",
                    a.description.unwrap_or_default()
                ));
                if r.outcome == Outcome::Ok {
                    r.outcome = Outcome::Permanent;
                }
            }
            _ => {
                if r.outcome == Outcome::Ok {
                    r.outcome = Outcome::Transient;
                    r.error = Some(format!("Telegram answered HTTP {http} without \"ok\""));
                }
                http_error(&mut r, "Telegram");
            }
        }
        keep(&mut r, None, answer);
        r
    }

    /// Telegram's 30 a second holds for the whole bot.
    fn limit_per_target(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_escaped_for_the_parse_mode() {
        assert_eq!(ParseMode::Plain.title("a<b> *c*"), "a<b> *c*");
        assert_eq!(
            ParseMode::Html.title("a<b> & c"),
            "<b>a&lt;b&gt; &amp; c</b>"
        );
        assert_eq!(
            ParseMode::MarkdownV2.title("v1.2 (beta)!"),
            "*v1\\.2 \\(beta\\)\\!*"
        );
    }
}
