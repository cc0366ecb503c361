//! The SMS channel: providers `twilio` (Twilio's Messages API,
//! twilio.rs), `http` (a generic templated HTTP gateway, http_gateway.rs)
//! and `file` (one JSON file per message, file.rs; the zero-configuration
//! default).
//!
//! Each provider of `channels.sms.providers` is read and checked at start-up
//! (a bad setting stops the process, naming its key). The list is kept in
//! failover order: attempt n starts at provider n-1 and skips those whose
//! breaker is open or that asked for a pause (src/channels/failover.rs).
//! This file is the wiring: the provider list, and what an SMS send is to
//! the shared channel of providers (src/channels/providers.rs).

mod file;
mod http_gateway;
mod twilio;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::outbox::Outbox;
use super::providers::{Kind, Provider, ProviderChannel};
use super::{Channel, Message, SendResult};
use crate::config::{ChannelConfig, Config};
use http_gateway::HttpProvider;
pub use twilio::auth_tokens as twilio_auth_tokens;
use twilio::TwilioProvider;

/// Builds the SMS channel from `channels.sms`.
pub fn build(cfg: &ChannelConfig, root: &Config) -> anyhow::Result<Option<Arc<dyn Channel>>> {
    let mut providers: Vec<Box<dyn SmsProvider>> = Vec::new();
    for p in &cfg.providers {
        let provider: Box<dyn SmsProvider> = match p.kind.as_str() {
            "file" => Box::new(Outbox::new(p, root, crate::domain::Channel::Sms.as_str())?),
            "twilio" => Box::new(TwilioProvider::new(
                p,
                cfg.timeout,
                root.server.public_url.as_deref(),
            )?),
            "http" => Box::new(HttpProvider::new(p, cfg.timeout)?),
            other => anyhow::bail!("`{}.type`: unknown SMS provider type `{other}`", p.key),
        };
        providers.push(provider);
    }
    if providers.is_empty() {
        anyhow::bail!("`channels.sms.providers` is empty: give at least one of file, twilio, http");
    }
    Ok(Some(Arc::new(SmsChannel::new(Sms, providers, cfg))))
}

/// Checks one `channels.sms` provider without sending (`missive
/// doctor`): Twilio's credentials with a read-only call; an HTTP gateway
/// and a file outbox only have their settings checked, since any request
/// to a gateway would send.
pub async fn check(
    p: &crate::config::ProviderConfig,
    cfg: &ChannelConfig,
) -> Result<String, String> {
    match p.kind.as_str() {
        "twilio" => {
            let t = TwilioProvider::new(p, cfg.timeout, None).map_err(|e| e.to_string())?;
            t.check().await
        }
        "http" => {
            HttpProvider::new(p, cfg.timeout).map_err(|e| format!("{e:#}"))?;
            Ok("settings valid; not contacted (a request to the gateway would send)".into())
        }
        "file" => Ok("writes JSON files to the outbox (nothing to contact)".into()),
        other => Err(format!(
            "`{}.type`: unknown SMS provider type `{other}`",
            p.key
        )),
    }
}

/// The SMS channel: its providers, each sent the message's text.
pub type SmsChannel = ProviderChannel<Sms>;

/// What an SMS send is: the `text` part, to the address.
pub struct Sms;

/// One configured way to send a text message.
#[async_trait]
pub trait SmsProvider: Provider {
    async fn send(&self, to: &str, text: &str, msg: &Message<'_>) -> SendResult;
}

#[async_trait]
impl Kind for Sms {
    const NAME: &'static str = crate::domain::Channel::Sms.as_str();
    type Provider = dyn SmsProvider;

