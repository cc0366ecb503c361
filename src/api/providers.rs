//! `GET /v1/providers` (scope `read`): every channel's providers in
//! failover order with their circuit-breaker state: a pause or an open
//! breaker shared by every process on the database, else this process's
//! own breaker.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::ApiResult;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/providers", get(list))
}

async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require("read")?;
    // The shared state as it is now, not as last refreshed.
    if let Err(e) = state.providers.refresh().await {
        tracing::warn!(error = %e, "reading providers' shared state failed");
    }
    let mut items: Vec<_> = state.channels.all().flat_map(|c| c.providers()).collect();
    items.sort_by(|a, b| a.channel.cmp(&b.channel));
    Ok(Json(json!({"items": items})))
}
