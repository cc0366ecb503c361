//! Endpoints of the business system that hear of deliveries' statuses:
//! registering, changing, rotating secrets, reading their messages and
//! attempt logs, and replaying what they missed. Shared by the API and the
//! console. Every change that can alter which event types are wanted reads
//! them again into the store's in-memory set at once (other processes read
//! them every `events.refresh`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{AppState, Error};
use crate::channels::http::Guard;
use crate::domain::event::{listed_types, stored_types, EventType};
use crate::domain::FieldError;
use crate::store::events::{EndpointAttemptRow, EndpointRow, MessageFilter, MessageRow};
use crate::util::now_ms;

/// Endpoints a deployment may have.
pub const MAX_ENDPOINTS: i64 = 100;
/// Longest endpoint URL, in bytes.
pub const MAX_URL: usize = 2048;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION: usize = 1024;
/// How many characters of a secret the API shows after `whsec_`.
const SHOWN: usize = 4;

/// A new endpoint.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// Where events are POSTed: an `http` or `https` URL without
    /// credentials (at most 2048 bytes).
    #[serde(default)]
    pub url: String,
    /// Your note (at most 1024 bytes).
    #[serde(default)]
    pub description: Option<String>,
    /// The event types it wants; omitted or `null`: every type, including
    /// types added later.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Default `true`.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Its signing secret, `whsec_` + base64 of 24 to 32 bytes; omitted: a
    /// new random one. Shown once, in this answer.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A change to an endpoint: what is given replaces what was.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointChange {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The event types it wants; `["*"]`: every type.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Enabling a disabled endpoint clears its failing run.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A rotation: the new secret, or a random one.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// `whsec_` + base64 of 24 to 32 bytes; omitted: a new random one.
    #[serde(default)]
    pub secret: Option<String>,
}

/// What to send again.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// One message (an event's id), whatever became of it.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Every failed message created at this time (RFC 3339) or later.
    #[serde(default)]
    pub since: Option<String>,
}

/// `whsec_…` with only its first characters: what the API shows.
pub fn secret_prefix(secret: &str) -> String {
    let body = secret.strip_prefix("whsec_").unwrap_or(secret);
    let shown: String = body.chars().take(SHOWN).collect();
    format!("whsec_{shown}…")
}

/// The key of a secret given by a caller: `whsec_` + base64 of 24 to 32
/// bytes.
fn check_secret(secret: &str) -> Result<(), FieldError> {
    let ok = secret
        .strip_prefix("whsec_")
        .and_then(|b| STANDARD.decode(b).ok())
        .is_some_and(|k| (24..=32).contains(&k.len()));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "secret",
            "must be whsec_ followed by the base64 of 24 to 32 random bytes",
        ))
    }
}

/// An endpoint's URL, checked: http(s), a host, no credentials, bounded,
/// and (unless `allow_private`) not an address literal outside the public
/// internet. A name is judged again at each connection, on the address
/// actually connected to.
pub fn check_url(url: &str, guard: &Guard) -> Result<String, FieldError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(FieldError::new("url", "is required"));
    }
    if url.len() > MAX_URL {
        return Err(FieldError::new("url", format!("at most {MAX_URL} bytes")));
    }
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => u,
        _ => return Err(FieldError::new("url", "must be an http or https URL")),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(FieldError::new(
            "url",
            "must not carry credentials: the signature proves the sender",
        ));
    }
    if let Err(refused) = guard.check_url(&parsed) {
        return Err(FieldError::new("url", refused.to_string()));
    }
    Ok(parsed.to_string())
}

/// An endpoint's event types, checked; `None`: every type.
fn check_types(types: Option<Vec<String>>) -> Result<Option<Vec<EventType>>, FieldError> {
    let Some(types) = types else {
        return Ok(None);
    };
    if types.len() == 1 && types[0] == "*" {
        return Ok(None);
    }
    if types.is_empty() {
        return Err(FieldError::new(
            "event_types",
            "name at least one type, or leave it out for every type",
        ));
    }
    let mut out = Vec::new();
    for (i, t) in types.iter().enumerate() {
        match EventType::parse(t) {
            Ok(t) if !out.contains(&t) => out.push(t),
            Ok(_) => {}
            Err(e) => return Err(FieldError::new(format!("event_types[{i}]"), e)),
        }
    }
    Ok(Some(out))
}

