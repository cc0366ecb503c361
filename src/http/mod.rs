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
