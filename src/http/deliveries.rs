//! The delivery log: list with filters (newest first, cursor pagination),
//! one delivery with its content and attempts, retry and cancel.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::{ApiError, ApiResult};
use super::openapi::{AuthErrors, Conflict, Invalid, NotFound};
use super::AppState;
use crate::domain::{Priority, Status};
use crate::service::deliveries::ListQuery;
use crate::store::receipts::ReceiptRow;
use crate::store::{AttemptRow, DeliveryRow, Transition};
use crate::util::{opt_rfc3339, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(retry_dead_letters))
        .routes(routes!(show))
        .routes(routes!(retry))
        .routes(routes!(cancel))
}

/// What every view of a delivery shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryFields {
    pub id: String,
    pub notification_id: String,
    /// The template's key; none for inline content.
    pub template: Option<String>,
    /// The recipient's id, else its address.
    pub recipient: String,
    /// `email`, `sms`, `webhook`, `in_app` or `chat`.
    pub channel: String,
    pub category: String,
    /// Where it goes; a chat address's webhook URL shows its host only.
    pub address: String,
    /// `queued`, `scheduled`, `sending`, `retrying`, `sent`, `failed`,
    /// `cancelled` or `suppressed`; after `sent`, a provider's receipt may
    /// move it on to `delivered`, `undelivered`, `bounced` or `complained`.
    pub status: String,
    /// Why it was suppressed, failed or cancelled.
    pub reason: Option<String>,
    /// `high`, `normal` or `low`.
    pub priority: &'static str,
    /// RFC 3339, while the delivery waits.
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    /// The provider of the last attempt.
    pub provider: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&DeliveryRow> for DeliveryFields {
    fn from(d: &DeliveryRow) -> Self {
        let waiting = Status::parse(&d.status).is_ok_and(Status::is_pending);
        DeliveryFields {
            id: d.id.clone(),
            notification_id: d.notification_id.clone(),
            template: d.template_key.clone(),
            recipient: d.recipient.clone(),
            channel: d.channel.clone(),
            category: d.category.clone(),
            address: crate::domain::chat::shown(&d.channel, &d.address),
            status: d.status.clone(),
            reason: d.reason.clone(),
            priority: Priority::from_rank(d.priority).as_str(),
            next_attempt_at: if waiting { opt_rfc3339(d.due_at) } else { None },
            last_error: d.last_error.clone(),
            provider: d.provider.clone(),
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
        }
    }
}

/// A delivery as lists show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    #[serde(flatten)]
    pub fields: DeliveryFields,
    /// How many attempts were made.
    pub attempts: i64,
}

impl From<&DeliveryRow> for Delivery {
    fn from(d: &DeliveryRow) -> Self {
        Delivery {
            fields: d.into(),
            attempts: d.attempts,
        }
    }
}

/// One attempt at sending a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attempt {
    /// 1, 2, ...
    pub number: i64,
    pub provider: String,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: i64,
    /// `sent`, `transient` or `permanent`.
    pub outcome: String,
    /// The provider's HTTP (or SMTP) status code.
    pub status_code: Option<i64>,
    /// The start of the provider's answer.
    pub response: Option<String>,
    pub error: Option<String>,
}

impl From<&AttemptRow> for Attempt {
    fn from(a: &AttemptRow) -> Self {
        Attempt {
            number: a.number,
            provider: a.provider.clone(),
            started_at: rfc3339(a.started_at),
            duration_ms: a.duration_ms,
            outcome: a.outcome.clone(),
            status_code: a.status_code,
            response: a.response.clone(),
            error: a.error.clone(),
        }
    }
}

/// A delivery with its rendered content and every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub fields: DeliveryFields,
    /// The rendered parts (e.g. `subject`, `html`, `text`).
    #[schema(value_type = Object)]
    pub content: Value,
    /// The recipient as the send gave it, with its profile's settings.
    #[schema(value_type = Object)]
    pub recipient_data: Value,
    pub attempt_count: i64,
    pub attempts: Vec<Attempt>,
    /// What providers reported after taking it, in the order received.
    pub receipts: Vec<Receipt>,
}

/// A provider's report on a delivery it took (README, "Receipts").
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    /// `twilio`, `sendgrid` or `postmark`.
    pub source: String,
    /// The provider's word: `delivered`, `bounce`, `HardBounce`, ...
    pub event: String,
    /// The status it means (`delivered`, `undelivered`, `bounced`,
    /// `complained`); none when it is recorded only.
    pub status: Option<String>,
    /// Whether it moved the delivery to that status (a late or repeated
    /// receipt moves nothing).
    pub moved: bool,
    /// The provider's words.
    pub detail: String,
    /// RFC 3339.
    pub received_at: String,
}

impl From<&ReceiptRow> for Receipt {
    fn from(r: &ReceiptRow) -> Self {
        Receipt {
            source: r.source.clone(),
            event: r.event.clone(),
            status: r.status.clone(),
            moved: r.moved != 0,
            detail: r.detail.clone(),
            received_at: rfc3339(r.received_at),
        }
    }
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    /// Give as `cursor` for the next page; none on the last page.
    pub next_cursor: Option<String>,
}

