//! `GET /v1/providers` (scope `read`): every channel's providers in
//! failover order with their circuit-breaker state: a pause or an open
//! breaker shared by every process on the database, else this process's
//! own breaker.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::ApiResult;
use super::openapi::AuthErrors;
use super::AppState;
use crate::channels::failover::ProviderStatus;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// Every channel's providers, in failover order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    pub items: Vec<ProviderStatus>,
}

/// List providers.
///
/// Scope `read`. Every channel's providers in failover order with their
/// circuit-breaker state, as this process sees them.
#[utoipa::path(
    get,
    path = "/v1/providers",
    operation_id = "list_providers",
    tag = "providers",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The providers", body = ProviderList),
        AuthErrors
    )
)]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ProviderList>> {
    caller.require(Permission::ReadDeliveries)?;
    // The shared state as it is now, not as last refreshed.
    if let Err(e) = state.providers.refresh().await {
        tracing::warn!(error = %e, "reading providers' shared state failed");
    }
    let mut items: Vec<_> = state.channels.all().flat_map(|c| c.providers()).collect();
    items.sort_by(|a, b| a.channel.cmp(&b.channel));
    Ok(Json(ProviderList { items }))
}
