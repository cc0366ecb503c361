//! Endpoints that hear of deliveries' statuses: `POST/GET /v1/endpoints`,
//! `GET/PATCH/DELETE /v1/endpoints/{id}`, `POST
//! /v1/endpoints/{id}/rotate-secret`, the endpoint's messages and attempt
//! log, and `POST /v1/endpoints/{id}/replay`. Reading needs `read`;
//! changing needs `admin` (an endpoint receives every recipient's
//! statuses). A secret is shown once, in the answer that makes it; other
//! answers show its first characters only.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::{ApiError, ApiResult};
use super::json::JsonBody;
use super::openapi::{AuthErrors, BodyErrors, Conflict, Invalid, NotFound};
use super::AppState;
use crate::service::endpoints::{
    secret_prefix, types_of, EndpointChange, NewEndpoint, Replay, Rotation,
};
use crate::store::events::{EndpointAttemptRow, EndpointRow, MessageRow};
use crate::util::{opt_rfc3339, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, change, remove))
        .routes(routes!(rotate))
        .routes(routes!(messages))
        .routes(routes!(attempts))
        .routes(routes!(replay))
}

/// A registered endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub description: String,
    /// The event types it receives; `null`: every type.
    pub event_types: Option<Vec<String>>,
    pub enabled: bool,
    /// Why it is disabled, when it is.
    pub disabled_reason: Option<String>,
    /// The start of its signing secret, e.g. `whsec_MfKQ…`.
    pub secret_prefix: String,
    /// Until when (RFC 3339) the previous secret still signs beside it.
    pub previous_secret_until: Option<String>,
    /// Since when (RFC 3339) every attempt has failed; `null` while it
    /// succeeds.
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Endpoint {
    fn of(e: &EndpointRow) -> Endpoint {
        let now = crate::util::now_ms();
        Endpoint {
            id: e.id.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: types_of(e),
            enabled: e.enabled == 1,
            disabled_reason: e.disabled_reason.clone(),
            secret_prefix: secret_prefix(&e.secret),
            previous_secret_until: e.previous_secret_until.filter(|u| *u > now).map(rfc3339),
            failing_since: opt_rfc3339(e.failing_since),
            created_at: rfc3339(e.created_at),
            updated_at: rfc3339(e.updated_at),
        }
    }
}

/// An endpoint with its secret: the answer that makes one.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// The signing secret, shown only in this answer.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub items: Vec<Endpoint>,
}

/// One event for one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    /// The event's id: its `webhook-id`, the same on every attempt.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub delivery_id: Option<String>,
    pub notification_id: Option<String>,
    /// `pending`, `sending`, `succeeded` or `failed`.
    pub state: String,
    pub attempts: i64,
    /// When it is tried next (RFC 3339), while pending.
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    /// The body as it is sent.
    pub payload: serde_json::Value,
}

