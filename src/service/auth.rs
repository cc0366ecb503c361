//! API keys and console sessions. A key is random, shown once and stored
//! as SHA-256; a console session is opened with a key and named by a random
//! cookie, also stored hashed. Both are checked by one path, [`verify`]:
//! the same cache (a revocation or a sign-out elsewhere is seen within
//! [`CREDENTIAL_CACHE_TTL`], at once in this process), the same revocation
//! rule (a session ends with its key), the same rate limit per key and the
//! same `last_used_at`. Handlers ask for a [`Permission`];
//! [`Permission::scopes`] is the one rule saying which scopes grant it, for
//! the API, the console and the inbox streams alike.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use super::{AppState, Error};
use crate::store::{ApiKeyRow, ConsoleSessionRow, SessionView, Store};
use crate::util::now_ms;

pub use crate::domain::{CREDENTIAL_CACHE_TTL, RECHECK_EVERY, SCOPES};
/// `last_used_at` is written at most this often per key.
const TOUCH_EVERY_MS: i64 = 60_000;

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Checks a comma-separated scope list; returns it normalised.
pub fn parse_scopes(s: &str) -> Result<String, String> {
    let mut out: Vec<&str> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !SCOPES.contains(&part) {
            return Err(format!(
                "unknown scope `{part}`; scopes are {}",
                SCOPES.join(", ")
            ));
        }
        if !out.contains(&part) {
            out.push(part);
        }
    }
    if out.is_empty() {
        return Err(format!("give at least one scope: {}", SCOPES.join(", ")));
    }
    Ok(out.join(","))
}

/// Makes a key and its stored row. The key itself is returned once and
/// never stored.
pub fn new_key(name: &str, scopes: &str) -> (String, ApiKeyRow) {
    let secret: [u8; 32] = rand::random();
    let key = format!("msv_{}", URL_SAFE_NO_PAD.encode(secret));
    let row = ApiKeyRow {
        id: crate::util::new_id(),
        name: name.to_string(),
        prefix: key[..12].to_string(),
        key_hash: hash_key(&key),
        scopes: scopes.to_string(),
        created_at: now_ms(),
        last_used_at: None,
        revoked_at: None,
    };
    (key, row)
}

pub async fn create_key(
    store: &dyn Store,
    name: &str,
    scopes: &str,
) -> Result<(String, ApiKeyRow), Error> {
    let scopes = parse_scopes(scopes).map_err(|m| Error::invalid("scopes", m))?;
    let (key, row) = new_key(name, &scopes);
    store.insert_key(&row).await?;
    Ok((key, row))
}

/// Revokes a key; false if there is no active key with this id. Other
/// processes stop accepting it within [`CREDENTIAL_CACHE_TTL`].
pub async fn revoke_key(store: &dyn Store, id: &str) -> Result<bool, Error> {
    Ok(store.revoke_key(id, now_ms()).await?)
}

impl AppState {
    /// Revokes a key and forgets it in this process at once.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, Error> {
        let revoked = revoke_key(self.store.as_ref(), id).await?;
        self.keys.forget(id);
        Ok(revoked)
    }
}

/// This process's verified credentials (keys and sessions, by their hash,
/// each with when its key's use was last written) and the rate limiter per
/// key.
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Verified, Instant)>>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl KeyCache {
    pub fn new(api_rate_limit: u32) -> Self {
        let limiter =
            NonZeroU32::new(api_rate_limit).map(|n| RateLimiter::keyed(Quota::per_second(n)));
        KeyCache {
            entries: Mutex::new(HashMap::new()),
            limiter,
        }
    }
}

impl KeyCache {
    /// Drops a key, and every session opened with it, from this process's
    /// cache (after revoking it here), so their next use asks the database.
    pub fn forget(&self, key_id: &str) {
        self.entries
            .lock()
            .unwrap()
            .retain(|_, (v, _)| v.key.id != key_id);
    }

    /// Drops one credential (a session signed out here).
    fn forget_credential(&self, hash: &str) {
        self.entries.lock().unwrap().remove(hash);
    }

