//! Console sign-in: an API key opens a session held in the database (so any
//! instance behind a load balancer knows it); the browser keeps only a random
//! id in an HttpOnly, SameSite=Strict cookie. Every form that changes
//! something carries the session's CSRF token, and so does every API call the
//! console's script makes (`X-CSRF-Token`).
//!
//! A session is the API's principal ([`Caller`]): the same permissions
//! (one rule, [`crate::service::auth::Permission`]), the same rate limit,
//! and it ends with its key: at once in the process that revokes the key
//! or signs out, within `CREDENTIAL_CACHE_TTL` in the others (the session's
//! key is read with the session, through the cache API keys use). Sessions are opened, checked and
//! closed by `service::auth`; this file is the console's side of them:
//! the cookie, the redirect to sign in, the CSRF field of forms.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::http::auth::cookie_value;
pub use crate::http::auth::{same_origin, CSRF_HEADER, SESSION_COOKIE as COOKIE};
use crate::service::auth::{self, csrf_matches, Caller, Permission};
use crate::service::{AppState, Error};

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
    /// (The page is the error: handlers answer it with `?`, once per
    /// request, so its size costs nothing worth a box.)
    #[allow(clippy::result_large_err)]
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

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let verified = match cookie_value(&parts.headers, COOKIE) {
            Some(token) => auth::verify_session(state, token).await,
            None => Ok(None),
        };
        match verified {
            Ok(Some((caller, v))) => Ok(Session {
                caller,
                key_id: v.key_id,
                key_name: v.key_name,
                csrf: v.csrf,
            }),
            Ok(None) => {
                let back = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/console");
                let to = format!("/console/login?next={}", urlencode(back));
                Err(Redirect::to(&to).into_response())
            }
            Err(Error::TooManyRequests(secs)) => {
                let mut page = super::page::error_page(
                    None,
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests",
                    "This key is over its request rate (server.api_rate_limit). Wait a moment and reload.",
                );
                if let Ok(v) = secs.to_string().parse() {
                    page.headers_mut().insert(header::RETRY_AFTER, v);
                }
                Err(page)
            }
            Err(e) => Err(super::page::server_error(&e.to_string())),
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
        if !same_origin(&parts.headers) || !csrf_matches(&token.csrf, &session.csrf) {
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

/// Whether the request's cookie names a live session.
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    match cookie_value(headers, COOKIE) {
        Some(token) => matches!(auth::verify_session(state, token).await, Ok(Some(_))),
        None => false,
    }
}

/// Opens a session for a verified key; returns the cookie to set.
pub async fn open(state: &AppState, key_id: &str) -> Result<String, Error> {
    let (token, ttl) = auth::open_session(state, key_id).await?;
    Ok(cookie(
        &token,
        ttl.as_secs(),
        state.config.console.secure_cookie,
    ))
}

/// Ends the request's session, if any; returns the cookie that clears it.
pub async fn close(state: &AppState, headers: &HeaderMap) -> Result<String, Error> {
    if let Some(token) = cookie_value(headers, COOKIE) {
        auth::close_session(state, token).await?;
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

    #[test]
    fn session_cookie_is_httponly_and_strict() {
        let c = cookie("v", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(!cookie("v", 60, false).contains("Secure"));
    }
}
