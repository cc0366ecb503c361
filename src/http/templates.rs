//! Templates (scope `templates`): `PUT /v1/templates/{key}` makes a new
//! immutable version when the content changes; list, show, versions,
//! rollback (`activate`), archive (`DELETE`) and preview.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::{ApiError, ApiResult};
use super::json::JsonBody;
use super::openapi::{AuthErrors, BodyErrors, Invalid, NotFound};
use super::versions::{self, version_param, VersionList, VersionedItem};
use super::AppState;
use crate::render::{Parts, TemplateContent, TemplateSettings};
use crate::service::templates::{save, PreviewRequest, Rendered};
use crate::store::{Kind, Versioned};
use crate::util::{opt_rfc3339, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, put, archive))
        .routes(routes!(versions))
        .routes(routes!(version))
        .routes(routes!(activate))
        .routes(routes!(preview))
}

/// A template's content: parts per channel (e.g. `email`: `subject`,
/// `html`, `text`), per-locale overrides and flow-control settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutTemplate {
    /// A display name (default: the key).
    #[serde(default)]
    name: Option<String>,
    /// Handlebars sources of each part, by channel.
    #[schema(value_type = BTreeMap<String, BTreeMap<String, String>>)]
    channels: BTreeMap<String, Parts>,
    /// Overrides of any part, by locale then channel.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>)]
    locales: BTreeMap<String, BTreeMap<String, Parts>>,
    #[serde(default)]
    settings: TemplateSettings,
    /// A stored layout (`PUT /v1/layouts/{key}`) that wraps the email
    /// `html` and `text` parts.
    #[serde(default)]
    layout: Option<String>,
}

/// The version a `PUT` made (or kept, when nothing changed).
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedTemplate {
    pub key: String,
    pub name: String,
    pub version: i64,
    /// Whether this `PUT` made a new version.
    pub changed: bool,
}

/// One version of a template with its content.
#[derive(Debug, Serialize, ToSchema)]
pub struct Template {
    pub key: String,
    pub name: String,
    /// The version shown.
    pub version: i64,
    /// The version sends use.
    pub current_version: i64,
    #[schema(value_type = BTreeMap<String, BTreeMap<String, String>>)]
    pub channels: Value,
    #[schema(value_type = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>)]
    pub locales: Value,
    #[schema(value_type = TemplateSettings)]
    pub settings: Value,
    /// The stored layout this template's email is wrapped in.
    pub layout: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// RFC 3339; set once archived.
    pub archived_at: Option<String>,
}

/// Every template, archived ones included.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub items: Vec<VersionedItem>,
}

/// Every channel of a template version, rendered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub key: String,
    /// The version rendered; none for a draft.
    pub version: Option<i64>,
    pub locale: Option<String>,
    /// The rendered parts, by channel.
    #[schema(value_type = BTreeMap<String, BTreeMap<String, String>>)]
    pub channels: BTreeMap<String, Parts>,
}

/// Create or change a template.
///
/// Scope `templates`. A new immutable version is made when the content
/// changes, and becomes current; the same content keeps the version.
#[utoipa::path(
    put,
    path = "/v1/templates/{key}",
    operation_id = "put_template",
    tag = "templates",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = PutTemplate,
    responses(
        (status = 201, description = "The template's first version was made", body = SavedTemplate),
        (status = 200, description = "A new version was made, or the content was unchanged", body = SavedTemplate),
        AuthErrors, BodyErrors
    )
)]
async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<PutTemplate>,
) -> ApiResult<(StatusCode, Json<SavedTemplate>)> {
    caller.require(Permission::WriteTemplates)?;
    let b = body.value;
    let name = b.name.unwrap_or_else(|| key.clone());
    let content = TemplateContent {
        channels: b.channels,
        locales: b.locales,
        settings: b.settings,
        layout: b.layout,
    };
    let (version, created) =
        save(state.store.as_ref(), &state.renderer, &key, &name, &content).await?;
    let status = if created && version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SavedTemplate {
            key,
            name,
            version,
            changed: created,
        }),
    ))
}

fn can_read(caller: &Caller) -> Result<(), ApiError> {
    Ok(caller.require(Permission::ReadTemplates)?)
}

fn template_view(t: &Versioned, current: i64) -> Template {
    let content: Value = serde_json::from_str(&t.content).unwrap_or_default();
    Template {
        key: t.key.clone(),
        name: t.name.clone(),
        version: t.version,
        current_version: current,
        channels: content.get("channels").cloned().unwrap_or_default(),
        locales: content.get("locales").cloned().unwrap_or_default(),
        settings: content
            .get("settings")
            .cloned()
            .unwrap_or_else(|| json!({})),
        layout: content
            .get("layout")
            .and_then(Value::as_str)
            .map(str::to_string),
        created_at: rfc3339(t.created_at),
        updated_at: rfc3339(t.updated_at),
        archived_at: opt_rfc3339(t.archived_at),
    }
}