    /// The fresh entry for this credential, if it is one of this kind: a
    /// key's hash never answers for a session, nor the other way round.
    fn cached(&self, credential: &Credential) -> Option<Verified> {
        self.entries
            .lock()
            .unwrap()
            .get(credential.hash())
            .filter(|(v, at)| {
                at.elapsed() < CREDENTIAL_CACHE_TTL
                    && v.session.is_some() == credential.is_session()
            })
            .map(|(v, _)| v.clone())
    }

    fn remember(&self, hash: &str, v: &Verified) {
        let mut entries = self.entries.lock().unwrap();
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(hash.to_string(), (v.clone(), Instant::now()));
    }

    /// Whether a use of this key at `now` should be written: at most every
    /// `TOUCH_EVERY_MS` per key, counting from the last use written. The
    /// cached entry then holds `now`, so the next requests need no lock.
    fn should_touch(&self, hash: &str, key: &KeyGrant, now: i64) -> bool {
        if key.last_used_at.is_some_and(|t| now - t <= TOUCH_EVERY_MS) {
            return false;
        }
        if let Some((v, _)) = self.entries.lock().unwrap().get_mut(hash) {
            v.key.last_used_at = Some(now);
        }
        true
    }

    /// Counts a request against the key's rate limit (`server.api_rate_limit`).
    pub fn admit(&self, key_id: &str) -> Result<(), Error> {
        if let Some(limiter) = &self.limiter {
            if let Err(not_until) = limiter.check_key(&key_id.to_string()) {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                return Err(Error::TooManyRequests(wait.as_secs_f64().ceil() as u64));
            }
        }
        Ok(())
    }
}

/// What a caller asks to do. Every API route and console page asks for
/// one; [`Permission::scopes`] says which scopes grant it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Send notifications; issue and revoke inbox tokens; create, pause
    /// and delete recurring schedules.
    Send,
    /// Recurring schedules.
    ReadSchedules,
    /// Deliveries, notifications, providers' state, the console overview.
    ReadDeliveries,
    /// Recipient profiles.
    ReadRecipients,
    /// Create, replace and delete recipient profiles.
    WriteRecipients,
    /// A recipient's inbox and its live streams.
    ReadInbox,
    /// Mark inbox messages read, archive them.
    ChangeInbox,
    /// Templates, their versions and previews.
    ReadTemplates,
    /// Create, change, activate and archive templates.
    WriteTemplates,
    /// Retry, cancel and replay deliveries.
    Operate,
    /// Create, list and revoke API keys.
    ManageKeys,
    /// The suppression list.
    ReadSuppressions,
    /// Add addresses to the suppression list by hand, take them off.
    ManageSuppressions,
    /// Registered endpoints, their messages and attempt logs.
    ReadEndpoints,
    /// Register, change, delete endpoints, rotate their secrets, replay.
    ManageEndpoints,
}

impl Permission {
    /// The scopes any one of which grants this; `admin` grants everything.
    pub fn scopes(self) -> &'static [&'static str] {
        use Permission::*;
        match self {
            Send | WriteRecipients | ChangeInbox => &["send"],
            ReadDeliveries | ReadSuppressions | ReadEndpoints => &["read"],
            ReadRecipients | ReadInbox | ReadSchedules => &["read", "send"],
            ReadTemplates => &["read", "templates"],
            WriteTemplates => &["templates"],
            Operate | ManageKeys | ManageSuppressions | ManageEndpoints => &["admin"],
        }
    }

    /// "the `read` or `send` scope", for messages.
    pub fn describe(self) -> String {
        let names: Vec<String> = self.scopes().iter().map(|s| format!("`{s}`")).collect();
        format!("the {} scope", names.join(" or "))
    }
}

/// What a caller proved itself with, to check again later (open streams).
#[derive(Clone, Debug)]
enum Credential {
    /// The SHA-256 of an API key.
    Key(String),
    /// The SHA-256 of a console session's cookie.
    Session(String),
}

impl Credential {
    fn hash(&self) -> &str {
        match self {
            Credential::Key(h) | Credential::Session(h) => h,
        }
    }

