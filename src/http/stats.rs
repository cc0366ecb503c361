//! `GET /v1/stats` (scope `read`): delivery statistics per template,
//! channel or provider over a window, from the per-minute statistics the
//! writer keeps (docs/decisions/0033-delivery-statistics.md).

use axum::extract::{Query, State};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::{ApiError, ApiResult};
use super::openapi::{AuthErrors, Invalid};
use super::AppState;
use crate::service::delivery_stats::{StatsQuery, StatsReport};
use crate::util::now_ms;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stats))
}

/// Delivery statistics.
///
/// Scope `read`. Per template, channel or provider over a window: counts
/// by status, failure rate, suppression reasons, p50/p95 accepted-to-sent
/// time and a series per minute (1 hour), hour (up to 8 days) or day.
#[utoipa::path(
    get,
    path = "/v1/stats",
    operation_id = "get_stats",
    tag = "deliveries",
    security(("api_key" = [])),
    params(StatsQuery),
    responses(
        (status = 200, description = "The statistics", body = StatsReport),
        AuthErrors, Invalid
    )
)]
async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<StatsReport>> {
    caller.require(Permission::ReadDeliveries)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let w = q.window(now_ms())?;
    Ok(Json(state.delivery_stats(&w).await?))
}
