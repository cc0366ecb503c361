//! The in-app inbox: messages stored per recipient by the `in_app` channel,
//! read over REST, and pushed live to the recipient's open streams (SSE and
//! WebSocket, see `http::inbox`).
//!
//! A change (a new message, messages marked read) is published to this
//! process's [`hub::Hub`] at once, and announced to the other processes on
//! the database: on PostgreSQL with NOTIFY on `missive_inbox` (or
//! `missive_inbox_<schema>`; a new message's in the same transaction that
//! stores it), carrying only the recipient and the ids; each process's
//! [`Inbox::listen`] loads what its own streams need and publishes it
//! there. SQLite has one process, so nothing to tell.

pub mod feed;
pub mod hub;
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::config::InboxConfig;
use crate::store::{InboxMessage, NewInboxMessage, Store, StoreResult};
use crate::util::{now_ms, opt_rfc3339, rfc3339};
use hub::{Full, Hub, Limits, Subscription};
use token::{Claims, TokenError, TokenKey};

/// The `settings` row holding the token signing secret.
const TOKEN_SECRET_SETTING: &str = "inbox_token_secret";

/// A read-all event names at most this many ids (with `all: true`, which
/// is what clients act on); it must fit a NOTIFY payload.
pub const READ_EVENT_MAX_IDS: usize = 100;

/// A message as a client sees it (REST, SSE, WebSocket).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub id: String,
    pub recipient: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub action_url: Option<String>,
    /// The template's `data` part, if any.
    #[schema(value_type = Object)]
    pub data: Value,
    pub category: String,
    pub notification_id: String,
    pub delivery_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; none while unread.
    pub read_at: Option<String>,
}

impl From<&InboxMessage> for Message {
    fn from(m: &InboxMessage) -> Self {
        Message {
            id: m.id.clone(),
            recipient: m.recipient.clone(),
            title: m.title.clone(),
            body: m.body.clone(),
            action_url: m.action_url.clone(),
            data: serde_json::from_str(&m.data).unwrap_or(Value::Null),
            category: m.category.clone(),
            notification_id: m.notification_id.clone(),
            delivery_id: m.delivery_id.clone(),
            created_at: rfc3339(m.created_at),
            read_at: opt_rfc3339(m.read_at),
        }
    }
}

/// The JSON a client sees for a message (REST, SSE, WebSocket).
pub fn message_json(m: &InboxMessage) -> Value {
    serde_json::to_value(Message::from(m)).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A new message.
    Message,
    /// Messages were marked read (in another tab, by the back end, ...).
    Read,
}

/// One event for a recipient's streams, serialised once for all of them.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// The message id (message events): the SSE `id`, so a reconnecting
    /// EventSource sends it back as Last-Event-ID.
    pub id: Option<String>,
    /// SSE `data`: the message, or `{"ids": [...], "all": bool}`.
    pub data: String,
    /// The WebSocket text frame: `{"type": "message", "message": {...}}` or
    /// `{"type": "read", "ids": [...], "all": bool}`.
    pub ws: String,
}

impl Event {
    pub fn message(m: &InboxMessage) -> Event {
        let message = message_json(m);
        Event {
            kind: EventKind::Message,
            id: Some(m.id.clone()),
            data: message.to_string(),
            ws: json!({"type": "message", "message": message}).to_string(),
        }
    }

    /// `all`: every message up to now is read (`ids` may then be a part).
    pub fn read(ids: &[String], all: bool) -> Event {
        Event {
            kind: EventKind::Read,
            id: None,
            data: json!({"ids": ids, "all": all}).to_string(),
            ws: json!({"type": "read", "ids": ids, "all": all}).to_string(),
        }
    }

    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self.kind {
            EventKind::Message => "message",
            EventKind::Read => "read",
        }
    }
}

