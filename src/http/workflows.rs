//! Workflows (scope `templates`, as their authors are the templates'):
//! `PUT /v1/workflows/{key}` makes a new immutable version when the
//! definition changes; list, show, versions, rollback (`activate`),
//! archive (`DELETE`) and a dry run (`preview`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::{ApiError, ApiResult};
use super::json::JsonBody;
use super::openapi::{AuthErrors, BodyErrors, Invalid, NotFound};
use super::versions::{self, version_param, VersionList, VersionedItem};
use super::AppState;
use crate::domain::workflow::{StepPreview, Truth};
use crate::service::workflows::{definition, save, DryRun, WorkflowPreviewRequest};
use crate::store::{Kind, Versioned};
use crate::util::{opt_rfc3339, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, put, archive))
        .routes(routes!(history))
        .routes(routes!(version))
        .routes(routes!(activate))
        .routes(routes!(preview))
        .routes(routes!(cancel))
}

/// Which runs to cancel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRuns {
    /// The `cancel_key` the runs were started with.
    cancel_key: String,
    /// Only the runs of these recipients (ids, or the address a recipient
    /// without an id was given by); default: every run with the key.
    #[serde(default)]
    recipients: Option<Vec<String>>,
}

/// How many runs a cancel stopped.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelledRuns {
    pub cancelled: u64,
}

/// Cancel runs by their cancel key.
///
/// Scope `send`. Cancels the open runs of this workflow started with
/// `cancel_key` (a later event: "payment received" cancels the "payment
/// overdue" reminders): their pending steps don't run, and what their
/// steps sent that has not started sending is cancelled too.
#[utoipa::path(
    post,
    path = "/v1/workflows/{key}/cancel",
    operation_id = "cancel_workflow_runs",
    tag = "workflows",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = CancelRuns,
    responses(
        (status = 200, description = "How many runs were cancelled", body = CancelledRuns),
        AuthErrors, BodyErrors, NotFound
    )
)]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<CancelRuns>,
) -> ApiResult<Json<CancelledRuns>> {
    caller.require(Permission::Send)?;
    let b = body.value;
    if b.cancel_key.is_empty() || b.cancel_key.len() > 255 {
        return Err(ApiError::invalid(
            "cancel_key",
            "must be 1 to 255 characters",
        ));
    }
    if let Some(r) = &b.recipients {
        if r.is_empty() || r.len() > crate::service::send::MAX_RECIPIENTS {
            return Err(ApiError::invalid(
                "recipients",
                "leave it out to cancel every run with the key, or give 1 to 10,000",
            ));
        }
    }
    state.versioned(Kind::Workflow, &key, None).await?;
    let cancelled = state
        .store
        .cancel_runs(
            &key,
            &b.cancel_key,
            b.recipients.as_deref(),
            crate::util::now_ms(),
        )
        .await?;
    state
        .metrics
        .runs(crate::metrics::RunEvent::Cancelled, cancelled);
    Ok(Json(CancelledRuns { cancelled }))
}

/// One step of a workflow. `type` says which of the other fields apply:
///
/// - `send`: `channel` (or `channels` with `mode`: `first_success` tries
///   them in order until one is delivered, `all` sends on each), and
///   `template` (a template's key) or `content` (parts per channel).
/// - `delay`: `for` (a duration such as `30m`, up to 90 days) or `until`
///   (`{{data.remind_at}}`, an RFC 3339 time from the data, or
///   `quiet_hours_end`).
/// - `digest`: events of the same workflow, recipient and `key`
///   (`{{data.thread_id}}`) are merged while the window is open: `window`
///   (a duration from the first event, up to 31 days) or `schedule`
///   (`daily 09:00`, `weekly mon 09:00` or a cron expression, in the
///   recipient's timezone); later steps render with `events` (up to
///   `max_events`, default 100) and `count`.
///
/// `if` lists conditions that must all hold: `{"step": "<id>", "is":
/// "sent"|"failed"|"read"|"not_read"|"skipped"}`, `{"field":
/// "data.…"|"recipient.…", "op": "equals"|"not_equals"|"in"|"not_in"|
/// "exists"|"not_exists"|"gt"|"gte"|"lt"|"lte", "value": …}`, or
/// `{"any": [...]}`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct WorkflowStep {
    /// Names the step for conditions and the run's timeline: 1 to 64
    /// letters, digits, `-` or `_`, unique in the workflow.
    id: String,
    /// `send`, `delay` or `digest`.
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "if")]
    #[schema(value_type = Option<Vec<Object>>)]
    when: Option<Value>,
    channel: Option<String>,
    channels: Option<Vec<String>>,
    mode: Option<String>,
    template: Option<String>,
    #[schema(value_type = Option<Object>)]
    content: Option<Value>,
    #[serde(rename = "for")]
    wait_for: Option<String>,
    until: Option<String>,
    key: Option<String>,
    window: Option<String>,
    schedule: Option<String>,
    max_events: Option<u32>,
}

