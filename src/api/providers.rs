//! `GET /v1/providers` (scope `read`): every channel's providers in
//! failover order with their circuit-breaker state, as this process sees
//! them (breakers are kept per process).

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
    let mut items: Vec<_> = state.channels.all().flat_map(|c| c.providers()).collect();
    items.sort_by(|a, b| a.channel.cmp(&b.channel));
    Ok(Json(json!({"items": items})))
}
