//! Recurring schedules: `PUT /v1/schedules/{id}` (scope `send`), list,
//! show, pause, resume and delete, each with when it fires next.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::ApiResult;
use super::json::{put_answer, JsonBody};
use super::openapi::{AuthErrors, BodyErrors, NotFound};
use super::AppState;
use crate::service::schedules::PutSchedule;
use crate::store::schedules::{ScheduleRow, TargetRow};
use crate::util::{opt_rfc3339, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, put, delete))
        .routes(routes!(pause))
        .routes(routes!(resume))
}

/// A recurring schedule and when it fires next.
#[derive(Debug, Serialize, ToSchema)]
pub struct Schedule {
    pub id: String,
    pub workflow: String,
    /// The recipients, as given.
    #[schema(value_type = Vec<Object>)]
    pub to: Value,
    #[schema(value_type = Object)]
    pub data: Value,
    /// As given: `daily HH:MM`, `weekly <day> HH:MM` or a cron expression.
    pub schedule: String,
    /// An IANA timezone, or `recipient`.
    pub timezone: String,
    pub paused: bool,
    /// RFC 3339: the next firing (the earliest of its timezones); none
    /// while paused.
    pub next_fire_at: Option<String>,
    /// When it fires in each timezone its recipients are in (one, unless
    /// `timezone` is `recipient`).
    pub targets: Vec<ScheduleTarget>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// A schedule's firings in one timezone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleTarget {
    pub timezone: String,
    /// How many of the recipients are in it.
    pub recipients: usize,
    /// RFC 3339.
    pub next_fire_at: String,
    /// RFC 3339.
    pub last_fired_at: Option<String>,
    /// The notification the last firing made.
    pub last_notification: Option<String>,
    /// Why the last firing could not trigger the workflow.
    pub last_error: Option<String>,
}

/// Every schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    pub items: Vec<Schedule>,
}

/// `{id}` in a schedule's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct IdParam {
    /// The schedule's id: 1 to 100 letters, digits, `-`, `_` or `.`.
    id: String,
}

pub fn view(s: ScheduleRow, targets: Vec<TargetRow>) -> Schedule {
    let paused = s.paused_at.is_some();
    let next = targets.iter().map(|t| t.next_fire_at).min();
    Schedule {
        to: serde_json::from_str(&s.recipients).unwrap_or_default(),
        data: serde_json::from_str(&s.data).unwrap_or_default(),
        id: s.id,
        workflow: s.workflow_key,
        schedule: s.schedule,
        timezone: s.timezone,
        paused,
        next_fire_at: if paused { None } else { next.map(rfc3339) },
        targets: targets
            .into_iter()
            .map(|t| ScheduleTarget {
                recipients: serde_json::from_str::<Vec<Value>>(&t.recipients)
                    .map(|v| v.len())
                    .unwrap_or(0),
                timezone: t.timezone,
                next_fire_at: rfc3339(t.next_fire_at),
                last_fired_at: opt_rfc3339(t.last_fired_at),
                last_notification: t.last_notification,
                last_error: t.last_error,
            })
            .collect(),
        created_at: rfc3339(s.created_at),
        updated_at: rfc3339(s.updated_at),
    }
}

/// Create or replace a recurring schedule.
///
/// Scope `send`. Triggers `workflow` for `to` with `data` whenever
/// `schedule` matches, in `timezone` (or each recipient's, with
/// `recipient`). Times missed while missive was not running fire once when
/// it starts again. Replacing a paused schedule keeps it paused.
#[utoipa::path(
    put,
    path = "/v1/schedules/{id}",
    operation_id = "put_schedule",
    tag = "schedules",
    security(("api_key" = [])),
    params(IdParam),
    request_body = PutSchedule,
    responses(
        (status = 201, description = "Created", body = Schedule),
        (status = 200, description = "Replaced", body = Schedule),
        AuthErrors, BodyErrors
    )
)]
async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<PutSchedule>,
) -> ApiResult<(StatusCode, Json<Schedule>)> {
    caller.require(Permission::Send)?;
    let (s, targets, created) = state.save_schedule(&id, body.value).await?;
    Ok(put_answer(created, view(s, targets)))
}

/// Show a schedule.
///
/// Scope `read` or `send`.
#[utoipa::path(
    get,
    path = "/v1/schedules/{id}",
    operation_id = "get_schedule",
    tag = "schedules",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        AuthErrors, NotFound
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Schedule>> {
    caller.require(Permission::ReadSchedules)?;
    let (s, t) = state.schedule(&id).await?;
    Ok(Json(view(s, t)))
}

/// List schedules.
///
/// Scope `read` or `send`. Every schedule, by id, with when it fires
/// next.
#[utoipa::path(
    get,
    path = "/v1/schedules",
    operation_id = "list_schedules",
    tag = "schedules",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every schedule", body = ScheduleList),
        AuthErrors
    )
)]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ScheduleList>> {
    caller.require(Permission::ReadSchedules)?;
    let items = state
        .store
        .list_schedules()
        .await?
        .into_iter()
        .map(|(s, t)| view(s, t))
        .collect();
    Ok(Json(ScheduleList { items }))
}

/// Delete a schedule.
///
/// Scope `send`. It fires no more; what it triggered goes on.
#[utoipa::path(
    delete,
    path = "/v1/schedules/{id}",
    operation_id = "delete_schedule",
    tag = "schedules",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 204, description = "Deleted"),
        AuthErrors, NotFound
    )
)]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::Send)?;
    state.schedule(&id).await?;
    state.store.delete_schedule(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pause a schedule.
///
/// Scope `send`. It fires no more until resumed.
#[utoipa::path(
    post,
    path = "/v1/schedules/{id}/pause",
    operation_id = "pause_schedule",
    tag = "schedules",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "The schedule, paused", body = Schedule),
        AuthErrors, NotFound
    )
)]
async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Schedule>> {
    caller.require(Permission::Send)?;
    state.pause_schedule(&id, true).await?;
    let (s, t) = state.schedule(&id).await?;
    Ok(Json(view(s, t)))
}

/// Resume a schedule.
///
/// Scope `send`. It fires next at its next time from now; the times it
/// missed while paused do not fire.
#[utoipa::path(
    post,
    path = "/v1/schedules/{id}/resume",
    operation_id = "resume_schedule",
    tag = "schedules",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "The schedule, running", body = Schedule),
        AuthErrors, NotFound
    )
)]
async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Schedule>> {
    caller.require(Permission::Send)?;
    state.pause_schedule(&id, false).await?;
    let (s, t) = state.schedule(&id).await?;
    Ok(Json(view(s, t)))
}
