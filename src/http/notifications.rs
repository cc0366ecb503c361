//! `POST /v1/notifications` (scope `send`) and `GET /v1/notifications/{id}`
//! (scope `read`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::deliveries::Delivery;
use super::error::{ApiError, ApiResult};
use super::json::JsonBody;
use super::openapi::{AuthErrors, BodyErrors, Conflict, NotFound};
use super::AppState;
use crate::service::send::{Accepted, SendRequest};
use crate::service::topics::{Fanout, FANOUT_CHANNEL};
use crate::util::{opt_rfc3339, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send))
        .routes(routes!(show))
        .routes(routes!(cancel))
}

/// A notification with its deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Notification {
    pub id: String,
    /// The template's key; none for inline content.
    pub template: Option<String>,
    pub template_version: Option<i64>,
    /// The data the template was rendered with.
    #[schema(value_type = Object)]
    pub data: Value,
    pub category: String,
    pub priority: String,
    pub locale: Option<String>,
    pub dedup_key: Option<String>,
    /// RFC 3339.
    pub send_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The workflow it triggered, and the version its runs follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_key: Option<String>,
    /// The workflow run whose step sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_run: Option<String>,
    /// Its deliveries; for a send to a topic, 1,000 of them (the
    /// delivery log's `notification=` filter pages through them all).
    pub deliveries: Vec<Delivery>,
    /// For a send to a topic: how far its fan-out has come.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanout: Option<Fanout>,
    /// For a workflow: each recipient's run (the first 100) with its
    /// steps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Run>,
}

/// One recipient's run through a workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct Run {
    /// The run's id (its row in the queue).
    pub id: String,
    pub recipient: String,
    /// `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// Why a run failed.
    pub error: Option<String>,
    pub steps: Vec<RunStep>,
}

/// One step of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunStep {
    pub id: String,
    /// `send`, `delay` or `digest`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What the step does, in a few words.
    pub summary: String,
    /// `pending` (not reached yet), `waiting` (a delay, or a delivery's
    /// outcome), `done`, `skipped` (its condition, in `detail`), `failed`
    /// (why, in `detail`), `cancelled`, or `not run` (the run ended
    /// first).
    pub state: String,
    /// RFC 3339: when the run looks at this step next.
    pub due_at: Option<String>,
    pub detail: Option<String>,
    /// The notification a send step made.
    pub notification_id: Option<String>,
    /// Its deliveries.
    pub deliveries: Vec<Delivery>,
}

/// `{id}` in a notification's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct IdParam {
    /// The notification's id.
    id: String,
}

/// How many deliveries a cancel stopped.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cancelled {
    pub cancelled: u64,
}

