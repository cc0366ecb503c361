//! API keys: random, shown once, stored as SHA-256. Every request names its
//! key in `Authorization: Bearer <key>`; handlers ask for a scope.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use crate::store::{ApiKeyRow, Store};
use crate::util::now_ms;

pub const SCOPES: [&str; 4] = ["send", "templates", "read", "admin"];

/// How long a verified key is trusted without asking the database again (so
/// a revocation reaches every instance within this time).
const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
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
) -> anyhow::Result<(String, ApiKeyRow)> {
    let scopes = parse_scopes(scopes).map_err(anyhow::Error::msg)?;
    let (key, row) = new_key(name, &scopes);
    store.insert_key(&row).await?;
    Ok((key, row))
}

pub struct KeyCache {
    entries: Mutex<HashMap<String, (ApiKeyRow, Instant)>>,
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

/// The caller, once its key is verified.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key_id: String,
    scopes: String,
}

impl Caller {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.split(',').any(|s| s == scope || s == "admin")
    }

    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this API key lacks the `{scope}` scope"
            )))
        }
    }
}

/// The credential in `Authorization: Bearer <credential>`, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            // The console's pages call the API with their session cookie.
            if let Some(s) = crate::console::session::from_cookie(&parts.headers, state).await? {
                if !crate::console::session::api_csrf_ok(&parts.method, &parts.headers, &s) {
                    return Err(ApiError::Forbidden(
                        "a console session must send its CSRF token in X-CSRF-Token".into(),
                    ));
                }
                return Ok(Caller {
                    key_id: s.key_id,
                    scopes: s.scopes,
                });
            }
            return Err(ApiError::Unauthorized(
                "send an API key in the Authorization: Bearer header".into(),
            ));
        }
        let key = bearer(&parts.headers).ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <API key>`".into())
        })?;
        if key.starts_with(crate::inbox::token::PREFIX) {
            return Err(ApiError::Unauthorized(
                "an inbox token opens its recipient's inbox (/v1/recipients/{id}/inbox) only; this needs an API key".into(),
            ));
        }
        let row = verify(state, key).await?;
        if let Some(limiter) = &state.keys.limiter {
            if let Err(not_until) = limiter.check_key(&row.id) {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                return Err(ApiError::TooManyRequests(wait.as_secs_f64().ceil() as u64));
            }
        }
        Ok(Caller {
            key_id: row.id,
            scopes: row.scopes,
        })
    }
}

async fn verify(state: &AppState, key: &str) -> Result<ApiKeyRow, ApiError> {
    let hash = hash_key(key);
    let cached = {
        let entries = state.keys.entries.lock().unwrap();
        entries
            .get(&hash)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(row, _)| row.clone())
    };
    let row = match cached {
        Some(row) => row,
        None => {
            let row = state
                .store
                .find_key_by_hash(&hash)
                .await?
                .filter(|r| r.revoked_at.is_none())
                .ok_or_else(|| {
                    ApiError::Unauthorized("this API key is not valid or has been revoked".into())
                })?;
            let mut entries = state.keys.entries.lock().unwrap();
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(hash.clone(), (row.clone(), Instant::now()));
            row
        }
    };
    let now = now_ms();
    if row.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY_MS) {
        if let Some((r, _)) = state.keys.entries.lock().unwrap().get_mut(&hash) {
            r.last_used_at = Some(now);
        }
        let store = state.store.clone();
        let id = row.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_key(&id, now).await {
                tracing::warn!(error = %e, "could not record API key use");
            }
        });
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_and_admin_implies_all() {
        assert_eq!(parse_scopes("send, read,send").unwrap(), "send,read");
        assert!(parse_scopes("send,root").unwrap_err().contains("root"));
        assert!(parse_scopes("").is_err());
        let admin = Caller {
            key_id: "k".into(),
            scopes: "admin".into(),
        };
        assert!(admin.has("templates"));
        let sender = Caller {
            key_id: "k".into(),
            scopes: "send".into(),
        };
        assert!(sender.has("send") && !sender.has("read"));
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
