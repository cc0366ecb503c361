//! The email channel: providers `smtp` (SMTP through lettre, smtp.rs) and
//! `file` (one .eml file per message under the data dir, file.rs; the
//! zero-configuration default).
//!
//! The channel builds the RFC 5322 message once (compose.rs) and hands it
//! to a provider. Providers are kept in a list in failover order: attempt n
//! starts at provider n-1 and skips those whose breaker is open or that
//! asked for a pause (src/channels/failover.rs). This file is the wiring:
//! the provider list read from `channels.email`, and what an email send is
//! to the shared channel of providers (src/channels/providers.rs).

mod compose;
mod file;
mod smtp;

use std::sync::Arc;

use async_trait::async_trait;

use super::outbox::Outbox;
use super::providers::{Kind, Provider, ProviderChannel};
use super::{Channel, Message, SendResult};
use crate::config::{ChannelConfig, Config, ProviderConfig};
pub use compose::{Composer, Outgoing};
use smtp::SmtpProvider;

/// The email channel: its providers, each sent the message [`Composer`]
/// makes.
pub type EmailChannel = ProviderChannel<Composer>;

/// One way of sending mail (`channels.email.<name>`).
#[async_trait]
pub trait EmailProvider: Provider {
    async fn send(&self, mail: &Outgoing) -> SendResult;
}

#[async_trait]
impl Kind for Composer {
    const NAME: &'static str = crate::domain::Channel::Email.as_str();
    type Provider = dyn EmailProvider;

    async fn send(
        &self,
        provider: &dyn EmailProvider,
        msg: &Message<'_>,
    ) -> Result<SendResult, String> {
        let mail = self.compose(msg)?;
        Ok(provider.send(&mail).await)
    }
}

/// Builds the email channel from `channels.email`. Always enabled: the
/// `file` provider needs no configuration.
pub fn build(cfg: &ChannelConfig, root: &Config) -> anyhow::Result<Option<Arc<dyn Channel>>> {
    let composer = Composer::new(cfg)?;
    let mut providers: Vec<Box<dyn EmailProvider>> = Vec::new();
    for p in &cfg.providers {
        providers.push(match p.kind.as_str() {
            "smtp" => Box::new(SmtpProvider::new(p, cfg.timeout)?),
            "file" => Box::new(Outbox::new(
                p,
                root,
                crate::domain::Channel::Email.as_str(),
            )?),
            other => anyhow::bail!(
                "`{}.type` = {other:?} is not an email provider type (smtp, file)",
                p.key
            ),
        });
    }
    if providers.is_empty() {
        anyhow::bail!("`channels.email.providers` is empty");
    }
    Ok(Some(Arc::new(EmailChannel::new(composer, providers, cfg))))
}

/// Checks one `channels.email` provider without sending (`missive
/// doctor`): SMTP connects, greets, upgrades to TLS and authenticates;
/// a file outbox needs nothing.
pub async fn check(p: &ProviderConfig, cfg: &ChannelConfig) -> Result<String, String> {
    match p.kind.as_str() {
        "smtp" => {
            let smtp = SmtpProvider::new(p, cfg.timeout).map_err(|e| format!("{e:#}"))?;
            smtp.check().await
        }
        "file" => Ok("writes .eml files to the outbox (nothing to contact)".into()),
        other => Err(format!(
            "`{}.type` = {other:?} is not an email provider type",
            p.key
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(extra: &str) -> anyhow::Result<Option<Arc<dyn Channel>>> {
        let cfg = Config::from_toml(extra)?;
        build(&cfg.email, &cfg)
    }

    #[test]
    fn bad_settings_name_their_key() {
        let cases = [
            ("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\ntls = \"sometimes\"", "channels.email.smtp.tls"),
            ("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\nport = 0", "channels.email.smtp.port"),
            ("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\nhots = \"x\"", "channels.email.smtp"),
            ("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\npool_size = 0", "channels.email.smtp.pool_size"),
            ("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\nusername = \"u\"", "channels.email.smtp.password"),
            ("[channels.email]\nfrom = \"not an address\"", "channels.email.from"),
            ("[channels.email]\nreply_to = \"@@\"", "channels.email.reply_to"),
            ("[channels.email]\nunsubscribe = \"ftp://x\"", "channels.email.unsubscribe"),
            ("[channels.email.file]\nfolder = \"x\"", "channels.email.file"),
        ];
        for (toml, key) in cases {
            let e = format!(
                "{:#}",
                channel(toml)
                    .err()
                    .unwrap_or_else(|| panic!("{toml} should fail"))
            );
            assert!(e.contains(key), "{toml}: {e}");
        }
        let e = format!(
            "{:#}",
            channel("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\nusername = \"u\"\npassword = \"hunter2\"\nport = 0")
                .err()
                .unwrap()
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn numbers_are_accepted_as_passwords() {
        assert!(channel("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\ntls = \"none\"\nusername = \"u\"\npassword = 12345").is_ok());
    }
}
