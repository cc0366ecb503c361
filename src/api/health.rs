//! `/healthz`: the process is up. `/readyz`: the process is not stopping,
//! the database answers and its migrations are current.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `not ready`.
    pub status: &'static str,
    /// Why it is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

fn health(status: &'static str, detail: Option<&'static str>) -> Json<Health> {
    Json(Health { status, detail })
}

/// Liveness.
///
/// No credential needed. The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "meta",
    responses((status = 200, description = "Up", body = Health))
)]
async fn healthz() -> Json<Health> {
    health("ok", None)
}

/// Readiness.
///
/// No credential needed. The process is not stopping, the database
/// answers and its migrations are current. From a SIGTERM on it answers
/// 503 while requests are still served for `server.shutdown_drain`, so a
/// load balancer takes the instance out before it closes.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "meta",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready; `detail` says why", body = Health)
    )
)]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    if state.stopping.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            health("not ready", Some("the process is shutting down")),
        );
    }
    match state.store.ready().await {
        Ok(true) => (StatusCode::OK, health("ready", None)),
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            health(
                "not ready",
                Some("database migrations are not current; run `missive migrate`"),
            ),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                health("not ready", Some("the database does not answer")),
            )
        }
    }
}