/// A workflow's definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutWorkflow {
    /// A display name (default: the key).
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// 1 to 32 steps, run in order for each recipient.
    #[schema(value_type = Vec<WorkflowStep>)]
    steps: Value,
}

/// The version a `PUT` made (or kept, when nothing changed).
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedWorkflow {
    pub key: String,
    pub name: String,
    pub version: i64,
    /// Whether this `PUT` made a new version.
    pub changed: bool,
}

/// One version of a workflow with its definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct Workflow {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// The version shown.
    pub version: i64,
    /// The version triggers use.
    pub current_version: i64,
    #[schema(value_type = Vec<WorkflowStep>)]
    pub steps: Value,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// RFC 3339; set once archived.
    pub archived_at: Option<String>,
}

/// Every workflow, archived ones included.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowList {
    pub items: Vec<VersionedItem>,
}

/// One step in a dry run.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepDryRun {
    pub id: String,
    /// `send`, `delay` or `digest`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What the step does, in a few words.
    pub summary: String,
    /// `yes`, `no`, or `depends` (on how an earlier step turns out: sent,
    /// read…).
    pub runs: String,
    /// For `no` and `depends`: the condition, as written.
    pub because: Option<String>,
}

/// Which steps would run for the given data and recipient.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowPreview {
    pub key: String,
    /// The version tried; none for a draft.
    pub version: Option<i64>,
    pub steps: Vec<StepDryRun>,
}

/// `{key}` in a workflow's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct KeyParam {
    /// The workflow's key: 1 to 100 letters, digits, `-`, `_` or `.`.
    key: String,
}

/// `{key}` and `{n}` in a workflow version's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct VersionParams {
    /// The workflow's key.
    key: String,
    /// The version number (1, 2, ...).
    n: u32,
}

fn can_read(caller: &Caller) -> Result<(), ApiError> {
    Ok(caller.require(Permission::ReadTemplates)?)
}

fn view(w: &Versioned, current: i64) -> Workflow {
    let mut def: Value = serde_json::from_str(&w.content).unwrap_or_default();
    Workflow {
        key: w.key.clone(),
        name: w.name.clone(),
        description: def
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        version: w.version,
        current_version: current,
        steps: def.get_mut("steps").map(Value::take).unwrap_or_default(),
        created_at: rfc3339(w.created_at),
        updated_at: rfc3339(w.updated_at),
        archived_at: opt_rfc3339(w.archived_at),
    }
}

/// Create or change a workflow.
///
/// Scope `templates`. Every step is checked (its fields, its conditions,
/// the templates it names and their channels) and each mistake named by
/// its path (`steps[2].window`). A new immutable version is made when the
/// definition changes, and becomes current; the same definition keeps
/// the version.
#[utoipa::path(
    put,
    path = "/v1/workflows/{key}",
    operation_id = "put_workflow",
    tag = "workflows",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = PutWorkflow,
    responses(
        (status = 201, description = "The workflow's first version was made", body = SavedWorkflow),
        (status = 200, description = "A new version was made, or the definition was unchanged", body = SavedWorkflow),
        AuthErrors, BodyErrors
    )
)]
async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<PutWorkflow>,
) -> ApiResult<(StatusCode, Json<SavedWorkflow>)> {
    caller.require(Permission::WriteTemplates)?;
    let b = body.value;
    let name = b.name.unwrap_or_else(|| key.clone());
    let def = definition(b.description.as_deref(), b.steps);
    let (version, changed) = save(state.store.as_ref(), &state.renderer, &key, &name, &def).await?;
    let status = if changed && version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SavedWorkflow {
            key,
            name,
            version,
            changed,
        }),
    ))
}

/// Show a workflow.
///
/// Scope `templates` or `read`. The current version with its steps.
#[utoipa::path(
    get,
    path = "/v1/workflows/{key}",
    operation_id = "get_workflow",
    tag = "workflows",
    security(("api_key" = [])),
    params(KeyParam),
    responses(
        (status = 200, description = "The current version", body = Workflow),
        AuthErrors, NotFound
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<Workflow>> {
    can_read(&caller)?;
    let w = state.versioned(Kind::Workflow, &key, None).await?;
    Ok(Json(view(&w, w.version)))
}

/// List workflows.
///
/// Scope `templates` or `read`. Every workflow, archived ones included.
#[utoipa::path(
    get,
    path = "/v1/workflows",
    operation_id = "list_workflows",
    tag = "workflows",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every workflow", body = WorkflowList),
        AuthErrors
    )
)]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<WorkflowList>> {
    can_read(&caller)?;
    let items = versions::list(&state, Kind::Workflow).await?;
    Ok(Json(WorkflowList { items }))
}

