//! Console sign-in: an API key opens a session held in the database (so any
//! instance behind a load balancer knows it); the browser keeps only a random
//! id in an HttpOnly, SameSite=Strict cookie. Every form that changes
//! something carries the session's CSRF token, and so does every API call the
//! console's script makes (`X-CSRF-Token`).
//!
//! A session is the API's principal ([`Caller`]): the same permissions
//! (one rule, [`crate::api::auth::Permission`]), the same rate limit, and
//! it ends as soon as its key is revoked (the session's key is read with
//! the session, on every request).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::api::auth::{hash_key, Caller, Permission};
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::store::{ConsoleSessionRow, SessionView};
use crate::util::now_ms;

pub const COOKIE: &str = "missive_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in operator or admin.
#[derive(Clone, Debug)]
pub struct Session {
    pub key_id: String,
    pub key_name: String,
    pub caller: Caller,
    pub csrf: String,
}

impl Session {
    pub fn may(&self, p: Permission) -> bool {
        self.caller.may(p)
    }

    /// The page's permissions, or the 403 page naming the scopes needed.
    pub fn require(&self, perms: &[Permission]) -> Result<(), Response> {
        match perms.iter().find(|p| !self.may(**p)) {
            None => Ok(()),
            Some(p) => Err(super::page::forbidden(
                self,
                &format!(
                    "This key can't see this: it needs {}, as the API does.",
                    p.describe()
                ),
            )),
        }
    }
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The session named by the request's cookie, if it is live (not expired,
/// its key not revoked), with its id's hash.
pub async fn lookup(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<(String, SessionView)>, crate::store::StoreError> {
    let Some(id) = cookie_value(headers, COOKIE) else {
        return Ok(None);
    };
    let id = hash_key(id);
    Ok(state
        .store
        .session_get(&id, now_ms())
        .await?
        .map(|v| (id, v)))
}

/// True when a request's `Origin` (or, without one, `Referer`) is this
/// server, or the browser sent neither.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    match (origin, host) {
        (None, _) => true,
        (Some(o), Some(host)) => url::Url::parse(o)
            .ok()
            .map(|u| match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}") == host,
                (Some(h), None) => h == host,
                _ => false,
            })
            .unwrap_or(false),
        (Some(_), None) => false,
    }
}

/// Checks the CSRF token of a cookie-authenticated API call: required for
/// every method that can change something.
pub fn api_csrf_ok(method: &Method, headers: &HeaderMap, session: &SessionView) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    same_origin(headers)
        && headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| constant_time_eq(t.as_bytes(), session.csrf.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let view = lookup(&parts.headers, state)
            .await
            .map_err(|e| super::page::server_error(&e.to_string()))?;
        match view {
            Some((id, v)) => {
                let session = Session {
                    caller: Caller::from_session(&v, id),
                    key_id: v.key_id,
                    key_name: v.key_name,
                    csrf: v.csrf,
                };
                if let Err(ApiError::TooManyRequests(secs)) = state.keys.admit(&session.key_id) {
                    let mut page = super::page::error_page(
                        Some(&session),
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too many requests",
                        "This key is over its request rate (server.api_rate_limit). Wait a moment and reload.",
                    );
                    if let Ok(v) = secs.to_string().parse() {
                        page.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    return Err(page);
                }
                Ok(session)
            }
            None => {
                let back = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/console");
                let to = format!("/console/login?next={}", urlencode(back));
                Err(Redirect::to(&to).into_response())
            }
        }
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A form that changes something: the session and the form's fields, once
/// the form's `csrf` field matches the session's token and the request
/// comes from this origin.
pub struct Action<T> {
    pub session: Session,
    pub form: T,
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Action<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, state.config.server.max_body_bytes)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
        let token: CsrfField = serde_urlencoded::from_bytes(&bytes).unwrap_or(CsrfField {
            csrf: String::new(),
        });
        if !same_origin(&parts.headers)
            || !constant_time_eq(token.csrf.as_bytes(), session.csrf.as_bytes())
        {
            return Err(super::page::error_page(
                Some(&session),
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The page was open too long or came from another site. Go back, reload it and try again.",
            ));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        let Form(form) = Form::<T>::from_request(req, state).await.map_err(|e| {
            super::page::error_page(
                Some(&session),
                StatusCode::UNPROCESSABLE_ENTITY,
                "This form is incomplete",
                &e.body_text(),
            )
        })?;
        Ok(Action { session, form })
    }
}

/// Opens a session for a verified key; returns the cookie to set.
pub async fn open(state: &AppState, key_id: &str) -> Result<String, crate::store::StoreError> {
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
    Ok(cookie(
        &token,
        ttl.as_secs(),
        state.config.console.secure_cookie,
    ))
}

/// Ends the request's session, if any; returns the cookie that clears it.
pub async fn close(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<String, crate::store::StoreError> {
    if let Some(id) = cookie_value(headers, COOKIE) {
        state.store.session_delete(&hash_key(id)).await?;
    }
    Ok(cookie("", 0, state.config.console.secure_cookie))
}

fn cookie(value: &str, max_age: u64, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; missive_session=abc; b=2")]);
        assert_eq!(cookie_value(&h, COOKIE), Some("abc"));
        let h = headers(&[("cookie", "missive_session=")]);
        assert_eq!(cookie_value(&h, COOKIE), None);
    }

    #[test]
    fn cross_site_requests_are_refused() {
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080")])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "missive.example"),
            ("referer", "https://evil.example/missive.example")
        ])));
    }

    #[test]
    fn api_calls_by_cookie_need_the_token_to_change_things() {
        let s = SessionView {
            key_id: "k".into(),
            key_name: "ops".into(),
            scopes: "admin".into(),
            csrf: "tok".into(),
            expires_at: 0,
        };
        let none = HeaderMap::new();
        assert!(api_csrf_ok(&Method::GET, &none, &s));
        assert!(!api_csrf_ok(&Method::POST, &none, &s));
        assert!(!api_csrf_ok(
            &Method::POST,
            &headers(&[("x-csrf-token", "other")]),
            &s
        ));
        assert!(api_csrf_ok(
            &Method::POST,
            &headers(&[("x-csrf-token", "tok")]),
            &s
        ));
    }

    #[test]
    fn session_cookie_is_httponly_and_strict() {
        let c = cookie("v", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(!cookie("v", 60, false).contains("Secure"));
    }
}
