//! Recipient profiles as the API and the console change them: validate
//! and store a profile (addresses, locale, timezone, opt-outs, quiet
//! hours), read one, and erase one with its inbox (revoking its inbox
//! tokens at once in this process).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AppState, Error, Result};
use crate::domain::check::{
    check_clock, check_email, check_phone, check_recipient_id, check_timezone, check_url,
};
use crate::domain::{Category, Channel, FieldError, Locale};
use crate::store::{ErasedRecipient, RecipientRow};
use crate::util::now_ms;

/// Opt-outs: `false` turns a channel or category off for this recipient.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// By channel: `email`, `sms`, `webhook`, `in_app`, `chat`, `push`.
    #[serde(default)]
    pub channels: BTreeMap<String, bool>,
    /// By category: `transactional`, `marketing`, `auth`.
    #[serde(default)]
    pub categories: BTreeMap<String, bool>,
}

/// Hours in the recipient's timezone when `marketing` and `low` priority
/// notifications wait for the end; `auth` and `high` go now.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, e.g. `22:00`.
    pub start: String,
    /// `HH:MM`, e.g. `07:00`.
    pub end: String,
}

/// A recipient profile; every field is replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRecipient {
    #[serde(default)]
    pub email: Option<String>,
    /// E.164, e.g. `+8613800000000`.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// A chat address: `NAME` or `NAME:TARGET` (see the send's `to[].chat`).
    #[serde(default)]
    pub chat: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    /// An IANA timezone, e.g. `Asia/Shanghai`.
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub preferences: Preferences,
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
}

/// Checks a profile, naming every field that is not valid.
fn validate(id: &str, b: &PutRecipient) -> Result<()> {
    let mut errors = Vec::new();
    if let Err(m) = check_recipient_id(id) {
        errors.push(FieldError::new("id", m));
    }
    let mut check = |field: &str, v: &Option<String>, f: fn(&str) -> Result<(), String>| {
        if let Some(v) = v {
            if let Err(m) = f(v) {
                errors.push(FieldError::new(field, m));
            }
        }
    };
    check("email", &b.email, check_email);
    check("phone", &b.phone, check_phone);
    check("webhook_url", &b.webhook_url, check_url);
    check("chat", &b.chat, crate::domain::chat::check);
    check("locale", &b.locale, Locale::check);
    check("timezone", &b.timezone, check_timezone);
    for c in b.preferences.channels.keys() {
        if Channel::parse(c).is_err() {
            errors.push(FieldError::new(
                format!("preferences.channels.{c}"),
                format!("unknown channel; channels are {}", Channel::names()),
            ));
        }
    }
    for c in b.preferences.categories.keys() {
        if Category::parse(c).is_err() {
            errors.push(FieldError::new(
                format!("preferences.categories.{c}"),
                format!("unknown category; categories are {}", Category::names()),
            ));
        }
    }
    if let Some(q) = &b.quiet_hours {
        for (field, v) in [("quiet_hours.start", &q.start), ("quiet_hours.end", &q.end)] {
            if let Err(m) = check_clock(v) {
                errors.push(FieldError::new(field, m));
            }
        }
        if q.start == q.end {
            errors.push(FieldError::new("quiet_hours.end", "must differ from start"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

impl AppState {
    /// Creates or replaces a profile; returns it as stored and whether it
    /// is new.
    pub async fn put_recipient(&self, id: &str, b: PutRecipient) -> Result<(RecipientRow, bool)> {
        validate(id, &b)?;
        let now = now_ms();
        let row = RecipientRow {
            id: id.to_string(),
            email: b.email,
            phone: b.phone,
            webhook_url: b.webhook_url,
            chat: b.chat,
            locale: b.locale,
            timezone: b.timezone,
            preferences: serde_json::to_string(&b.preferences).map_err(anyhow::Error::from)?,
            quiet_hours: b
                .quiet_hours
                .map(|q| serde_json::to_string(&q))
                .transpose()
                .map_err(anyhow::Error::from)?,
            created_at: now,
            updated_at: now,
        };
        let created = self.store.put_recipient(&row).await?;
        let stored = match self.recipient(id).await {
            Err(Error::NotFound(_)) => row,
            other => other?,
        };
        Ok((stored, created))
    }

    /// The signed one-click unsubscribe URL (`{server.public_url}/u/{token}`)
    /// for mail of `category` to a stored recipient; none without a public
    /// URL or a stored profile (an inline address has no preferences to
    /// change), or when the database can't say.
    pub async fn unsubscribe_url(&self, recipient: &str, category: &str) -> Option<String> {
        let base = self.config.server.public_url.as_deref()?;
        match self.store.get_recipients(&[recipient.to_string()]).await {
            Ok(rows) if !rows.is_empty() => {}
            _ => return None,
        }
        let (token, _) = self
            .inbox
            .preference_token(recipient, Some(category))
            .await
            .ok()?;
        Some(format!("{base}/u/{token}"))
    }

    /// A stored profile.
    pub async fn recipient(&self, id: &str) -> Result<RecipientRow> {
        self.store
            .get_recipients(&[id.to_string()])
            .await?
            .pop()
            .ok_or_else(|| Error::NotFound(format!("there is no recipient {id}")))
    }

    /// Erases a recipient: its profile and inbox messages, and every inbox
    /// token issued for it. `NotFound` when there was neither a profile nor
    /// a message (its tokens are revoked all the same).
    pub async fn delete_recipient(&self, id: &str) -> Result<ErasedRecipient> {
        let erased = self.store.delete_recipient(id).await?;
        self.inbox.remember_generation(id, erased.token_generation);
        if erased.profile || erased.messages > 0 {
            Ok(erased)
        } else {
            Err(Error::NotFound(format!("there is no recipient {id}")))
        }
    }
}
