//! `POST /v1/notifications` (scope `send`) and `GET /v1/notifications/{id}`
//! (scope `read`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::auth::Caller;
use super::deliveries::delivery_json;
use super::error::{ApiError, ApiResult};
use super::json::JsonBody;
use super::AppState;
use crate::accept::{SendRequest, Sender};
use crate::util::{opt_rfc3339, rfc3339};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/notifications", post(send))
        .route("/v1/notifications/{id}", get(show))
        .route("/v1/notifications/{id}/cancel", post(cancel))
}

pub fn sender(state: &AppState) -> Sender<'_> {
    Sender {
        store: state.store.as_ref(),
        renderer: &state.renderer,
        enabled: &state.enabled_channels,
        idempotency_ttl_ms: state.config.maintenance.idempotency_ttl.as_millis() as i64,
        dedup_window_ms: state.config.flow.dedup_window.as_millis() as i64,
        caps: &state.config.flow.frequency_caps,
        default_quiet_hours: state.config.flow.quiet_hours.as_ref(),
    }
}

async fn send(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<SendRequest>,
) -> ApiResult<Response> {
    caller.require("send")?;
    let idem_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v
                .to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key", "must be printable ASCII"))?;
            if k.is_empty() || k.len() > 255 {
                return Err(ApiError::invalid(
                    "Idempotency-Key",
                    "must be 1 to 255 characters",
                ));
            }
            Some(k.to_string())
        }
    };
    let idem = idem_key
        .as_deref()
        .map(|k| (caller.key_id.as_str(), k, body.hash.as_str()));
    let answer = sender(&state)
        .send(body.value, Some(&caller.key_id), idem)
        .await?;
    if !answer.replayed {
        state.wake.notify_one();
    }
    state.metrics.accepted(answer.replayed, &answer.suppressed);
    let mut resp = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::ACCEPTED),
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        answer.body,
    )
        .into_response();
    if answer.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// Cancels every delivery of the notification that has not started sending.
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require("send")?;
    if state.store.get_notification(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("there is no notification {id}")));
    }
    let channels = state
        .store
        .cancel_notification_channels(&id, crate::util::now_ms())
        .await?;
    for c in &channels {
        state.metrics.cancelled(c, 1);
    }
    Ok(Json(json!({"cancelled": channels.len()})))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require("read")?;
    let n = state
        .store
        .get_notification(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no notification {id}")))?;
    let deliveries = state.store.deliveries_of(&id).await?;
    Ok(Json(json!({
        "id": n.id,
        "template": n.template_key,
        "template_version": n.template_version,
        "data": serde_json::from_str::<serde_json::Value>(&n.data).unwrap_or_default(),
        "category": n.category,
        "priority": n.priority,
        "locale": n.locale,
        "dedup_key": n.dedup_key,
        "send_at": opt_rfc3339(n.send_at),
        "created_at": rfc3339(n.created_at),
        "deliveries": deliveries.iter().map(|d| delivery_json(d, false)).collect::<Vec<_>>(),
    })))
}
