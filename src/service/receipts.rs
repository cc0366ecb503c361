//! Receipts from providers and the suppression list, for the API and the
//! console: checking that a callback comes from its provider (Twilio's
//! signature, the email webhooks' basic-auth secret), applying each
//! receipt to the delivery it names, and managing the list by hand.
//!
//! A receipt names missive's delivery id (Twilio's callback URL carries
//! it; the email providers echo the id missive put in the message's
//! headers), so nothing is looked up by a provider's message id. Unknown
//! deliveries are acknowledged and ignored: a provider retries what is not
//! acknowledged, and the delivery may simply have been purged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};

use super::{AppState, Error};
use crate::domain::receipt::{listed_address, Source, Verdict, LISTED_CHANNELS};
use crate::domain::{Channel, FieldError, Reason};
use crate::store::receipts::{Applied, NewReceipt, SuppressionFilter, SuppressionRow};
use crate::util::now_ms;

/// The provider's words a receipt keeps, at most.
pub const MAX_DETAIL: usize = 4096;

/// One receipt read from a provider's callback.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub delivery_id: String,
    /// The provider's word for what happened (`delivered`, `bounce`, ...).
    pub event: String,
    pub verdict: Verdict,
    /// The provider's words: codes, reasons, the remote server's answer.
    pub detail: String,
}

/// What a batch of receipts did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub moved: usize,
    pub recorded: usize,
    pub unknown: usize,
    /// Receipts for deliveries whose outcome was still being written: the
    /// provider should send them again (a 409 makes it).
    pub early: usize,
}

/// Twilio's request signature: base64(HMAC-SHA1(auth token, the full URL
/// Twilio called, followed by each POST parameter's name and value, sorted
/// by name)).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Compares in time that does not depend on where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `signature` is Twilio's for `url` and `params` under one of
/// `tokens`.
pub fn twilio_signed(
    tokens: &[String],
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    tokens.iter().any(|t| {
        same(
            twilio_signature(t, url, params).as_bytes(),
            signature.as_bytes(),
        )
    })
}

/// Whether an `Authorization: Basic ...` value carries `secret` as its
/// password (any user name). An empty secret admits nobody.
pub fn basic_auth_matches(header: Option<&str>, secret: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(encoded) = header.and_then(|h| {
        let (scheme, rest) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
    }) else {
        return false;
    };
    let Ok(decoded) = STANDARD.decode(encoded) else {
        return false;
    };
    match decoded.iter().position(|b| *b == b':') {
        Some(i) => same(&decoded[i + 1..], secret.as_bytes()),
        None => false,
    }
}

impl AppState {
    /// The auth tokens a Twilio status callback may be signed with.
    pub fn twilio_tokens(&self) -> Vec<String> {
        crate::channels::sms::twilio_auth_tokens(&self.config.sms)
    }

    /// The basic-auth secret of an email event webhook; empty: refused.
    pub fn receipt_secret(&self, source: Source) -> &str {
        match source {
            Source::SendGrid => &self.config.receipts.sendgrid_secret.0,
            Source::Postmark => &self.config.receipts.postmark_secret.0,
            Source::Twilio => "",
        }
    }

    /// Applies each receipt to the delivery it names.
    pub async fn receive(&self, source: Source, receipts: Vec<Incoming>) -> Result<Tally, Error> {
        let mut tally = Tally::default();
        for r in receipts {
            let new = NewReceipt {
                delivery_id: r.delivery_id,
                source: source.as_str(),
                event: crate::channels::truncate(r.event, 64),
                status: r.verdict.status,
                suppress: r.verdict.suppress.map(Reason::as_str),
                detail: crate::channels::truncate(r.detail, MAX_DETAIL),
            };
            match self.store.apply_receipt(&new, now_ms()).await? {
                Applied::Unknown => {
                    tally.unknown += 1;
                    tracing::debug!(
                        source = source.as_str(),
                        delivery_id = %new.delivery_id,
                        event = %new.event,
                        "a receipt for no delivery here: acknowledged and ignored"
                    );
                    self.metrics.receipt(source, "unknown");
                }
                Applied::Repeated => self.metrics.receipt(source, "repeated"),
                Applied::Recorded {
                    moved,
                    listed,
                    channel,
                    notification_id,
                    early,
                } => {
                    tally.recorded += 1;
                    tally.early += early as usize;
                    let label = match (moved, new.status) {
                        (true, Some(s)) => {
                            tally.moved += 1;
                            s.as_str()
                        }
                        _ => "recorded",
                    };
                    tracing::debug!(
                        source = source.as_str(),
                        delivery_id = %new.delivery_id,
                        notification_id = %notification_id,
                        event = %new.event,
                        moved,
                        listed,
                        "receipt"
                    );
                    self.metrics.receipt(source, label);
                    if listed {
                        if let Ok(c) = Channel::parse(&channel) {
                            self.metrics.listed(c);
                        }
                    }
                }
            }
        }
        Ok(tally)
    }
}

/// A suppression as a caller gives it.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSuppression {
    /// `bounced` or `complained`.
    #[serde(default)]
    pub reason: String,
    /// Why, in your words (at most 4096 bytes).
    #[serde(default)]
    pub detail: Option<String>,
}

