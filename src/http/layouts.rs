//! Shared layouts and partials (scope `templates` to change, `templates`
//! or `read` to see): `PUT /v1/layouts/{key}` and `PUT /v1/partials/{key}`
//! make a new immutable version when the content changes; list, show (with
//! the templates that use it), versions, rollback (`activate`), archive
//! (`DELETE`), and a layout's preview.

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
use super::error::ApiResult;
use super::json::{put_answer, JsonBody};
use super::openapi::{AuthErrors, BodyErrors, Invalid, NotFound};
use super::versions::{self, version_param, VersionList, VersionedItem};
use super::AppState;
use crate::render::shared::{LayoutContent, LayoutParts, PartialContent};
use crate::render::Parts;
use crate::service::layouts::{save_layout, save_partial};
use crate::store::{Kind, Versioned};
use crate::util::{opt_rfc3339, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_layouts))
        .routes(routes!(show_layout, put_layout, archive_layout))
        .routes(routes!(layout_versions))
        .routes(routes!(layout_version))
        .routes(routes!(activate_layout))
        .routes(routes!(preview_layout))
        .routes(routes!(list_partials))
        .routes(routes!(show_partial, put_partial, archive_partial))
        .routes(routes!(partial_versions))
        .routes(routes!(partial_version))
        .routes(routes!(activate_partial))
}

/// A layout: `html` and `text` wrappers of a template's email, each with
/// `{{{content}}}` once where the template's part goes, and per-locale
/// overrides.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutLayout {
    /// A display name (default: the key).
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    html: Option<String>,
    #[serde(default)]
    text: Option<String>,
    /// Overrides of `html` or `text`, by locale.
    #[serde(default)]
    locales: BTreeMap<String, LayoutParts>,
}

/// A partial: a handlebars source that templates include with
/// `{{> key}}`, with per-locale overrides.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutPartial {
    /// A display name (default: the key).
    #[serde(default)]
    name: Option<String>,
    source: String,
    /// Overrides of `source`, by locale.
    #[serde(default)]
    locales: BTreeMap<String, String>,
}

/// The version a `PUT` made (or kept, when nothing changed).
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedShared {
    pub key: String,
    pub name: String,
    pub version: i64,
    /// Whether this `PUT` made a new version.
    pub changed: bool,
}

/// One version of a layout or partial with its content.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedView {
    pub key: String,
    pub name: String,
    /// The version shown.
    pub version: i64,
    /// The version templates use.
    pub current_version: i64,
    /// A layout's `html`, `text` and `locales`, or a partial's `source`
    /// and `locales`.
    #[schema(value_type = Object)]
    pub content: Value,
    /// The templates whose current version names it.
    pub used_by: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// RFC 3339; set once archived.
    pub archived_at: Option<String>,
}

/// Every layout or partial, archived ones included.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedList {
    pub items: Vec<VersionedItem>,
}

/// What to preview a layout with.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LayoutPreviewRequest {
    /// Data for the layout's expressions (a JSON object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    #[serde(default)]
    locale: Option<String>,
    /// Default: the current version.
    #[serde(default)]
    version: Option<i64>,
    /// The email `html` to wrap (default: a placeholder paragraph).
    #[serde(default)]
    html: Option<String>,
    /// The email `text` to wrap (default: a placeholder line).
    #[serde(default)]
    text: Option<String>,
}

/// A layout rendered around a template's parts.
#[derive(Debug, Serialize, ToSchema)]
pub struct LayoutPreview {
    pub key: String,
    pub locale: Option<String>,
    /// The rendered `html` and `text`.
    #[schema(value_type = BTreeMap<String, String>)]
    pub email: Parts,
}

/// `{key}` in a layout's or partial's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct KeyParam {
    /// 1 to 100 letters, digits, `-`, `_` or `.`.
    key: String,
}

/// `{key}` and `{n}` in a version's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct VersionParams {
    key: String,
    /// The version number (1, 2, ...).
    n: u32,
}