impl From<MessageRow> for Message {
    fn from(m: MessageRow) -> Self {
        let payload = serde_json::from_str(&crate::dispatch::events::body(&m))
            .unwrap_or(serde_json::Value::Null);
        Message {
            next_attempt_at: (m.state == "pending")
                .then_some(m.due_at)
                .flatten()
                .map(rfc3339),
            payload,
            id: m.id,
            kind: m.kind,
            delivery_id: m.delivery_id,
            notification_id: m.notification_id,
            state: m.state,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: rfc3339(m.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<Message>,
    /// Give as `cursor` for the next page; none on the last page.
    pub next_cursor: Option<String>,
}

/// One line of an endpoint's attempt log.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attempt {
    pub id: String,
    pub message_id: String,
    /// The message's attempt number (0 for a line that is not an attempt).
    pub number: i64,
    pub started_at: String,
    pub duration_ms: i64,
    /// `ok`, `failed`, or `disabled` (the endpoint was disabled for
    /// failing).
    pub outcome: String,
    pub status_code: Option<i64>,
    /// The start of the endpoint's answer (at most 4 KiB).
    pub response: Option<String>,
    pub error: Option<String>,
}

impl From<EndpointAttemptRow> for Attempt {
    fn from(a: EndpointAttemptRow) -> Self {
        Attempt {
            started_at: rfc3339(a.started_at),
            id: a.id,
            message_id: a.message_id,
            number: a.number,
            duration_ms: a.duration_ms,
            outcome: a.outcome,
            status_code: a.status_code,
            response: a.response,
            error: a.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptPage {
    pub items: Vec<Attempt>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// Messages queued to be sent again.
    pub replayed: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `pending`, `sending`, `succeeded` or `failed` (messages only).
    pub state: Option<String>,
    /// One message's attempts (attempts only).
    pub message_id: Option<String>,
    /// 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `{id}` in an endpoint's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct IdParam {
    /// The endpoint's id.
    id: String,
}

fn limit(q: &PageQuery) -> ApiResult<i64> {
    match q.limit.as_deref() {
        None => Ok(50),
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid("limit", "must be a number from 1 to 500")),
        },
    }
}

/// List endpoints.
///
/// Scope `read`. Oldest first; secrets are shown by their first characters.
#[utoipa::path(
    get,
    path = "/v1/endpoints",
    operation_id = "list_endpoints",
    tag = "endpoints",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every endpoint", body = EndpointList),
        AuthErrors
    )
)]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<EndpointList>> {
    caller.require(Permission::ReadEndpoints)?;
    let rows = state.endpoints().await?;
    Ok(Json(EndpointList {
        items: rows.iter().map(Endpoint::of).collect(),
    }))
}

/// Register an endpoint.
///
/// Scope `admin`. Status events of the types it names (every type when
/// none are named) are POSTed to it, signed with Standard Webhooks
/// (`webhook-id`, `webhook-timestamp`, `webhook-signature`) under its own
/// secret, which this answer shows once.
#[utoipa::path(
    post,
    path = "/v1/endpoints",
    operation_id = "create_endpoint",
    tag = "endpoints",
    security(("api_key" = [])),
    request_body = NewEndpoint,
    responses(
        (status = 201, description = "Registered; `secret` is shown only here", body = EndpointWithSecret),
        AuthErrors, BodyErrors, Conflict
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<NewEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    caller.require(Permission::ManageEndpoints)?;
    let (row, secret) = state.create_endpoint(body.value).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret {
            endpoint: Endpoint::of(&row),
            secret,
        }),
    ))
}

/// Show an endpoint.
///
/// Scope `read`.
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}",
    operation_id = "get_endpoint",
    tag = "endpoints",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "The endpoint", body = Endpoint),
        AuthErrors, NotFound
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Endpoint>> {
    caller.require(Permission::ReadEndpoints)?;
    Ok(Json(Endpoint::of(&state.endpoint(&id).await?)))
}

/// Change an endpoint.
///
/// Scope `admin`. What the body gives replaces what was; enabling a
/// disabled endpoint starts its failing period afresh.
#[utoipa::path(
    patch,
    path = "/v1/endpoints/{id}",
    operation_id = "change_endpoint",
    tag = "endpoints",
    security(("api_key" = [])),
    params(IdParam),
    request_body = EndpointChange,
    responses(
        (status = 200, description = "The changed endpoint", body = Endpoint),
        AuthErrors, BodyErrors, NotFound
    )
)]
async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<EndpointChange>,
) -> ApiResult<Json<Endpoint>> {
    caller.require(Permission::ManageEndpoints)?;
    Ok(Json(Endpoint::of(
        &state.change_endpoint(&id, body.value).await?,
    )))
}