async fn load(state: &AppState, key: &str, version: Option<i64>) -> ApiResult<Versioned> {
    Ok(state.versioned(Kind::Template, key, version).await?)
}

/// `{key}` in a template's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct KeyParam {
    /// The template's key: 1 to 100 letters, digits, `-`, `_` or `.`.
    key: String,
}

/// Show a template.
///
/// Scope `templates` or `read`. The current version with its content.
#[utoipa::path(
    get,
    path = "/v1/templates/{key}",
    operation_id = "get_template",
    tag = "templates",
    security(("api_key" = [])),
    params(KeyParam),
    responses(
        (status = 200, description = "The current version", body = Template),
        AuthErrors, NotFound
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<Template>> {
    can_read(&caller)?;
    let t = load(&state, &key, None).await?;
    Ok(Json(template_view(&t, t.version)))
}

/// List templates.
///
/// Scope `templates` or `read`. Every template, archived ones included.
#[utoipa::path(
    get,
    path = "/v1/templates",
    operation_id = "list_templates",
    tag = "templates",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every template", body = TemplateList),
        AuthErrors
    )
)]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<TemplateList>> {
    can_read(&caller)?;
    let items = versions::list(&state, Kind::Template).await?;
    Ok(Json(TemplateList { items }))
}

/// List a template's versions.
///
/// Scope `templates` or `read`. Newest first.
#[utoipa::path(
    get,
    path = "/v1/templates/{key}/versions",
    operation_id = "list_template_versions",
    tag = "templates",
    security(("api_key" = [])),
    params(KeyParam),
    responses(
        (status = 200, description = "The versions", body = VersionList),
        AuthErrors, NotFound
    )
)]
async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<VersionList>> {
    can_read(&caller)?;
    Ok(Json(versions::history(&state, Kind::Template, &key).await?))
}

/// `{key}` and `{n}` in a template version's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct VersionParams {
    /// The template's key.
    key: String,
    /// The version number (1, 2, ...).
    n: u32,
}

/// Show one version of a template.
///
/// Scope `templates` or `read`.
#[utoipa::path(
    get,
    path = "/v1/templates/{key}/versions/{n}",
    operation_id = "get_template_version",
    tag = "templates",
    security(("api_key" = [])),
    params(VersionParams),
    responses(
        (status = 200, description = "The version", body = Template),
        AuthErrors, NotFound, Invalid
    )
)]
async fn version(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, n)): Path<(String, String)>,
) -> ApiResult<Json<Template>> {
    can_read(&caller)?;
    let n = version_param(&n)?;
    let current = load(&state, &key, None).await?.version;
    let t = load(&state, &key, Some(n)).await?;
    Ok(Json(template_view(&t, current)))
}

/// Roll a template back (or forward) to a version.
///
/// Scope `templates`. The version becomes the one sends use.
#[utoipa::path(
    post,
    path = "/v1/templates/{key}/versions/{n}/activate",
    operation_id = "activate_template_version",
    tag = "templates",
    security(("api_key" = [])),
    params(VersionParams),
    responses(
        (status = 200, description = "The template, now at that version", body = Template),
        AuthErrors, NotFound, Invalid
    )
)]
async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, n)): Path<(String, String)>,
) -> ApiResult<Json<Template>> {
    caller.require(Permission::WriteTemplates)?;
    let n = version_param(&n)?;
    let t = state.activate(Kind::Template, &key, n).await?;
    Ok(Json(template_view(&t, t.version)))
}

/// Archive a template.
///
/// Scope `templates`. It can no longer be sent; its history is kept.
#[utoipa::path(
    delete,
    path = "/v1/templates/{key}",
    operation_id = "archive_template",
    tag = "templates",
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
    state.archive(Kind::Template, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Preview a template.
///
/// Scope `templates` or `read`. Renders every channel of a template version
/// (or of an unsaved draft) with the given data, without sending anything.
/// A compile or render error is a 422 naming the field (and the line, for
/// compile errors).
#[utoipa::path(
    post,
    path = "/v1/templates/{key}/preview",
    operation_id = "preview_template",
    tag = "templates",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "The rendered channels", body = Preview),
        AuthErrors, BodyErrors, NotFound
    )
)]
async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<PreviewRequest>,
) -> ApiResult<Json<Preview>> {
    can_read(&caller)?;
    let req = body.value;
    let locale = req.locale.clone();
    let Rendered { version, channels } = state.preview_template(&key, req).await?;
    Ok(Json(Preview {
        key,
        version,
        locale,
        channels,
    }))
}