    async fn send(
        &self,
        provider: &dyn SmsProvider,
        msg: &Message<'_>,
    ) -> Result<SendResult, String> {
        let text = match msg.content.get("text") {
            Some(Value::String(t)) => t.as_str(),
            _ => return Err("the template has no sms text".into()),
        };
        if text.trim().is_empty() {
            return Err("the sms text is empty".into());
        }
        Ok(provider.send(msg.address, text, msg).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::Outcome;

    fn sms(extra: &str) -> Result<Config, String> {
        Config::from_toml(extra).map_err(|e| e.to_string())
    }

    fn build_err(extra: &str) -> String {
        let cfg = sms(extra).unwrap();
        match build(&cfg.sms, &cfg) {
            Ok(_) => panic!("expected an error for {extra}"),
            Err(e) => format!("{e:#}"),
        }
    }

    const TWILIO: &str = "[channels.sms]\nproviders = [\"twilio\"]\n[channels.sms.twilio]\n";
    const HTTP: &str = "[channels.sms]\nproviders = [\"http\"]\n[channels.sms.http]\n";

    #[test]
    fn the_default_file_provider_builds() {
        let cfg = sms("").unwrap();
        assert!(build(&cfg.sms, &cfg).unwrap().is_some());
    }

    /// Each provider section after `head` must fail to build, naming
    /// `channels.sms.<key>` (and any further words given).
    fn refused(head: &str, cases: &[(&str, &str)]) {
        for (settings, key) in cases {
            let e = build_err(&format!("{head}{settings}"));
            for word in key.split(' ') {
                assert!(e.contains(word), "{settings}: {e} should name {word}");
            }
        }
    }

    #[test]
    fn twilio_settings_are_checked() {
        refused(
            TWILIO,
            &[
                ("auth_token = \"t\"\nfrom = \"+15005550006\"", "channels.sms.twilio.account_sid"),
                ("account_sid = \"AC1\"\nfrom = \"+15005550006\"", "channels.sms.twilio.auth_token"),
                ("account_sid = \"AC1\"\nauth_token = \"t\"", "channels.sms.twilio.from messaging_service_sid"),
                ("account_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+1\"\nbase_url = \"ftp://x\"", "channels.sms.twilio.base_url"),
                ("account_sid = \"AC/../x\"\nauth_token = \"t\"\nfrom = \"+1\"", "channels.sms.twilio.account_sid"),
            ],
        );
        let e = build_err(&format!(
            "{TWILIO}account_sid = \"AC1\"\nauth_token = \"secret-token\""
        ));
        assert!(!e.contains("secret-token"), "{e}");
        // An unknown key is refused as the settings are read.
        let e = sms(&format!(
            "{TWILIO}account_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+1\"\nregion = \"ie1\""
        ))
        .unwrap_err();
        assert!(
            e.contains("channels.sms.twilio") && e.contains("region"),
            "{e}"
        );
        // A custom name with a type, and no defaults to lean on.
        let cfg = sms("[channels.sms]\nproviders = [\"main\"]\n[channels.sms.main]\ntype = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nmessaging_service_sid = \"MG1\"").unwrap();
        assert!(build(&cfg.sms, &cfg).is_ok());
    }

    #[test]
    fn http_settings_are_checked() {
        refused(
            HTTP,
            &[
                ("", "channels.sms.http.url"),
                (
                    "url = \"http://gw\"\nmethod = \"DELETE\"",
                    "channels.sms.http.method",
                ),
                (
                    "url = \"http://gw\"\nbody = \"{{#if to}\"",
                    "channels.sms.http.body",
                ),
                (
                    "url = \"http://gw\"\nbody = \"{{phone}}\"",
                    "channels.sms.http.body",
                ),
                (
                    "url = \"http://gw\"\nbody = '{\"text\": \"{{text}}\"}'",
                    "channels.sms.http.body json",
                ),
                (
                    "url = \"http://gw\"\nheaders = { \"bad name\" = \"x\" }",
                    "channels.sms.http.headers",
                ),
                ("url = \"not a url\"", "channels.sms.http.url"),
            ],
        );
        let cfg = sms(&format!(
            "{HTTP}url = \"https://gw.example.com/send?to={{{{to}}}}&msg={{{{text}}}}\"\nmethod = \"get\"\ncontent_type = \"\"\nbody = \"\""
        ))
        .unwrap();
        assert!(build(&cfg.sms, &cfg).is_ok());
    }

    #[tokio::test]
    async fn content_without_text_fails_permanently() {
        let cfg = sms("").unwrap();
        let ch = build(&cfg.sms, &cfg).unwrap().unwrap();
        let content = serde_json::Map::new();
        let msg = Message {
            delivery_id: "d1",
            notification_id: "n1",
            recipient: "+8613800000000",
            category: "transactional",
            attempt: 1,
            address: "+8613800000000",
            content: &content,
            list_unsubscribe: None,
        };
        let r = ch.send(&msg).await;
        assert_eq!(r.outcome, Outcome::Permanent);
        assert_eq!(r.provider, "file");
        assert_eq!(r.error.as_deref(), Some("the template has no sms text"));
    }
}