async fn view(state: &AppState, kind: Kind, t: &Versioned, current: i64) -> ApiResult<SharedView> {
    Ok(SharedView {
        key: t.key.clone(),
        name: t.name.clone(),
        version: t.version,
        current_version: current,
        content: serde_json::from_str(&t.content).unwrap_or_else(|_| json!({})),
        used_by: state.used_by(kind, &t.key).await?,
        created_at: rfc3339(t.created_at),
        updated_at: rfc3339(t.updated_at),
        archived_at: opt_rfc3339(t.archived_at),
    })
}

fn saved(
    key: String,
    name: String,
    (version, changed): (i64, bool),
) -> (StatusCode, Json<SavedShared>) {
    // Created: this put made the first version.
    put_answer(
        changed && version == 1,
        SavedShared {
            key,
            name,
            version,
            changed,
        },
    )
}

async fn show(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    key: &str,
) -> ApiResult<Json<SharedView>> {
    caller.require(Permission::ReadTemplates)?;
    let t = state.versioned(kind, key, None).await?;
    Ok(Json(view(state, kind, &t, t.version).await?))
}

async fn one_version(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    key: &str,
    n: &str,
) -> ApiResult<Json<SharedView>> {
    caller.require(Permission::ReadTemplates)?;
    let n = version_param(n)?;
    let current = state.versioned(kind, key, None).await?.version;
    let t = state.versioned(kind, key, Some(n)).await?;
    Ok(Json(view(state, kind, &t, current).await?))
}

async fn activate(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    key: &str,
    n: &str,
) -> ApiResult<Json<SharedView>> {
    caller.require(Permission::WriteTemplates)?;
    let n = version_param(n)?;
    let t = state.activate(kind, key, n).await?;
    Ok(Json(view(state, kind, &t, t.version).await?))
}

/// Create or change a layout.
///
/// Scope `templates`. A new immutable version is made when the content
/// changes, and is used by every template naming it from the next send
/// on. Each source must contain `{{{content}}}` exactly once, and every
/// partial it includes must be stored.
#[utoipa::path(
    put,
    path = "/v1/layouts/{key}",
    operation_id = "put_layout",
    tag = "layouts",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = PutLayout,
    responses(
        (status = 201, description = "The layout's first version was made", body = SavedShared),
        (status = 200, description = "A new version was made, or the content was unchanged", body = SavedShared),
        AuthErrors, BodyErrors
    )
)]
async fn put_layout(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<PutLayout>,
) -> ApiResult<(StatusCode, Json<SavedShared>)> {
    caller.require(Permission::WriteTemplates)?;
    let b = body.value;
    let name = b.name.unwrap_or_else(|| key.clone());
    let content = LayoutContent {
        parts: LayoutParts {
            html: b.html,
            text: b.text,
        },
        locales: b.locales,
    };
    let r = save_layout(state.store.as_ref(), &state.renderer, &key, &name, &content).await?;
    Ok(saved(key, name, r))
}

/// Show a layout.
///
/// Scope `templates` or `read`. The current version, and the templates
/// that use it.
#[utoipa::path(
    get,
    path = "/v1/layouts/{key}",
    operation_id = "get_layout",
    tag = "layouts",
    security(("api_key" = [])),
    params(KeyParam),
    responses((status = 200, description = "The current version", body = SharedView), AuthErrors, NotFound)
)]
async fn show_layout(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<SharedView>> {
    show(&state, &caller, Kind::Layout, &key).await
}

/// List layouts.
///
/// Scope `templates` or `read`. Archived ones included.
#[utoipa::path(
    get,
    path = "/v1/layouts",
    operation_id = "list_layouts",
    tag = "layouts",
    security(("api_key" = [])),
    responses((status = 200, description = "Every layout", body = SharedList), AuthErrors)
)]
async fn list_layouts(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<SharedList>> {
    caller.require(Permission::ReadTemplates)?;
    let items = versions::list(&state, Kind::Layout).await?;
    Ok(Json(SharedList { items }))
}

/// List a layout's versions.
///
/// Scope `templates` or `read`. Newest first.
#[utoipa::path(
    get,
    path = "/v1/layouts/{key}/versions",
    operation_id = "list_layout_versions",
    tag = "layouts",
    security(("api_key" = [])),
    params(KeyParam),
    responses((status = 200, description = "The versions", body = VersionList), AuthErrors, NotFound)
)]
async fn layout_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<VersionList>> {
    caller.require(Permission::ReadTemplates)?;
    Ok(Json(versions::history(&state, Kind::Layout, &key).await?))
}

