//! `GET /metrics`: the app's metrics as OpenMetrics text, behind
//! `server.metrics_token` when one is set.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::{ApiError, ApiResult};
use crate::metrics::CONTENT_TYPE;
use crate::service::AppState;

/// Whether `headers` carry `Authorization: Bearer <token>`; compared in
/// constant time so the token can't be guessed byte by byte.
pub fn token_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = &state.config.server.metrics_token;
    if !token.is_empty() && !token_matches(&headers, token) {
        return Err(ApiError::Unauthorized(
            "/metrics needs `Authorization: Bearer <server.metrics_token>`".into(),
        ));
    }
    let body = state
        .metrics
        .render(&state.providers, &state.channels)
        .await?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!token_matches(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(token_matches(&h, "s3cret"));
        assert!(!token_matches(&h, "s3cre"));
        assert!(!token_matches(&h, "s3cret!"));
        h.insert(header::AUTHORIZATION, "Basic s3cret".parse().unwrap());
        assert!(!token_matches(&h, "s3cret"));
    }
}
