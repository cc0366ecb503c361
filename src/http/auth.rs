//! Who is calling, read from the request: `Authorization: Bearer <key>`,
//! or the console's session cookie (with its CSRF header for anything that
//! changes something). This file only reads headers; every check of a
//! credential (cache, revocation, rate limit, scopes) is the service's
//! (`service::auth`), the same for the API, the console and the streams.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};

use super::error::ApiError;
use crate::service::auth::{authenticate, csrf_matches, verify_session};
pub use crate::service::auth::{Caller, Permission};
use crate::service::AppState;
use crate::store::SessionView;

/// The console session's cookie.
pub const SESSION_COOKIE: &str = "missive_session";
/// The header the console's script sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The credential in `Authorization: Bearer <credential>`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// A cookie's value, if the request carries it non-empty.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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
            .is_some_and(|t| csrf_matches(t, &session.csrf))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            // The console's pages call the API with their session cookie.
            if let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) {
                if let Some((caller, s)) = verify_session(state, token).await? {
                    if !api_csrf_ok(&parts.method, &parts.headers, &s) {
                        return Err(ApiError::Forbidden(
                            "a console session must send its CSRF token in X-CSRF-Token".into(),
                        ));
                    }
                    return Ok(caller);
                }
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
        Ok(authenticate(state, key).await?)
    }
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
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("abc"));
        let h = headers(&[("cookie", "missive_session=")]);
        assert_eq!(cookie_value(&h, SESSION_COOKIE), None);
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
            key_last_used_at: None,
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
}
