//! The REST API under `/v1`, plus `/healthz` and `/readyz`. One file per
//! resource, each with its `router()`.

pub mod auth;
pub mod deliveries;
pub mod error;
pub mod health;
pub mod inbox;
pub mod json;
pub mod notifications;
pub mod providers;
pub mod recipients;
pub mod templates;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tokio::sync::Notify;

use crate::config::Config;
use crate::render::Renderer;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub renderer: Arc<Renderer>,
    pub config: Arc<Config>,
    /// Channels this deployment can send on.
    pub enabled_channels: Arc<Vec<&'static str>>,
    pub keys: Arc<auth::KeyCache>,
    /// Wakes this process's workers when work is accepted.
    pub wake: Arc<Notify>,
    pub inbox: Arc<crate::inbox::Inbox>,
    /// This process's channels (provider and circuit-breaker state).
    pub channels: crate::channels::Channels,
    /// The console overview's last-day counts, kept between loads.
    pub day_counts: Arc<crate::console::overview::DayCounts>,
}

pub fn router(state: AppState) -> Router {
    let limit = state.config.server.max_body_bytes;
    Router::new()
        .merge(notifications::router())
        .merge(deliveries::router())
        .merge(providers::router())
        .merge(templates::router())
        .merge(recipients::router())
        .merge(inbox::router(&state.config.inbox))
        .merge(health::router())
        .merge(crate::console::router())
        .fallback(|| async {
            error::ApiError::NotFound("no such route; see DESIGN.md for the API".into())
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(trace_request))
        .with_state(state)
}

/// One span per request, named by the matched route (not the raw path, so
/// ids don't explode the cardinality).
async fn trace_request(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, route, status, ms, "request");
    } else {
        tracing::debug!(%method, route, status, ms, "request");
    }
    resp
}