/// How many failed deliveries went back to the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct Requeued {
    pub requeued: u64,
}

/// `{id}` in a delivery's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct IdParam {
    /// The delivery's id.
    id: String,
}

/// List deliveries.
///
/// Scope `read`. The delivery log, newest first, with cursor pagination.
#[utoipa::path(
    get,
    path = "/v1/deliveries",
    operation_id = "list_deliveries",
    tag = "deliveries",
    security(("api_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        AuthErrors, Invalid
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<DeliveryPage>> {
    caller.require(Permission::ReadDeliveries)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let (filter, limit) = q.filter()?;
    let rows = state
        .store
        .list_deliveries(&filter, q.cursor.as_deref(), limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    let items = rows
        .iter()
        .take(limit as usize)
        .map(Delivery::from)
        .collect();
    let next = if more {
        rows.get(limit as usize - 1).map(|d| d.id.clone())
    } else {
        None
    };
    Ok(Json(DeliveryPage {
        items,
        next_cursor: next,
    }))
}

/// Show a delivery.
///
/// Scope `read`. The delivery with its rendered content and attempts.
#[utoipa::path(
    get,
    path = "/v1/deliveries/{id}",
    operation_id = "get_delivery",
    tag = "deliveries",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "The delivery", body = DeliveryDetail),
        AuthErrors, NotFound
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryDetail>> {
    caller.require(Permission::ReadDeliveries)?;
    let d = state
        .store
        .get_delivery(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no delivery {id}")))?;
    let attempts = state.store.attempts_of(&id).await?;
    let receipts = state.store.receipts_of(&id).await?;
    Ok(Json(DeliveryDetail {
        fields: (&d).into(),
        content: serde_json::from_str(&d.content).unwrap_or(Value::Null),
        recipient_data: crate::domain::chat::shown_recipient(&d.recipient_data),
        attempt_count: d.attempts,
        attempts: attempts.iter().map(Attempt::from).collect(),
        receipts: receipts.iter().map(Receipt::from).collect(),
    }))
}

fn transition(id: &str, t: Transition, action: &str, allowed: &str) -> ApiResult<Json<Delivery>> {
    match t {
        Transition::Done(d) => Ok(Json(Delivery::from(d.as_ref()))),
        Transition::NotFound => Err(ApiError::NotFound(format!("there is no delivery {id}"))),
        Transition::WrongStatus(s) => Err(ApiError::Conflict(format!(
            "delivery {id} is {s}; only {allowed} deliveries can be {action}"
        ))),
    }
}

/// Retry a failed delivery.
///
/// Scope `admin`. Only a failed delivery can be retried; it goes back to
/// the queue with a new retry cycle, and the retry is written in its
/// attempt log (provider `operator`, outcome `requeued`).
#[utoipa::path(
    post,
    path = "/v1/deliveries/{id}/retry",
    operation_id = "retry_delivery",
    tag = "deliveries",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "The delivery, queued again", body = Delivery),
        AuthErrors, NotFound, Conflict
    )
)]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    caller.require(Permission::Operate)?;
    let note = format!(
        "re-queued by POST /v1/deliveries/{{id}}/retry (API key {})",
        caller.key_id
    );
    let t = state.retry_delivery(&id, &note).await?;
    transition(&id, t, "retried", "failed")
}

/// Retry failed deliveries.
///
/// Scope `admin`. Replays the dead-letter set: every failed delivery
/// matching the list's filters goes back to the queue (`status` may be left
/// out or `failed`).
#[utoipa::path(
    post,
    path = "/v1/deliveries/retry",
    operation_id = "retry_failed_deliveries",
    tag = "deliveries",
    security(("api_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "How many deliveries were queued again", body = Requeued),
        AuthErrors, Invalid
    )
)]
async fn retry_dead_letters(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Requeued>> {
    caller.require(Permission::Operate)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    if q.status
        .as_deref()
        .is_some_and(|s| s != Status::Failed.as_str())
    {
        return Err(ApiError::invalid(
            "status",
            "only failed deliveries can be retried; leave it out or use failed",
        ));
    }
    let (filter, _) = q.filter()?;
    let note = format!(
        "re-queued by POST /v1/deliveries/retry (API key {})",
        caller.key_id
    );
    let n = state.replay_failed(&filter, &note).await?;
    Ok(Json(Requeued { requeued: n }))
}

/// Cancel a delivery.
///
/// Scope `admin`. Only a queued, scheduled or retrying delivery can be
/// cancelled.
#[utoipa::path(
    post,
    path = "/v1/deliveries/{id}/cancel",
    operation_id = "cancel_delivery",
    tag = "deliveries",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "The cancelled delivery", body = Delivery),
        AuthErrors, NotFound, Conflict
    )
)]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    caller.require(Permission::Operate)?;
    let t = state.cancel_delivery(&id).await?;
    transition(&id, t, "cancelled", "queued, scheduled or retrying")
}