    fn is_session(&self) -> bool {
        matches!(self, Credential::Session(_))
    }
}

/// The caller, once its key (or the console session opened with one) is
/// verified: the same principal for the API and the console.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key_id: String,
    scopes: String,
    credential: Credential,
}

impl Caller {
    fn has_scope(&self, scope: &str) -> bool {
        self.scopes.split(',').any(|s| s == scope || s == "admin")
    }

    pub fn may(&self, p: Permission) -> bool {
        p.scopes().iter().any(|s| self.has_scope(s))
    }

    pub fn require(&self, p: Permission) -> Result<(), Error> {
        if self.may(p) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "this API key lacks {}",
                p.describe()
            )))
        }
    }

    /// Checks again that the credential holds (the key is not revoked, the
    /// console session not ended), as a request would: through the same
    /// cache, so at most [`CREDENTIAL_CACHE_TTL`] late. `Ok(false)` when it
    /// no longer holds.
    pub async fn still_valid(&self, state: &AppState) -> Result<bool, Error> {
        match verify(state, &self.credential).await {
            Ok(_) => Ok(true),
            Err(Error::Unauthorized(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A credential found valid: what it proves of its key, and the session
/// if it is one.
#[derive(Clone, Debug)]
struct Verified {
    key: KeyGrant,
    session: Option<SessionView>,
}

/// What the cache keeps of a verified key: who it is, what it may do, and
/// when its use was last written. No hash, no secret.
#[derive(Clone, Debug)]
struct KeyGrant {
    id: String,
    scopes: String,
    last_used_at: Option<i64>,
}

impl From<ApiKeyRow> for KeyGrant {
    fn from(r: ApiKeyRow) -> Self {
        KeyGrant {
            id: r.id,
            scopes: r.scopes,
            last_used_at: r.last_used_at,
        }
    }
}

/// The one check of a credential, for API keys, console sign-in, console
/// sessions and open streams: from the cache while it is fresh, else from
/// the database (a key must not be revoked; a session must be live and
/// its key not revoked). Writes the key's use at most once a minute. Does
/// not count against the rate limit (see [`KeyCache::admit`]).
async fn verify(state: &AppState, credential: &Credential) -> Result<Verified, Error> {
    let hash = credential.hash();
    let v = match state.keys.cached(credential) {
        Some(v) => v,
        None => {
            let v = match credential {
                Credential::Key(_) => state
                    .store
                    .find_key_by_hash(hash)
                    .await?
                    .filter(|r| r.revoked_at.is_none())
                    .map(|key| Verified {
                        key: key.into(),
                        session: None,
                    })
                    .ok_or_else(|| {
                        Error::Unauthorized("this API key is not valid or has been revoked".into())
                    })?,
                Credential::Session(_) => {
                    let view = state
                        .store
                        .session_get(hash, now_ms())
                        .await?
                        .ok_or_else(|| {
                            Error::Unauthorized(
                                "this console session has ended; sign in again".into(),
                            )
                        })?;
                    Verified {
                        key: KeyGrant {
                            id: view.key_id.clone(),
                            scopes: view.scopes.clone(),
                            last_used_at: view.key_last_used_at,
                        },
                        session: Some(view),
                    }
                }
            };
            state.keys.remember(hash, &v);
            v
        }
    };
    let now = now_ms();
    if state.keys.should_touch(hash, &v.key, now) {
        let store = state.store.clone();
        let id = v.key.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_key(&id, now).await {
                tracing::warn!(error = %e, "could not record API key use");
            }
        });
    }
    Ok(v)
}

/// Checks an API key as every request does (cache, revocation, rate
/// limit, last use); the console's sign-in uses this too.
pub async fn authenticate(state: &AppState, key: &str) -> Result<Caller, Error> {
    let credential = Credential::Key(hash_key(key));
    let v = verify(state, &credential).await?;
    state.keys.admit(&v.key.id)?;
    Ok(Caller {
        key_id: v.key.id,
        scopes: v.key.scopes,
        credential,
    })
}

/// The live console session a cookie's token names (not expired, its key
/// not revoked), checked against its key's request rate like an API key.
pub async fn verify_session(
    state: &AppState,
    token: &str,
) -> Result<Option<(Caller, SessionView)>, Error> {
    let credential = Credential::Session(hash_key(token));
    let v = match verify(state, &credential).await {
        Ok(v) => v,
        Err(Error::Unauthorized(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    state.keys.admit(&v.key.id)?;
    let Some(view) = v.session else {
        return Ok(None);
    };
    let caller = Caller {
        key_id: view.key_id.clone(),
        scopes: view.scopes.clone(),
        credential,
    };
    Ok(Some((caller, view)))
}

/// A new console session for a verified key: the token its cookie holds
/// (only its hash is stored) and how long it lives.
pub async fn open_session(state: &AppState, key_id: &str) -> Result<(String, Duration), Error> {
    let token = random_token();
    let now = now_ms();
    let ttl = state.config.console.session_ttl;
    state
        .store
        .session_insert(&ConsoleSessionRow {
            id: hash_key(&token),
            key_id: key_id.to_string(),
            csrf: random_token(),
            created_at: now,
            expires_at: now + ttl.as_millis() as i64,
        })
        .await?;
    Ok((token, ttl))
}

/// Ends the session a cookie's token names.
pub async fn close_session(state: &AppState, token: &str) -> Result<(), Error> {
    let hash = hash_key(token);
    state.store.session_delete(&hash).await?;
    state.keys.forget_credential(&hash);
    Ok(())
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Compares a CSRF token sent with a request to the session's, in time
/// that does not depend on where they differ.
pub fn csrf_matches(sent: &str, expected: &str) -> bool {
    let (a, b) = (sent.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every permission, for checking each scope against all of them.
    const ALL: [Permission; 15] = [
        Permission::Send,
        Permission::ReadSchedules,
        Permission::ReadDeliveries,
        Permission::ReadRecipients,
        Permission::WriteRecipients,
        Permission::ReadInbox,
        Permission::ChangeInbox,
        Permission::ReadTemplates,
        Permission::WriteTemplates,
        Permission::Operate,
        Permission::ManageKeys,
        Permission::ReadSuppressions,
        Permission::ManageSuppressions,
        Permission::ReadEndpoints,
        Permission::ManageEndpoints,
    ];

    fn caller(scopes: &str) -> Caller {
        Caller {
            key_id: "k".into(),
            scopes: scopes.into(),
            credential: Credential::Key("h".into()),
        }
    }

    #[test]
    fn scopes_are_checked_and_admin_implies_all() {
        assert_eq!(parse_scopes("send, read,send").unwrap(), "send,read");
        assert!(parse_scopes("send,root").unwrap_err().contains("root"));
        assert!(parse_scopes("").is_err());
        assert!(caller("admin").may(Permission::WriteTemplates));
        let sender = caller("send");
        assert!(sender.may(Permission::Send) && !sender.may(Permission::ReadDeliveries));
    }

    #[test]
    fn one_rule_for_every_permission() {
        use Permission::*;
        let grants: [(&str, &[Permission]); 3] = [
            ("templates", &[ReadTemplates, WriteTemplates]),
            (
                "read",
                &[
                    ReadDeliveries,
                    ReadRecipients,
                    ReadInbox,
                    ReadTemplates,
                    ReadSchedules,
                    ReadSuppressions,
                    ReadEndpoints,
                ],
            ),
            ("admin", &ALL),
        ];
        for (scopes, granted) in grants {
            let c = caller(scopes);
            for p in ALL {
                assert_eq!(c.may(p), granted.contains(&p), "{scopes}: {p:?}");
            }
        }
        assert_eq!(ReadRecipients.describe(), "the `read` or `send` scope");
    }

    #[test]
    fn keys_are_stored_hashed() {
        let (key, row) = new_key("ci", "send");
        assert!(key.starts_with("msv_") && key.len() > 40);
        assert_ne!(row.key_hash, key);
        assert_eq!(row.key_hash, hash_key(&key));
        assert!(key.starts_with(&row.prefix));
    }
}
