//! One error type for the API, answered as `application/problem+json`
//! (RFC 9457). Internal errors are logged with their cause chain and
//! answered without details.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::domain::FieldError;
use crate::store::{StoreError, Unavailable};

/// Seconds a client is asked to wait (`Retry-After`) when the database's
/// disk is full: freeing space takes a person or a maintenance round.
const RETRY_AFTER_FULL: u64 = 30;
/// Seconds a client is asked to wait when the database does not answer.
const RETRY_AFTER_DOWN: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request is not valid")]
    Invalid(Vec<FieldError>),
    #[error("too many requests; retry after {0} s")]
    TooManyRequests(u64),
    /// Over a limit on open streams.
    #[error("{0}")]
    TooManyConnections(String),
    /// The database can't do it now (disk full, not answering): 503 with
    /// `Retry-After`. Store errors become this when they are of that kind,
    /// also through `anyhow` (see [`ApiError::into_response`]).
    #[error("{}", unavailable_detail(*.0))]
    Unavailable(Unavailable),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::service::Error> for ApiError {
    fn from(e: crate::service::Error) -> Self {
        use crate::service::Error as E;
        match e {
            E::Invalid(errors) => ApiError::Invalid(errors),
            E::NotFound(m) => ApiError::NotFound(m),
            E::Conflict(m) => ApiError::Conflict(m),
            E::Unauthorized(m) => ApiError::Unauthorized(m),
            E::Forbidden(m) => ApiError::Forbidden(m),
            E::TooManyRequests(secs) => ApiError::TooManyRequests(secs),
            E::Unavailable(kind) => ApiError::Unavailable(kind),
            E::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        crate::service::Error::from(e).into()
    }
}

fn unavailable_detail(kind: Unavailable) -> &'static str {
    match kind {
        Unavailable::Full => "the database's disk is full, so nothing new can be stored; nothing was accepted, try again later",
        Unavailable::Down => "the database does not answer; nothing was accepted, try again later",
    }
}

/// The kind of database unavailability an error was caused by, if any:
/// a store or driver error anywhere in its chain.
fn unavailable_cause(e: &anyhow::Error) -> Option<Unavailable> {
    e.chain().find_map(|c| {
        if let Some(s) = c.downcast_ref::<StoreError>() {
            s.unavailable()
        } else if let Some(s) = c.downcast_ref::<sqlx::Error>() {
            crate::store::unavailable(s)
        } else {
            None
        }
    })
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, message)])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request too large",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                "Invalid input",
            ),
            ApiError::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            ApiError::TooManyConnections(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-connections",
                "Too many connections",
            ),
            ApiError::Unavailable(Unavailable::Full) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store-full",
                "The database's disk is full",
            ),
            ApiError::Unavailable(Unavailable::Down) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "The database is unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

/// Walks an error's sources into one line.
pub fn cause_chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = match self {
            ApiError::Internal(e) => match unavailable_cause(&e) {
                Some(kind) => {
                    tracing::warn!(error.cause_chain = %cause_chain(&e), "request refused: the database is unavailable");
                    ApiError::Unavailable(kind)
                }
                None => ApiError::Internal(e),
            },
            other => other,
        };
        let (status, slug, title) = this.parts();
        let this = &this;
        let detail = match this {
            ApiError::Internal(e) => {
                tracing::error!(error.cause_chain = %cause_chain(e), "request failed");
                "something went wrong on our side; it has been logged".to_string()
            }
            ApiError::Invalid(errors) => invalid_detail(errors),
            other => other.to_string(),
        };
        let body = Problem {
            kind: format!("urn:missive:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail,
            errors: match this {
                ApiError::Invalid(errors) => Some(errors.clone()),
                _ => None,
            },
        };
        let body = serde_json::to_string(&body).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        let retry_after = match this {
            ApiError::TooManyRequests(secs) => Some(*secs),
            ApiError::Unavailable(Unavailable::Full) => Some(RETRY_AFTER_FULL),
            ApiError::Unavailable(Unavailable::Down) => Some(RETRY_AFTER_DOWN),
            _ => None,
        };
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

pub use crate::domain::field::invalid_detail;

/// Every error answer's body: an RFC 9457 problem, served as
/// `application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:missive:problem:<slug>`, e.g. `urn:missive:problem:invalid-input`.
    #[serde(rename = "type")]
    #[schema(example = "urn:missive:problem:invalid-input")]
    pub kind: String,
    #[schema(example = "Invalid input")]
    pub title: &'static str,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// The fields that are not valid (422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(e: ApiError) -> (StatusCode, Option<String>, serde_json::Value) {
        let resp = e.into_response();
        let status = resp.status();
        let retry = resp
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn an_unavailable_database_is_a_503_with_retry_after_however_it_is_wrapped() {
        let timed_out = || StoreError::Db(sqlx::Error::PoolTimedOut);
        for e in [
            ApiError::from(timed_out()),
            ApiError::Internal(anyhow::Error::from(timed_out()).context("loading the template")),
            ApiError::Internal(anyhow::Error::from(sqlx::Error::PoolTimedOut)),
        ] {
            let (status, retry, body) = answer(e).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(retry.as_deref(), Some("5"));
            assert_eq!(body["type"], "urn:missive:problem:database-unavailable");
        }
        let (status, retry, body) = answer(ApiError::from(StoreError::Unavailable(
            Unavailable::Full,
            "database or disk is full".into(),
        )))
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("30"));
        assert_eq!(body["type"], "urn:missive:problem:store-full");
        // Anything else stays an internal error, without details.
        let (status, retry, body) =
            answer(ApiError::from(StoreError::Db(sqlx::Error::RowNotFound))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(retry, None);
        assert_eq!(body["type"], "urn:missive:problem:internal");
    }
}
