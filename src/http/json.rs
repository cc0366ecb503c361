//! A JSON body extractor whose errors are problem+json naming the field
//! (`to[3].webhook_url`), and 413 when the body is over the limit.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::error::{ApiError, FieldError};

pub struct JsonBody<T> {
    pub value: T,
    /// SHA-256 of the body's canonical JSON (keys sorted, no whitespace):
    /// two bodies that mean the same thing hash the same. Only a request
    /// with an `Idempotency-Key` needs it, so only such a request has it.
    pub hash: Option<String>,
}

/// The answer to a PUT: 201 with the stored thing when it was created,
/// 200 when it replaced one.
pub fn put_answer<T>(created: bool, body: T) -> (StatusCode, axum::Json<T>) {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, axum::Json(body))
}

/// Turns a deserialisation error into a field error.
pub fn field_error(e: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = e.path().to_string();
    let field = if path == "." {
        "body".to_string()
    } else {
        path
    };
    FieldError::new(field, e.into_inner().to_string())
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !json_type {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let keyed = req.headers().contains_key("idempotency-key");
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge("the body is larger than server.max_body_bytes allows".into())
            } else {
                ApiError::invalid("body", rejection.body_text())
            }
        })?;
        let raw: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid("body", format!("not valid JSON: {e}")))?;
        // Every body is an object; serde would read an array as a struct's
        // fields in order (`[]` as every field left out), so a stray array
        // could wipe what a PUT replaces.
        if !raw.is_object() {
            return Err(ApiError::invalid(
                "body",
                format!("must be a JSON object, not {}", kind(&raw)),
            ));
        }
        let hash = keyed.then(|| hex::encode(Sha256::digest(raw.to_string().as_bytes())));
        let value = serde_path_to_error::deserialize(raw).map_err(|e| {
            let fe = field_error(e);
            ApiError::Invalid(vec![fe])
        })?;
        Ok(JsonBody { value, hash })
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
