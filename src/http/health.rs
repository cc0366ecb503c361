//! `/healthz`: the process is up. `/readyz`: the process is not stopping,
//! the database answers within a second, its migrations are current and
//! (SQLite) its disk has room.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::store::Unavailable;

/// How long `/readyz` waits for the database: a probe must get its answer
/// well before it gives up on its own.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

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
/// answers within a second, its migrations are current and it can store
/// new requests (on SQLite, after a write failed for lack of space, a
/// small write succeeds again). From a SIGTERM on it answers 503 while
/// requests are still served for `server.shutdown_drain`, so a load
/// balancer takes the instance out before it closes.
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
    let not_ready = |detail| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            health("not ready", Some(detail)),
        )
    };
    match tokio::time::timeout(READY_TIMEOUT, state.store.ready()).await {
        Ok(Ok(true)) => (StatusCode::OK, health("ready", None)),
        Ok(Ok(false)) => not_ready("database migrations are not current; run `missive migrate`"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            match e.unavailable() {
                Some(Unavailable::Full) => {
                    not_ready("the database's disk is full: nothing new can be stored")
                }
                _ => not_ready("the database does not answer"),
            }
        }
        Err(_) => {
            tracing::warn!("readiness check failed: the database did not answer within 1 s");
            not_ready("the database does not answer")
        }
    }
}
