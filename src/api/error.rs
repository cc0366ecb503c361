//! One error type for the API, answered as `application/problem+json`
//! (RFC 9457). Internal errors are logged with their cause chain and
//! answered without details.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::render::TemplateError;
use crate::store::StoreError;

/// One field that is not valid.
#[derive(Clone, Debug, Serialize, PartialEq, ToSchema)]
pub struct FieldError {
    /// The field's path in the request, e.g. `to[3].webhook_url`, or a
    /// header or query parameter name.
    pub field: String,
    pub message: String,
    /// Index in `to` of the recipient the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<usize>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            recipient: None,
        }
    }

    pub fn for_recipient(mut self, index: usize) -> Self {
        self.recipient = Some(index);
        self
    }
}

impl From<TemplateError> for FieldError {
    fn from(e: TemplateError) -> Self {
        FieldError::new(e.field, e.message)
    }
}

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
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.into())
    }
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
        let (status, slug, title) = self.parts();
        let detail = match &self {
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
            errors: match &self {
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
        if let ApiError::TooManyRequests(secs) = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

/// Names every field that is not valid (`field: message`), the first few
/// in full, so the detail alone says what to change.
pub fn invalid_detail(errors: &[FieldError]) -> String {
    const LISTED: usize = 5;
    let each = |e: &FieldError| format!("{}: {}", e.field, e.message);
    match errors {
        [] => "the request is not valid".to_string(),
        [one] => each(one),
        _ => {
            let mut s = format!(
                "{} fields are not valid: {}",
                errors.len(),
                errors
                    .iter()
                    .take(LISTED)
                    .map(each)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            if errors.len() > LISTED {
                s.push_str(&format!(
                    "; and {} more (see `errors`)",
                    errors.len() - LISTED
                ));
            }
            s
        }
    }
}

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
