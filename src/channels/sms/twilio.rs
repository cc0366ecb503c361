//! The `twilio` provider: Twilio's Messages API. Its own file for the
//! settings Twilio needs (SIDs, token, a sender) and for reading Twilio's
//! answers (the message sid first, Twilio's error code and message);
//! sending and the outcome of an answer are src/channels/http.rs's.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::SmsProvider;
use crate::channels::http::{http_url, Client, PROVIDER_READ_LIMIT};
use crate::channels::providers::Provider;
use crate::channels::{truncate, Message, Outcome, SendResult, MAX_RESPONSE};
use crate::config::{ConfigError, ProviderConfig};

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
pub struct TwilioProvider {
    name: String,
    client: Client,
    url: reqwest::Url,
    /// The account resource, `GET` by [`TwilioProvider::check`].
    account_url: reqwest::Url,
    account_sid: String,
    /// Sent as the basic-auth password only; never logged or recorded.
    auth_token: String,
    from: Option<String>,
    messaging_service_sid: Option<String>,
    /// `{server.public_url}/v1/receipts/twilio?d=`: the delivery id is
    /// appended to make each message's StatusCallback.
    status_callback: Option<String>,
}

/// The auth tokens of `cfg`'s Twilio providers: a status callback is
/// genuine if it is signed with one of them.
pub fn auth_tokens(cfg: &crate::config::ChannelConfig) -> Vec<String> {
    cfg.providers
        .iter()
        .filter(|p| p.kind == "twilio")
        .filter_map(|p| p.parse::<TwilioSettings>().ok())
        .map(|s| s.auth_token.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
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
    /// `public_url`: `server.public_url`, to ask for status callbacks.
    pub fn new(
        p: &ProviderConfig,
        timeout: Duration,
        public_url: Option<&str>,
    ) -> Result<Self, ConfigError> {
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
        let account_url = reqwest::Url::parse(&format!(
            "{}/2010-04-01/Accounts/{account_sid}.json",
            base.as_str().trim_end_matches('/')
        ))
        .map_err(|e| p.invalid("base_url", e))?;
        Ok(TwilioProvider {
            account_url,
            name: p.name.clone(),
            client: Client::for_provider(p, s.allow_private, timeout)?,
            url,
            account_sid,
            auth_token,
            from,
            messaging_service_sid,
            status_callback: public_url.map(|u| format!("{u}/v1/receipts/twilio?d=")),
        })
    }
}

impl TwilioProvider {
    /// Checks the credentials without sending: `GET` the account resource
    /// (read-only) at the configured base URL, under the same address
    /// rule as sends. The answer says what Twilio said.
    pub async fn check(&self) -> Result<String, String> {
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let request = self
            .client
            .http
            .get(self.account_url.clone())
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header("accept", "application/json");
        let Some(resp) = self.client.send(&mut r, request, &self.account_url).await else {
            return Err(r.error.unwrap_or_else(|| "no answer".into()));
        };
        let code = resp.status().as_u16();
        let body = self
            .client
            .answer(&mut r, resp, PROVIDER_READ_LIMIT)
            .await
            .unwrap_or_default();
        match code {
            200..=299 => {
                let status = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_string));
                match status.as_deref() {
                    Some("active") | None => Ok(format!(
                        "credentials accepted for account {}",
                        self.account_sid
                    )),
                    Some(other) => Err(format!(
                        "the credentials work, but account {} is {other}",
                        self.account_sid
                    )),
                }
            }
            401 | 403 => Err(format!(
                "Twilio refused the credentials (HTTP {code}): check account_sid and auth_token"
            )),
            _ => {
                let detail = match serde_json::from_str::<TwilioError>(&body) {
                    Ok(TwilioError {
                        message: Some(m), ..
                    }) => format!(": {m}"),
                    _ => String::new(),
                };
                Err(format!("Twilio answered HTTP {code}{detail}"))
            }
        }
    }
}

impl Provider for TwilioProvider {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait]
impl SmsProvider for TwilioProvider {
    async fn send(&self, to: &str, text: &str, msg: &Message<'_>) -> SendResult {
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let callback = self
            .status_callback
            .as_ref()
            .map(|base| format!("{base}{}", msg.delivery_id));
        let mut form: Vec<(&str, &str)> = vec![("To", to), ("Body", text)];
        if let Some(c) = &callback {
            form.push(("StatusCallback", c));
        }
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
        let Some(resp) = self.client.send(&mut r, request, &self.url).await else {
            return r;
        };
        let body = match self.client.answer(&mut r, resp, PROVIDER_READ_LIMIT).await {
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