/// Delete an endpoint.
///
/// Scope `admin`. Its messages and attempt log go with it.
#[utoipa::path(
    delete,
    path = "/v1/endpoints/{id}",
    operation_id = "delete_endpoint",
    tag = "endpoints",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 204, description = "Deleted"),
        AuthErrors, NotFound
    )
)]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::ManageEndpoints)?;
    state.delete_endpoint(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate an endpoint's secret.
///
/// Scope `admin`. The new secret (given, or random) signs from now on; the
/// previous one still signs beside it (a second `v1,` signature) for
/// `events.secret_grace`, so the receiver can switch without losing events.
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/rotate-secret",
    operation_id = "rotate_endpoint_secret",
    tag = "endpoints",
    security(("api_key" = [])),
    params(IdParam),
    request_body(content = Option<Rotation>),
    responses(
        (status = 200, description = "Rotated; `secret` is shown only here", body = EndpointWithSecret),
        AuthErrors, BodyErrors, NotFound
    )
)]
async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<EndpointWithSecret>> {
    caller.require(Permission::ManageEndpoints)?;
    // The body may be left out: a random secret.
    let body: Rotation = if body.iter().all(u8::is_ascii_whitespace) {
        Rotation::default()
    } else {
        let mut de = serde_json::Deserializer::from_slice(&body);
        serde_path_to_error::deserialize(&mut de)
            .map_err(|e| ApiError::Invalid(vec![super::json::field_error(e)]))?
    };
    let (row, secret) = state.rotate_endpoint_secret(&id, body).await?;
    Ok(Json(EndpointWithSecret {
        endpoint: Endpoint::of(&row),
        secret,
    }))
}

/// List an endpoint's messages.
///
/// Scope `read`. Newest first, with each message's state and body.
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}/messages",
    operation_id = "list_endpoint_messages",
    tag = "endpoints",
    security(("api_key" = [])),
    params(IdParam, PageQuery),
    responses(
        (status = 200, description = "A page of messages", body = MessagePage),
        AuthErrors, NotFound, Invalid
    )
)]
async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<MessagePage>> {
    caller.require(Permission::ReadEndpoints)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = limit(&q)?;
    let rows = state
        .endpoint_messages(&id, q.state.as_deref(), q.cursor.clone(), limit + 1)
        .await?;
    let next_cursor = (rows.len() as i64 > limit)
        .then(|| rows.get(limit as usize - 1).map(|m| m.id.clone()))
        .flatten();
    Ok(Json(MessagePage {
        items: rows
            .into_iter()
            .take(limit as usize)
            .map(Message::from)
            .collect(),
        next_cursor,
    }))
}

/// List an endpoint's attempts.
///
/// Scope `read`. Newest first: each attempt with the endpoint's status
/// code, answer and error, and a `disabled` line when the endpoint was
/// disabled for failing.
#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}/attempts",
    operation_id = "list_endpoint_attempts",
    tag = "endpoints",
    security(("api_key" = [])),
    params(IdParam, PageQuery),
    responses(
        (status = 200, description = "A page of attempts", body = AttemptPage),
        AuthErrors, NotFound, Invalid
    )
)]
async fn attempts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<AttemptPage>> {
    caller.require(Permission::ReadEndpoints)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = limit(&q)?;
    let rows = state
        .endpoint_attempts(&id, q.message_id.as_deref(), q.cursor.as_deref(), limit + 1)
        .await?;
    let next_cursor = (rows.len() as i64 > limit)
        .then(|| rows.get(limit as usize - 1).map(|a| a.id.clone()))
        .flatten();
    Ok(Json(AttemptPage {
        items: rows
            .into_iter()
            .take(limit as usize)
            .map(Attempt::from)
            .collect(),
        next_cursor,
    }))
}

/// Send messages again.
///
/// Scope `admin`. `message_id`: that message, whatever became of it (409
/// while it is still waiting to be sent). `since`: every failed message
/// created then or later, e.g. after the endpoint was down.
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/replay",
    operation_id = "replay_endpoint",
    tag = "endpoints",
    security(("api_key" = [])),
    params(IdParam),
    request_body = Replay,
    responses(
        (status = 202, description = "Queued to be sent again", body = Replayed),
        AuthErrors, BodyErrors, NotFound, Conflict
    )
)]
async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<Replay>,
) -> ApiResult<(StatusCode, Json<Replayed>)> {
    caller.require(Permission::ManageEndpoints)?;
    let replayed = state.replay_endpoint(&id, body.value).await?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed })))
}