/// Why a token was refused: the token itself, or the store could not say.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What one process tells the others about a change (a NOTIFY payload:
/// kept well under PostgreSQL's 8000 bytes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    /// The announcing process, which has published the change itself.
    #[serde(rename = "o")]
    pub origin: String,
    #[serde(rename = "r")]
    pub recipient: String,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Change {
    /// A message was stored; load it by id.
    #[serde(rename = "m")]
    Message { id: String },
    #[serde(rename = "r")]
    Read { ids: Vec<String>, all: bool },
}

pub struct Inbox {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    key: TokenKey,
    cfg: InboxConfig,
    /// This process, in announcements.
    origin: String,
    /// Ends every open stream when the process stops.
    shutdown: CancellationToken,
    /// Recipients' token generations as last read, and when.
    generations: Mutex<HashMap<String, (i64, Instant)>>,
}

impl Inbox {
    /// Takes the token secret from the settings (`inbox.token_secret`, never
    /// stored), else loads it from the database (made and stored on first
    /// start).
    pub async fn open(
        store: Arc<dyn Store>,
        cfg: &InboxConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Arc<Inbox>> {
        let key = if cfg.token_secret.0.is_empty() {
            let (secret, _) = store
                .setting_init(TOKEN_SECRET_SETTING, &token::generate_secret())
                .await?;
            TokenKey::from_secret(&secret).ok_or_else(|| {
                anyhow::anyhow!("the stored `{TOKEN_SECRET_SETTING}` setting is not a valid secret")
            })?
        } else {
            // Checked when the settings were read.
            TokenKey::from_secret(&cfg.token_secret.0)
                .ok_or_else(|| anyhow::anyhow!("`inbox.token_secret` is not a valid secret"))?
        };
        let hub = Hub::new(Limits {
            max_connections: cfg.max_connections,
            max_connections_per_recipient: cfg.max_connections_per_recipient,
            buffer: cfg.buffer,
        });
        Ok(Arc::new(Inbox {
            store,
            hub,
            key,
            cfg: cfg.clone(),
            origin: uuid::Uuid::new_v4().simple().to_string(),
            shutdown,
            generations: Mutex::new(HashMap::new()),
        }))
    }

    pub fn config(&self) -> &InboxConfig {
        &self.cfg
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Open streams in this process.
    pub fn connections(&self) -> usize {
        self.hub.connections()
    }

    /// A token for `recipient`'s inbox and its expiry (Unix ms), signed
    /// with the recipient's current token generation.
    pub async fn issue_token(&self, recipient: &str) -> StoreResult<(String, i64)> {
        let generation = self.store.inbox_token_generation(recipient).await?;
        self.remember_generation(recipient, generation);
        let expires_at = now_ms() + self.cfg.token_ttl.as_millis() as i64;
        Ok((
            token::sign(&self.key, recipient, expires_at, generation),
            expires_at,
        ))
    }

    /// Checks a token: its signature, expiry, and that its recipient's
    /// tokens were not revoked since it was signed.
    pub async fn verify_token(&self, token: &str) -> Result<Claims, VerifyError> {
        let claims = token::verify(&self.key, token, now_ms())?;
        self.check_claims(&claims).await?;
        Ok(claims)
    }

    /// Checks again a token's claims (an open stream does, every
    /// [`crate::domain::RECHECK_EVERY`]): not expired, not revoked.
    /// Generations are cached like keys, so a revocation on another
    /// instance is seen within [`crate::domain::CREDENTIAL_CACHE_TTL`].
    pub async fn check_claims(&self, claims: &Claims) -> Result<(), VerifyError> {
        if now_ms() >= claims.expires_at {
            return Err(TokenError::Expired.into());
        }
        let cached = {
            let g = self.generations.lock().unwrap();
            g.get(&claims.recipient)
                .filter(|(_, at)| at.elapsed() < crate::domain::CREDENTIAL_CACHE_TTL)
                .map(|(n, _)| *n)
        };
        let current = match cached {
            Some(n) => n,
            None => {
                let n = self.store.inbox_token_generation(&claims.recipient).await?;
                self.remember_generation(&claims.recipient, n);
                n
            }
        };
        // A newer generation than ours can only be signed by another
        // instance that has seen a later revocation than we cached.
        if claims.generation < current {
            return Err(TokenError::Revoked.into());
        }
        Ok(())
    }

    /// Records a recipient's token generation (after a revocation here,
    /// this process's streams and requests see it at once).
    pub fn remember_generation(&self, recipient: &str, generation: i64) {
        let mut g = self.generations.lock().unwrap();
        if g.len() > 100_000 {
            g.clear();
        }
        g.insert(recipient.to_string(), (generation, Instant::now()));
    }

    /// A preference link's token for `recipient` (with `category`: an
    /// unsubscribe link that turns that category off) and its expiry,
    /// signed with the recipient's current token generation.
    pub async fn preference_token(
        &self,
        recipient: &str,
        category: Option<&str>,
    ) -> StoreResult<(String, i64)> {
        let generation = self.store.inbox_token_generation(recipient).await?;
        self.remember_generation(recipient, generation);
        let expires_at = now_ms() + self.cfg.preference_link_ttl.as_millis() as i64;
        Ok((
            token::sign_preferences(&self.key, recipient, category, expires_at, generation),
            expires_at,
        ))
    }

    /// Checks a preference link: signature, expiry, and that its
    /// recipient's tokens were not revoked since it was made.
    pub async fn verify_preference_token(
        &self,
        token: &str,
    ) -> Result<token::PreferenceClaims, VerifyError> {
        let claims = token::verify_preferences(&self.key, token, now_ms())?;
        self.check_claims(&Claims {
            recipient: claims.recipient.clone(),
            expires_at: claims.expires_at,
            generation: claims.generation,
        })
        .await?;
        Ok(claims)
    }

    /// Revokes every token issued for `recipient` so far.
    pub async fn revoke_tokens(&self, recipient: &str) -> StoreResult<()> {
        let generation = self.store.revoke_inbox_tokens(recipient).await?;
        self.remember_generation(recipient, generation);
        Ok(())
    }

    pub fn subscribe(&self, recipient: &str) -> Result<Subscription, Full> {
        self.hub.subscribe(recipient)
    }

    fn announcement(&self, recipient: &str, change: Change) -> String {
        serde_json::to_string(&Announcement {
            origin: self.origin.clone(),
            recipient: recipient.to_string(),
            change,
        })
        .expect("announcements serialise")
    }

    /// Stores a message (once per delivery) and publishes it. True if it
    /// is new; false if its delivery stored it before.
    pub async fn deliver(&self, m: &NewInboxMessage) -> StoreResult<bool> {
        let event = self.announcement(&m.recipient, Change::Message { id: m.id.clone() });
        match self.store.inbox_insert(m, &event).await? {
            Some(stored) => {
                self.hub
                    .publish(&stored.recipient, Arc::new(Event::message(&stored)));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Marks a message read and tells the recipient's streams; `None` if
    /// the recipient has no such (unarchived) message.
    pub async fn mark_read(&self, recipient: &str, id: &str) -> StoreResult<Option<InboxMessage>> {
        let Some((m, changed)) = self.store.inbox_mark_read(recipient, id, now_ms()).await? else {
            return Ok(None);
        };
        if changed {
            self.publish_read(recipient, vec![m.id.clone()], false)
                .await;
        }
        Ok(Some(m))
    }

    /// Marks every message read; returns how many were unread.
    pub async fn mark_all_read(&self, recipient: &str) -> StoreResult<usize> {
        let mut ids = self.store.inbox_mark_all_read(recipient, now_ms()).await?;
        let n = ids.len();
        if n > 0 {
            // Newest first, like the list.
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids.truncate(READ_EVENT_MAX_IDS);
            self.publish_read(recipient, ids, true).await;
        }
        Ok(n)
    }

    pub async fn archive(&self, recipient: &str, id: &str) -> StoreResult<bool> {
        self.store.inbox_archive(recipient, id, now_ms()).await
    }

    async fn publish_read(&self, recipient: &str, ids: Vec<String>, all: bool) {
        self.hub
            .publish(recipient, Arc::new(Event::read(&ids, all)));
        let event = self.announcement(recipient, Change::Read { ids, all });
        // The change is stored; other processes' tabs catch up on reload.
        if let Err(e) = self.store.inbox_announce(&event).await {
            tracing::warn!(error = %e, "could not announce an inbox read to other processes");
        }
    }

    /// Relays other processes' announcements to this process's streams,
    /// until shutdown. Returns at once where the backend has none (SQLite).
    pub async fn listen(self: Arc<Self>) {
        loop {
            let mut events = match self.store.inbox_events().await {
                Ok(Some(s)) => s,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "listening for inbox events failed; trying again in 1 s");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = self.shutdown.cancelled() => return,
                    }
                }
            };
            loop {
                tokio::select! {
                    n = events.next() => match n {
                        Some(payload) => self.relay(&payload).await,
                        None => break,
                    },
                    _ = self.shutdown.cancelled() => return,
                }
            }
            tracing::warn!("the inbox event listener stopped; listening again");
        }
    }

    async fn relay(&self, payload: &str) {
        let a: Announcement = match serde_json::from_str(payload) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring an unreadable inbox announcement");
                return;
            }
        };
        if a.origin == self.origin || !self.hub.has_subscribers(&a.recipient) {
            return;
        }
        let event = match a.change {
            Change::Message { id } => match self.store.inbox_get(&a.recipient, &id).await {
                Ok(Some(m)) => Event::message(&m),
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, message_id = %id, "could not load an announced inbox message");
                    return;
                }
            },
            Change::Read { ids, all } => Event::read(&ids, all),
        };
        self.hub.publish(&a.recipient, Arc::new(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_are_small_and_round_trip() {
        let a = Announcement {
            origin: "p1".into(),
            recipient: "u_1".into(),
            change: Change::Message {
                id: "0190-abc".into(),
            },
        };
        let s = serde_json::to_string(&a).unwrap();
        assert_eq!(s, r#"{"o":"p1","r":"u_1","k":"m","id":"0190-abc"}"#);
        assert_eq!(serde_json::from_str::<Announcement>(&s).unwrap(), a);
        let ids: Vec<String> = (0..READ_EVENT_MAX_IDS)
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        let read = Announcement {
            origin: uuid::Uuid::new_v4().simple().to_string(),
            recipient: "x".repeat(255),
            change: Change::Read { ids, all: true },
        };
        assert!(serde_json::to_string(&read).unwrap().len() < 8000);
    }

    #[test]
    fn events_carry_the_same_content_for_sse_and_websocket() {
        let m = InboxMessage {
            id: "m1".into(),
            recipient: "u_1".into(),
            delivery_id: "d1".into(),
            notification_id: "n1".into(),
            title: Some("Hi Ana".into()),
            body: Some("b".into()),
            action_url: None,
            data: r#"{"name":"Ana"}"#.into(),
            category: "transactional".into(),
            created_at: 0,
            read_at: None,
            archived_at: None,
        };
        let e = Event::message(&m);
        assert_eq!((e.name(), e.id.as_deref()), ("message", Some("m1")));
        let data: Value = serde_json::from_str(&e.data).unwrap();
        let ws: Value = serde_json::from_str(&e.ws).unwrap();
        assert_eq!(ws["type"], "message");
        assert_eq!(ws["message"], data);
        assert_eq!(data["data"]["name"], "Ana");
        let r = Event::read(&["m1".into()], false);
        assert_eq!((r.name(), r.id.as_deref()), ("read", None));
        assert_eq!(
            serde_json::from_str::<Value>(&r.ws).unwrap(),
            json!({"type": "read", "ids": ["m1"], "all": false})
        );
    }
}