/// List a workflow's versions.
///
/// Scope `templates` or `read`. Newest first.
#[utoipa::path(
    get,
    path = "/v1/workflows/{key}/versions",
    operation_id = "list_workflow_versions",
    tag = "workflows",
    security(("api_key" = [])),
    params(KeyParam),
    responses(
        (status = 200, description = "The versions", body = VersionList),
        AuthErrors, NotFound
    )
)]
async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<VersionList>> {
    can_read(&caller)?;
    Ok(Json(versions::history(&state, Kind::Workflow, &key).await?))
}

/// Show one version of a workflow.
///
/// Scope `templates` or `read`.
#[utoipa::path(
    get,
    path = "/v1/workflows/{key}/versions/{n}",
    operation_id = "get_workflow_version",
    tag = "workflows",
    security(("api_key" = [])),
    params(VersionParams),
    responses(
        (status = 200, description = "The version", body = Workflow),
        AuthErrors, NotFound, Invalid
    )
)]
async fn version(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, n)): Path<(String, String)>,
) -> ApiResult<Json<Workflow>> {
    can_read(&caller)?;
    let n = version_param(&n)?;
    let current = state.versioned(Kind::Workflow, &key, None).await?.version;
    let w = state.versioned(Kind::Workflow, &key, Some(n)).await?;
    Ok(Json(view(&w, current)))
}

/// Roll a workflow back (or forward) to a version.
///
/// Scope `templates`. The version becomes the one triggers use; runs
/// already started keep the version they started with.
#[utoipa::path(
    post,
    path = "/v1/workflows/{key}/versions/{n}/activate",
    operation_id = "activate_workflow_version",
    tag = "workflows",
    security(("api_key" = [])),
    params(VersionParams),
    responses(
        (status = 200, description = "The workflow, now at that version", body = Workflow),
        AuthErrors, NotFound, Invalid
    )
)]
async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, n)): Path<(String, String)>,
) -> ApiResult<Json<Workflow>> {
    caller.require(Permission::WriteTemplates)?;
    let n = version_param(&n)?;
    let w = state.activate(Kind::Workflow, &key, n).await?;
    Ok(Json(view(&w, w.version)))
}

/// Archive a workflow.
///
/// Scope `templates`. It can no longer be triggered; its history is kept.
/// A `PUT` brings it back.
#[utoipa::path(
    delete,
    path = "/v1/workflows/{key}",
    operation_id = "archive_workflow",
    tag = "workflows",
    security(("api_key" = [])),
    params(KeyParam),
    responses(
        (status = 204, description = "Archived"),
        AuthErrors, NotFound
    )
)]
async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::WriteTemplates)?;
    state.archive(Kind::Workflow, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Dry-run a workflow.
///
/// Scope `templates` or `read`. Says which steps of a version (or of an
/// unsaved draft) would run for the given data and recipient (a stored
/// profile's `id` brings its fields), and for each that would not, or
/// that depends on how an earlier step turns out, the condition why.
/// Nothing is sent or stored.
#[utoipa::path(
    post,
    path = "/v1/workflows/{key}/preview",
    operation_id = "preview_workflow",
    tag = "workflows",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = WorkflowPreviewRequest,
    responses(
        (status = 200, description = "Each step and whether it would run", body = WorkflowPreview),
        AuthErrors, BodyErrors, NotFound
    )
)]
async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<WorkflowPreviewRequest>,
) -> ApiResult<Json<WorkflowPreview>> {
    can_read(&caller)?;
    let DryRun { version, steps } = state.preview_workflow(&key, body.value).await?;
    Ok(Json(WorkflowPreview {
        key,
        version,
        steps: steps.into_iter().map(dry_run_step).collect(),
    }))
}

fn dry_run_step(s: StepPreview) -> StepDryRun {
    StepDryRun {
        id: s.id,
        kind: s.kind.to_string(),
        summary: s.summary,
        runs: match s.runs {
            Truth::Yes => "yes",
            Truth::No => "no",
            Truth::Depends => "depends",
        }
        .to_string(),
        because: s.because,
    }
}