fn check_description(d: Option<String>) -> Result<String, FieldError> {
    let d = d.unwrap_or_default();
    if d.len() > MAX_DESCRIPTION {
        return Err(FieldError::new(
            "description",
            format!("at most {MAX_DESCRIPTION} bytes"),
        ));
    }
    Ok(d)
}

/// An endpoint's stored types as a list; `None`: every type.
pub fn types_of(e: &EndpointRow) -> Option<Vec<String>> {
    listed_types(&e.event_types)
}

impl AppState {
    fn endpoint_guard(&self) -> Guard {
        Guard::new(
            self.config.webhook.allow_private,
            "channels.webhook.allow_private",
        )
    }

    async fn refresh_subscriptions(&self) -> Result<(), Error> {
        self.store.refresh_subscribed().await?;
        Ok(())
    }

    /// Registers an endpoint; the answer holds its secret, shown only now.
    pub async fn create_endpoint(&self, body: NewEndpoint) -> Result<(EndpointRow, String), Error> {
        let mut errors = Vec::new();
        let url = check_url(&body.url, &self.endpoint_guard()).map_err(|e| errors.push(e));
        let types = check_types(body.event_types).map_err(|e| errors.push(e));
        let description = check_description(body.description).map_err(|e| errors.push(e));
        if let Some(s) = &body.secret {
            if let Err(e) = check_secret(s) {
                errors.push(e);
            }
        }
        let (Ok(url), Ok(types), Ok(description)) = (url, types, description) else {
            return Err(Error::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        if self.store.count_endpoints().await? >= MAX_ENDPOINTS {
            return Err(Error::Conflict(format!(
                "there are {MAX_ENDPOINTS} endpoints already: delete one first"
            )));
        }
        let secret = body
            .secret
            .unwrap_or_else(crate::domain::secrets::generate_webhook_secret);
        let now = now_ms();
        let row = EndpointRow {
            id: crate::util::new_id(),
            url,
            description,
            event_types: stored_types(types.as_deref()),
            enabled: i64::from(body.enabled.unwrap_or(true)),
            disabled_reason: None,
            secret: secret.clone(),
            previous_secret: None,
            previous_secret_until: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        self.store.create_endpoint(&row).await?;
        self.refresh_subscriptions().await?;
        tracing::info!(endpoint = %row.id, "an endpoint was registered");
        Ok((row, secret))
    }

    pub async fn endpoints(&self) -> Result<Vec<EndpointRow>, Error> {
        Ok(self.store.list_endpoints().await?)
    }

    pub async fn endpoint(&self, id: &str) -> Result<EndpointRow, Error> {
        self.store
            .get_endpoint(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no endpoint {id}")))
    }

    /// Changes what `change` gives; the rest stays.
    pub async fn change_endpoint(
        &self,
        id: &str,
        change: EndpointChange,
    ) -> Result<EndpointRow, Error> {
        let mut row = self.endpoint(id).await?;
        let mut errors = Vec::new();
        if let Some(u) = &change.url {
            match check_url(u, &self.endpoint_guard()) {
                Ok(u) => row.url = u,
                Err(e) => errors.push(e),
            }
        }
        if change.event_types.is_some() {
            match check_types(change.event_types) {
                Ok(t) => row.event_types = stored_types(t.as_deref()),
                Err(e) => errors.push(e),
            }
        }
        if change.description.is_some() {
            match check_description(change.description) {
                Ok(d) => row.description = d,
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        if let Some(on) = change.enabled {
            if on && row.enabled == 0 {
                row.disabled_reason = None;
                row.failing_since = None;
            }
            if !on && row.enabled == 1 {
                row.disabled_reason = Some("disabled by request".into());
            }
            row.enabled = i64::from(on);
        }
        row.updated_at = now_ms();
        if !self.store.update_endpoint(&row).await? {
            return Err(Error::NotFound(format!("no endpoint {id}")));
        }
        self.refresh_subscriptions().await?;
        Ok(row)
    }

    pub async fn delete_endpoint(&self, id: &str) -> Result<(), Error> {
        if !self.store.delete_endpoint(id).await? {
            return Err(Error::NotFound(format!("no endpoint {id}")));
        }
        self.refresh_subscriptions().await?;
        tracing::info!(endpoint = %id, "an endpoint was deleted");
        Ok(())
    }

    /// Gives the endpoint a new secret; the old one signs beside it for
    /// `events.secret_grace`. The answer holds the new secret, shown only
    /// now.
    pub async fn rotate_endpoint_secret(
        &self,
        id: &str,
        body: Rotation,
    ) -> Result<(EndpointRow, String), Error> {
        if let Some(s) = &body.secret {
            check_secret(s).map_err(|e| Error::Invalid(vec![e]))?;
        }
        let secret = body
            .secret
            .unwrap_or_else(crate::domain::secrets::generate_webhook_secret);
        let now = now_ms();
        let until = now + self.config.events.secret_grace.as_millis() as i64;
        let row = self
            .store
            .rotate_endpoint_secret(id, &secret, until, now)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no endpoint {id}")))?;
        tracing::info!(endpoint = %id, "an endpoint's secret was rotated");
        Ok((row, secret))
    }

    /// An endpoint's messages, newest first.
    pub async fn endpoint_messages(
        &self,
        id: &str,
        state: Option<&str>,
        before_id: Option<String>,
        limit: i64,
    ) -> Result<Vec<MessageRow>, Error> {
        self.endpoint(id).await?;
        if let Some(s) = state {
            if !["pending", "sending", "succeeded", "failed"].contains(&s) {
                return Err(Error::invalid(
                    "state",
                    "must be one of pending, sending, succeeded, failed",
                ));
            }
        }
        let f = MessageFilter {
            state: state.map(str::to_string),
            before_id,
        };
        Ok(self.store.list_messages(id, &f, limit).await?)
    }

    /// An endpoint's attempt log, newest first.
    pub async fn endpoint_attempts(
        &self,
        id: &str,
        message_id: Option<&str>,
        before_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EndpointAttemptRow>, Error> {
        self.endpoint(id).await?;
        Ok(self
            .store
            .list_endpoint_attempts(id, message_id, before_id, limit)
            .await?)
    }

    /// Sends one message again, or every failed one since a time; how many.
    pub async fn replay_endpoint(&self, id: &str, body: Replay) -> Result<u64, Error> {
        self.endpoint(id).await?;
        let now = now_ms();
        match (body.message_id, body.since) {
            (Some(m), None) => {
                if self.store.get_message(id, &m).await?.is_none() {
                    return Err(Error::NotFound(format!("endpoint {id} has no message {m}")));
                }
                if self.store.replay_message(id, &m, now).await? {
                    Ok(1)
                } else {
                    Err(Error::Conflict(format!(
                        "message {m} is waiting to be sent already"
                    )))
                }
            }
            (None, Some(s)) => {
                let since = crate::util::parse_rfc3339(&s).ok_or_else(|| {
                    Error::invalid(
                        "since",
                        "must be an RFC 3339 time, e.g. 2026-12-01T09:00:00Z",
                    )
                })?;
                Ok(self.store.replay_failed(id, since, now).await?)
            }
            _ => Err(Error::invalid(
                "message_id",
                "give either message_id (one message) or since (every failed one since then)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_literals_outside_the_internet_refused() {
        let strict = Guard::new(false, "channels.webhook.allow_private");
        assert!(check_url("https://erp.example.com/hooks", &strict).is_ok());
        assert!(check_url("ftp://erp.example.com/", &strict).is_err());
        assert!(check_url("https://user:pw@erp.example.com/", &strict).is_err());
        let e = check_url("http://127.0.0.1:9/x", &strict).unwrap_err();
        assert_eq!(e.field, "url");
        let open = Guard::new(true, "channels.webhook.allow_private");
        assert!(check_url("http://127.0.0.1:9/x", &open).is_ok());
    }

    #[test]
    fn secrets_are_whsec_and_24_to_32_bytes() {
        assert!(check_secret(&crate::domain::secrets::generate_webhook_secret()).is_ok());
        assert!(check_secret("whsec_c2hvcnQ=").is_err());
        assert!(check_secret("abc").is_err());
        assert_eq!(secret_prefix("whsec_abcdefgh"), "whsec_abcd…");
    }

    #[test]
    fn types_are_known_ones_or_every_type() {
        assert_eq!(check_types(None).unwrap(), None);
        assert_eq!(check_types(Some(vec!["*".into()])).unwrap(), None);
        let e = check_types(Some(vec!["delivery.sent".into(), "nope".into()])).unwrap_err();
        assert_eq!(e.field, "event_types[1]");
        assert!(check_types(Some(vec![])).is_err());
    }
}
