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
        // The common case, a well-formed body without an Idempotency-Key,
        // is read straight into `T`. Anything that fails that is read
        // again below, as before, so its error (and what a duplicate key
        // means) is the same either way.
        if !keyed && starts_an_object(&bytes) {
            let mut de = serde_json::Deserializer::from_slice(&bytes);
            if let Ok(value) = serde_path_to_error::deserialize(&mut de) {
                if de.end().is_ok() {
                    return Ok(JsonBody { value, hash: None });
                }
            }
        }
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

/// Whether the first byte after any whitespace opens an object (serde
/// would read an array as a struct's fields in order).
fn starts_an_object(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|&b| b == b'{')
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Body {
        a: u32,
        #[serde(default)]
        to: Vec<To>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct To {
        #[allow(dead_code)]
        url: String,
    }

    async fn read(body: &str, key: bool) -> Result<JsonBody<Body>, ApiError> {
        let mut req = Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "application/json");
        if key {
            req = req.header("idempotency-key", "k1");
        }
        let req = req.body(axum::body::Body::from(body.to_owned())).unwrap();
        JsonBody::<Body>::from_request(req, &()).await
    }

    fn fields(r: Result<JsonBody<Body>, ApiError>) -> Vec<(String, String)> {
        match r {
            Err(ApiError::Invalid(v)) => v.into_iter().map(|f| (f.field, f.message)).collect(),
            Err(e) => panic!("not a field error: {e}"),
            Ok(b) => panic!("read: {:?}", b.value),
        }
    }

    #[tokio::test]
    async fn a_body_reads_the_same_straight_or_through_a_value() {
        for key in [false, true] {
            let b = read(" \n{\"a\": 7, \"to\": [{\"url\": \"u\"}]}", key)
                .await
                .unwrap();
            assert_eq!((b.value.a, b.value.to.len()), (7, 1));
            assert_eq!(b.hash.is_some(), key, "only a keyed request is hashed");

            // A repeated key: the last one counts, as it always did.
            let b = read("{\"a\": 1, \"a\": 2}", key).await.unwrap();
            assert_eq!(b.value.a, 2);

            let f = fields(read("[7]", key).await);
            assert_eq!(f[0].0, "body");
            assert!(f[0].1.contains("must be a JSON object"), "{f:?}");

            let f = fields(read("{\"a\": 7} {", key).await);
            assert_eq!(f[0].0, "body");
            assert!(f[0].1.contains("not valid JSON"), "{f:?}");

            let f = fields(read("{\"a\": 7, \"to\": [{\"url\": 5}]}", key).await);
            assert_eq!(f[0].0, "to[0].url", "{f:?}");

            let f = fields(read("{\"a\": 7, \"b\": 1}", key).await);
            assert_eq!(f[0].0, "b", "{f:?}");
            assert!(f[0].1.contains("unknown field"), "{f:?}");
        }
    }

    #[tokio::test]
    async fn bodies_that_mean_the_same_hash_the_same() {
        let one = read("{\"a\": 1, \"to\": []}", true).await.unwrap().hash;
        let two = read("{ \"to\" : [ ], \"a\":1 }", true).await.unwrap().hash;
        assert_eq!(one, two);
        assert!(one.is_some());
    }
}