/// A channel and address in a suppression's path, checked: the channel
/// one whose addresses the list holds, the address one for it, as the
/// list keys it.
pub fn listed_key(channel: &str, address: &str) -> Result<(Channel, String), Error> {
    let c = Channel::parse(channel)
        .ok()
        .filter(|c| LISTED_CHANNELS.contains(c))
        .ok_or_else(|| {
            Error::invalid(
                "channel",
                format!(
                    "the suppression list holds {} addresses",
                    Channel::join(&LISTED_CHANNELS)
                ),
            )
        })?;
    let check = match c {
        Channel::Email => crate::domain::check::check_email,
        _ => crate::domain::check::check_phone,
    };
    check(address.trim()).map_err(|m| Error::invalid("address", m))?;
    Ok((c, listed_address(c, address)))
}

impl AppState {
    /// A page of the list, ordered by channel and address; `after` is the
    /// last (channel, address) of the page before.
    pub async fn suppressions(
        &self,
        channel: Option<&str>,
        reason: Option<&str>,
        after: Option<(String, String)>,
        limit: i64,
    ) -> Result<Vec<SuppressionRow>, Error> {
        let mut errors = Vec::new();
        if let Some(c) = channel {
            if !Channel::parse(c).is_ok_and(|c| LISTED_CHANNELS.contains(&c)) {
                errors.push(FieldError::new(
                    "channel",
                    format!(
                        "the suppression list holds {} addresses",
                        Channel::join(&LISTED_CHANNELS)
                    ),
                ));
            }
        }
        if let Some(r) = reason {
            if !Reason::parse(r).is_ok_and(Reason::is_listed) {
                errors.push(FieldError::new(
                    "reason",
                    "must be one of bounced, complained",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let f = SuppressionFilter {
            channel: channel.map(str::to_string),
            reason: reason.map(str::to_string),
            after,
        };
        Ok(self.store.list_suppressions(&f, limit).await?)
    }

    pub async fn suppression(&self, channel: &str, address: &str) -> Result<SuppressionRow, Error> {
        let (c, a) = listed_key(channel, address)?;
        self.store
            .get_suppression(c.as_str(), &a)
            .await?
            .ok_or_else(|| Error::NotFound(format!("{a} is not on the {c} suppression list")))
    }

    /// Puts an address on the list by hand; `source` says where from
    /// (`api`, `console`). True if it was not on it.
    pub async fn put_suppression(
        &self,
        channel: &str,
        address: &str,
        body: PutSuppression,
        source: &str,
    ) -> Result<(SuppressionRow, bool), Error> {
        let (c, a) = listed_key(channel, address)?;
        let mut errors = Vec::new();
        if !Reason::parse(&body.reason).is_ok_and(Reason::is_listed) {
            errors.push(FieldError::new(
                "reason",
                "must be one of bounced, complained",
            ));
        }
        let detail = body.detail.unwrap_or_default();
        if detail.len() > MAX_DETAIL {
            errors.push(FieldError::new(
                "detail",
                format!("at most {MAX_DETAIL} bytes"),
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let now = now_ms();
        let row = SuppressionRow {
            channel: c.to_string(),
            address: a,
            reason: body.reason,
            source: source.to_string(),
            detail,
            delivery_id: None,
            created_at: now,
            updated_at: now,
        };
        let created = self.store.put_suppression(&row).await?;
        let stored = self
            .store
            .get_suppression(&row.channel, &row.address)
            .await?
            .unwrap_or(row);
        Ok((stored, created))
    }

    /// Takes an address off the list: later sends go to it again.
    pub async fn delete_suppression(&self, channel: &str, address: &str) -> Result<(), Error> {
        let (c, a) = listed_key(channel, address)?;
        if self.store.delete_suppression(c.as_str(), &a).await? {
            tracing::info!(
                channel = c.as_str(),
                "an address was taken off the suppression list"
            );
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "{a} is not on the {c} suppression list"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_signature_matches_twilios_documented_example() {
        // From Twilio's "Webhooks security" page.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            twilio_signature("12345", url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        let tokens = ["other".to_string(), "12345".to_string()];
        assert!(twilio_signed(
            &tokens,
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_signed(
            &tokens[..1],
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }

    #[test]
    fn basic_auth_needs_the_secret_as_password() {
        let h = format!("Basic {}", STANDARD.encode("missive:s3cret"));
        assert!(basic_auth_matches(Some(&h), "s3cret"));
        assert!(!basic_auth_matches(Some(&h), "s3cre"));
        assert!(!basic_auth_matches(Some(&h), ""));
        assert!(!basic_auth_matches(None, "s3cret"));
        assert!(!basic_auth_matches(Some("Bearer s3cret"), "s3cret"));
    }

    #[test]
    fn suppression_keys_are_checked_and_normalised() {
        assert_eq!(
            listed_key("email", "Ana@Example.com").unwrap(),
            (Channel::Email, "ana@example.com".to_string())
        );
        assert!(matches!(listed_key("webhook", "x"), Err(Error::Invalid(_))));
        assert!(matches!(
            listed_key("sms", "not a phone"),
            Err(Error::Invalid(_))
        ));
    }
}
