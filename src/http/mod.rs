//! The REST API under `/v1`, plus `/healthz` and `/readyz`. One file per
//! resource, each with its `router()`; each route is registered with its
//! OpenAPI documentation (`/openapi.json`, see `openapi.rs`).

pub mod auth;
pub mod deliveries;
pub mod devices;
pub mod endpoints;
pub mod error;
pub mod health;
pub mod inbox;
pub mod json;
pub mod layouts;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod providers;
pub mod receipts;
pub mod recipients;
pub mod schedules;
pub mod server;
pub mod stats;
pub mod suppressions;
pub mod templates;
pub mod topics;
pub mod versions;
pub mod workflows;

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;

pub use crate::service::AppState;

/// Every route with its documentation: the router and `/openapi.json`
/// are both made from this. `inbox_cors` is `inbox.cors_origins`.
pub fn routes(inbox_cors: &[String]) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(notifications::router())
        .merge(deliveries::router())
        .merge(providers::router())
        .merge(stats::router())
        .merge(templates::router())
        .merge(layouts::router())
        .merge(workflows::router())
        .merge(schedules::router())
        .merge(recipients::router())
        .merge(topics::router())
        .merge(suppressions::router())
        .merge(receipts::router())
        .merge(devices::router(inbox_cors))
        .merge(endpoints::router())
        .merge(inbox::router(inbox_cors))
        .merge(health::router())
        .merge(openapi::router())
}

/// The answer to a path no route has.
pub const NOT_FOUND: &str =
    "no such route; GET /openapi.json lists every route of this API, and the console is at /console";

/// Every answer is what its Content-Type says: browsers must not guess.
pub async fn nosniff(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    resp
}

/// One span per request, named by the matched route (not the raw path, so
/// ids don't explode the cardinality), and its duration in the metrics.
pub async fn trace_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
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
    let method = crate::metrics::method_label(&method);
    state
        .metrics
        .http_request(method, route, status, started.elapsed());
    resp
}