/// Send a notification.
///
/// Scope `send`. Renders the template for every recipient and channel and
/// queues the deliveries; answers once they are committed. A request with
/// an `Idempotency-Key` that was seen before (from the same API key) queues
/// nothing and gets the first answer's notification and deliveries again,
/// with `Idempotent-Replayed: true`, `"replayed": true` and each delivery's
/// status as it is now.
///
/// Each `to` entry with an `id` must name a stored recipient
/// (`PUT /v1/recipients/{id}`) unless it gives an address inline, or the
/// send is for the in-app inbox (`in_app` named in `channels`, or the only
/// channel the template has), which needs only the id. In-app
/// `action_url`s must render to an `http(s)://` URL or a path starting with
/// a single `/`; an email subject must render without control characters.
#[utoipa::path(
    post,
    path = "/v1/notifications",
    operation_id = "send_notification",
    tag = "notifications",
    security(("api_key" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 printable ASCII characters; a retry with the same key and body is answered once"),
        ("traceparent" = Option<String>, Header, description = "W3C trace context: when tracing is exported, the accepting span and every delivery attempt join this trace (an invalid value is ignored)")
    ),
    request_body = SendRequest,
    responses(
        (status = 202, description = "Accepted: the notification and its deliveries", body = Accepted,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answer replays an earlier request's"))),
        AuthErrors, BodyErrors, Conflict
    )
)]
async fn send(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<SendRequest>,
) -> ApiResult<Response> {
    caller.require(Permission::Send)?;
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
    let idem = idem_key.as_deref().map(|k| {
        (
            caller.key_id.as_str(),
            k,
            body.hash.as_deref().unwrap_or_default(),
        )
    });
    let answer = state
        .send(body.value, Some(&caller.key_id), idem)
        .instrument(accept_span(&headers))
        .await?;
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

/// The span a send is accepted in, a child of the request's
/// `traceparent` when there is a valid one; none unless tracing is
/// exported (so log lines are unchanged without it).
fn accept_span(headers: &HeaderMap) -> tracing::Span {
    if !crate::telemetry::enabled() {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "accept",
        otel.kind = "server",
        notification_id = tracing::field::Empty
    );
    let parent = headers
        .get(crate::telemetry::TRACEPARENT)
        .and_then(|v| v.to_str().ok());
    crate::telemetry::set_parent(&span, parent);
    span
}

/// Cancel a notification.
///
/// Scope `send`. Cancels every delivery of the notification that has not
/// started sending; for a workflow, its runs' pending steps too, and what
/// their steps sent that has not started sending; for a send to a topic,
/// its fan-out too (no subscriber not yet reached gets anything).
#[utoipa::path(
    post,
    path = "/v1/notifications/{id}/cancel",
    operation_id = "cancel_notification",
    tag = "notifications",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "How many deliveries were cancelled", body = Cancelled),
        AuthErrors, NotFound
    )
)]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Cancelled>> {
    caller.require(Permission::Send)?;
    let cancelled = state.cancel_notification(&id).await?;
    Ok(Json(Cancelled { cancelled }))
}

/// Show a notification.
///
/// Scope `read`. The notification with all its deliveries.
#[utoipa::path(
    get,
    path = "/v1/notifications/{id}",
    operation_id = "get_notification",
    tag = "notifications",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "The notification", body = Notification),
        AuthErrors, NotFound
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Notification>> {
    caller.require(Permission::ReadDeliveries)?;
    let n = state
        .store
        .get_notification(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no notification {id}")))?;
    // A send to a topic has a fan-out row whose id is the notification's,
    // and may have a million deliveries: 1,000 of them are shown.
    let fanout = state
        .store
        .get_delivery(&id)
        .await?
        .filter(|d| d.channel == FANOUT_CHANNEL);
    let rows = match &fanout {
        Some(_) => state.store.first_deliveries(&id, 1_001).await?,
        None => state.store.deliveries_of(&id).await?,
    };
    let runs = state
        .runs_of(&n, &rows)
        .await?
        .into_iter()
        .map(|r| Run {
            id: r.row.id,
            recipient: r.row.recipient,
            status: crate::service::workflows::run_status(&r.row.status).to_string(),
            error: r.row.last_error,
            steps: r
                .steps
                .into_iter()
                .map(|s| RunStep {
                    id: s.id,
                    kind: s.kind.to_string(),
                    summary: s.summary,
                    state: s.state,
                    due_at: opt_rfc3339(s.due_at),
                    detail: s.detail,
                    notification_id: s.notification_id,
                    deliveries: s.deliveries.iter().map(Delivery::from).collect(),
                })
                .collect(),
        })
        .collect();
    let deliveries = rows
        .iter()
        .filter(|d| {
            d.channel != crate::domain::workflow::RUN_CHANNEL && d.channel != FANOUT_CHANNEL
        })
        .take(1_000)
        .map(Delivery::from)
        .collect();
    Ok(Json(Notification {
        id: n.id,
        template: n.template_key,
        template_version: n.template_version,
        data: serde_json::from_str(&n.data).unwrap_or_default(),
        category: n.category,
        priority: n.priority,
        locale: n.locale,
        dedup_key: n.dedup_key,
        send_at: opt_rfc3339(n.send_at),
        created_at: rfc3339(n.created_at),
        workflow: n.workflow_key,
        workflow_version: n.workflow_version,
        cancel_key: n.cancel_key,
        parent_run: n.parent_run,
        deliveries,
        fanout: fanout.as_ref().map(Fanout::of),
        runs,
    }))
}