/// Show one version of a layout.
///
/// Scope `templates` or `read`.
#[utoipa::path(
    get,
    path = "/v1/layouts/{key}/versions/{n}",
    operation_id = "get_layout_version",
    tag = "layouts",
    security(("api_key" = [])),
    params(VersionParams),
    responses((status = 200, description = "The version", body = SharedView), AuthErrors, NotFound, Invalid)
)]
async fn layout_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, n)): Path<(String, String)>,
) -> ApiResult<Json<SharedView>> {
    one_version(&state, &caller, Kind::Layout, &key, &n).await
}

/// Roll a layout back (or forward) to a version.
///
/// Scope `templates`. The version becomes the one templates use.
#[utoipa::path(
    post,
    path = "/v1/layouts/{key}/versions/{n}/activate",
    operation_id = "activate_layout_version",
    tag = "layouts",
    security(("api_key" = [])),
    params(VersionParams),
    responses((status = 200, description = "The layout, now at that version", body = SharedView), AuthErrors, NotFound, Invalid)
)]
async fn activate_layout(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, n)): Path<(String, String)>,
) -> ApiResult<Json<SharedView>> {
    activate(&state, &caller, Kind::Layout, &key, &n).await
}

/// Archive a layout.
///
/// Scope `templates`. Templates naming it can no longer be sent (a 422
/// names the layout) until it is stored again or they name another.
#[utoipa::path(
    delete,
    path = "/v1/layouts/{key}",
    operation_id = "archive_layout",
    tag = "layouts",
    security(("api_key" = [])),
    params(KeyParam),
    responses((status = 204, description = "Archived"), AuthErrors, NotFound)
)]
async fn archive_layout(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::WriteTemplates)?;
    state.archive(Kind::Layout, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Preview a layout.
///
/// Scope `templates` or `read`. Renders the layout around the given email
/// `html` and `text` (or a placeholder) with the given data.
#[utoipa::path(
    post,
    path = "/v1/layouts/{key}/preview",
    operation_id = "preview_layout",
    tag = "layouts",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = LayoutPreviewRequest,
    responses((status = 200, description = "The rendered email parts", body = LayoutPreview), AuthErrors, BodyErrors, NotFound)
)]
async fn preview_layout(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<LayoutPreviewRequest>,
) -> ApiResult<Json<LayoutPreview>> {
    caller.require(Permission::ReadTemplates)?;
    let b = body.value;
    let data = b.data.unwrap_or_else(|| json!({}));
    if !data.is_object() {
        return Err(super::error::ApiError::invalid(
            "data",
            "must be a JSON object",
        ));
    }
    let email = state
        .preview_layout(&key, b.version, b.html, b.text, b.locale.as_deref(), &data)
        .await?;
    Ok(Json(LayoutPreview {
        key,
        locale: b.locale,
        email,
    }))
}

