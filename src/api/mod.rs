//! The REST API under `/v1`, plus `/healthz` and `/readyz`. One file per
//! resource, each with its `router()`; each route is registered with its
//! OpenAPI documentation (`/openapi.json`, see `openapi.rs`).

pub mod auth;
pub mod deliveries;
pub mod error;
pub mod health;
pub mod inbox;
pub mod json;
pub mod notifications;
pub mod openapi;
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
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::render::Renderer;
use crate::store::{DeliveryFilter, Store, StoreResult, Transition};
use crate::util::now_ms;

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
    /// Providers' pauses and breakers shared with other processes.
    pub providers: Arc<crate::flow::provider_state::ProviderBoard>,
    /// This app's metrics (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The console overview's last-day counts, kept between loads.
    pub day_counts: Arc<crate::console::overview::DayCounts>,
    /// Cancelled once the process begins to stop: `/readyz` answers 503
    /// while requests are still served.
    pub stopping: tokio_util::sync::CancellationToken,
}

/// What an operator does to deliveries, from the API or the console: the
/// store's change plus what follows it in this process (waking the
/// workers, counting in the metrics).
impl AppState {
    /// Puts a failed delivery back in the queue, with `note` (who did it)
    /// in its attempt log.
    pub async fn retry_delivery(&self, id: &str, note: &str) -> StoreResult<Transition> {
        let t = self.store.retry_delivery(id, note, now_ms()).await?;
        if matches!(t, Transition::Done(_)) {
            self.wake.notify_one();
        }
        Ok(t)
    }

    /// Cancels a queued, scheduled or retrying delivery.
    pub async fn cancel_delivery(&self, id: &str) -> StoreResult<Transition> {
        let t = self.store.cancel_delivery(id, now_ms()).await?;
        if let Transition::Done(d) = &t {
            self.metrics.cancelled(&d.channel, 1);
        }
        Ok(t)
    }

    /// Re-queues every failed delivery `filter` matches (the dead-letter
    /// replay), with `note` in each one's attempt log; returns how many.
    pub async fn replay_failed(&self, filter: &DeliveryFilter, note: &str) -> StoreResult<u64> {
        let n = self.store.retry_failed(filter, note, now_ms()).await?;
        if n > 0 {
            self.wake.notify_one();
        }
        Ok(n)
    }
}

/// Every route with its documentation: the router and `/openapi.json`
/// are both made from this. `inbox_cors` is `inbox.cors_origins`.
pub fn routes(inbox_cors: &[String]) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(notifications::router())
        .merge(deliveries::router())
        .merge(providers::router())
        .merge(templates::router())
        .merge(recipients::router())
        .merge(inbox::router(inbox_cors))
        .merge(health::router())
        .merge(openapi::router())
}

pub fn router(state: AppState) -> Router {
    let limit = state.config.server.max_body_bytes;
    let (routes, _) = routes(&state.config.inbox.cors_origins).split_for_parts();
    routes
        .merge(crate::console::router())
        .merge(crate::metrics::router())
        .fallback(|| async {
            error::ApiError::NotFound(
                "no such route; GET /openapi.json lists every route of this API, and the console is at /console".into(),
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(nosniff))
        .layer(axum::middleware::from_fn(crate::console::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            trace_request,
        ))
        .with_state(state)
}

/// Every answer is what its Content-Type says: browsers must not guess.
async fn nosniff(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    resp
}

/// One span per request, named by the matched route (not the raw path, so
/// ids don't explode the cardinality), and its duration in the metrics.
async fn trace_request(
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