/// Create or change a partial.
///
/// Scope `templates`. A new immutable version is made when the content
/// changes, and is used by every template including it from the next send
/// on. Every partial it includes must be stored; one that would include
/// itself, directly or through others, is refused naming the chain.
#[utoipa::path(
    put,
    path = "/v1/partials/{key}",
    operation_id = "put_partial",
    tag = "layouts",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = PutPartial,
    responses(
        (status = 201, description = "The partial's first version was made", body = SavedShared),
        (status = 200, description = "A new version was made, or the content was unchanged", body = SavedShared),
        AuthErrors, BodyErrors
    )
)]
async fn put_partial(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<PutPartial>,
) -> ApiResult<(StatusCode, Json<SavedShared>)> {
    caller.require(Permission::WriteTemplates)?;
    let b = body.value;
    let name = b.name.unwrap_or_else(|| key.clone());
    let content = PartialContent {
        source: b.source,
        locales: b.locales,
    };
    let r = save_partial(state.store.as_ref(), &state.renderer, &key, &name, &content).await?;
    Ok(saved(key, name, r))
}

/// Show a partial.
///
/// Scope `templates` or `read`. The current version, and the templates
/// that include it directly.
#[utoipa::path(
    get,
    path = "/v1/partials/{key}",
    operation_id = "get_partial",
    tag = "layouts",
    security(("api_key" = [])),
    params(KeyParam),
    responses((status = 200, description = "The current version", body = SharedView), AuthErrors, NotFound)
)]
async fn show_partial(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<SharedView>> {
    show(&state, &caller, Kind::Partial, &key).await
}

/// List partials.
///
/// Scope `templates` or `read`. Archived ones included.
#[utoipa::path(
    get,
    path = "/v1/partials",
    operation_id = "list_partials",
    tag = "layouts",
    security(("api_key" = [])),
    responses((status = 200, description = "Every partial", body = SharedList), AuthErrors)
)]
async fn list_partials(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<SharedList>> {
    caller.require(Permission::ReadTemplates)?;
    let items = versions::list(&state, Kind::Partial).await?;
    Ok(Json(SharedList { items }))
}

/// List a partial's versions.
///
/// Scope `templates` or `read`. Newest first.
#[utoipa::path(
    get,
    path = "/v1/partials/{key}/versions",
    operation_id = "list_partial_versions",
    tag = "layouts",
    security(("api_key" = [])),
    params(KeyParam),
    responses((status = 200, description = "The versions", body = VersionList), AuthErrors, NotFound)
)]
async fn partial_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<VersionList>> {
    caller.require(Permission::ReadTemplates)?;
    Ok(Json(versions::history(&state, Kind::Partial, &key).await?))
}

/// Show one version of a partial.
///
/// Scope `templates` or `read`.
#[utoipa::path(
    get,
    path = "/v1/partials/{key}/versions/{n}",
    operation_id = "get_partial_version",
    tag = "layouts",
    security(("api_key" = [])),
    params(VersionParams),
    responses((status = 200, description = "The version", body = SharedView), AuthErrors, NotFound, Invalid)
)]
async fn partial_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, n)): Path<(String, String)>,
) -> ApiResult<Json<SharedView>> {
    one_version(&state, &caller, Kind::Partial, &key, &n).await
}

/// Roll a partial back (or forward) to a version.
///
/// Scope `templates`. The version becomes the one templates use.
#[utoipa::path(
    post,
    path = "/v1/partials/{key}/versions/{n}/activate",
    operation_id = "activate_partial_version",
    tag = "layouts",
    security(("api_key" = [])),
    params(VersionParams),
    responses((status = 200, description = "The partial, now at that version", body = SharedView), AuthErrors, NotFound, Invalid)
)]
async fn activate_partial(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, n)): Path<(String, String)>,
) -> ApiResult<Json<SharedView>> {
    activate(&state, &caller, Kind::Partial, &key, &n).await
}

/// Archive a partial.
///
/// Scope `templates`. Templates including it can no longer be sent (a 422
/// names the partial) until it is stored again.
#[utoipa::path(
    delete,
    path = "/v1/partials/{key}",
    operation_id = "archive_partial",
    tag = "layouts",
    security(("api_key" = [])),
    params(KeyParam),
    responses((status = 204, description = "Archived"), AuthErrors, NotFound)
)]
async fn archive_partial(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::WriteTemplates)?;
    state.archive(Kind::Partial, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
