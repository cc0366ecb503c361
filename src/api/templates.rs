//! Templates (scope `templates`): `PUT /v1/templates/{key}` makes a new
//! immutable version when the content changes; list, show, versions,
//! rollback (`activate`), archive (`DELETE`) and preview.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{ApiError, ApiResult, FieldError};
use super::json::JsonBody;
use super::AppState;
use crate::render::{Parts, TemplateContent};
use crate::store::TemplateRow;
use crate::templates::{save, valid_key, SaveError};
use crate::util::{now_ms, opt_rfc3339, rfc3339};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/templates", get(list))
        .route("/v1/templates/{key}", get(show).put(put).delete(archive))
        .route("/v1/templates/{key}/versions", get(versions))
        .route("/v1/templates/{key}/versions/{n}", get(version))
        .route("/v1/templates/{key}/versions/{n}/activate", post(activate))
        .route("/v1/templates/{key}/preview", post(preview))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutTemplate {
    #[serde(default)]
    name: Option<String>,
    channels: BTreeMap<String, Parts>,
    #[serde(default)]
    locales: BTreeMap<String, BTreeMap<String, Parts>>,
    #[serde(default)]
    settings: crate::render::TemplateSettings,
}

async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<PutTemplate>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require("templates")?;
    if !valid_key(&key) {
        return Err(ApiError::invalid(
            "key",
            "1 to 100 letters, digits, '-', '_' or '.'",
        ));
    }
    let b = body.value;
    if b.channels.is_empty() {
        return Err(ApiError::invalid(
            "channels",
            "give content for at least one channel",
        ));
    }
    let name = b.name.unwrap_or_else(|| key.clone());
    let content = TemplateContent {
        channels: b.channels,
        locales: b.locales,
        settings: b.settings,
    };
    let (version, created) = save(state.store.as_ref(), &key, &name, &content)
        .await
        .map_err(|e| match e {
            SaveError::Invalid(errs) => {
                ApiError::Invalid(errs.into_iter().map(FieldError::from).collect())
            }
            SaveError::Store(e) => e.into(),
        })?;
    let status = if created && version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({"key": key, "name": name, "version": version, "changed": created})),
    ))
}

fn can_read(caller: &Caller) -> Result<(), ApiError> {
    if caller.has("templates") {
        Ok(())
    } else {
        caller.require("read")
    }
}

fn template_json(t: &TemplateRow, current: i64) -> Value {
    let content: Value = serde_json::from_str(&t.content).unwrap_or_default();
    json!({
        "key": t.key,
        "name": t.name,
        "version": t.version,
        "current_version": current,
        "channels": content.get("channels").cloned().unwrap_or_default(),
        "locales": content.get("locales").cloned().unwrap_or_default(),
        "settings": content.get("settings").cloned().unwrap_or_else(|| json!({})),
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
        "archived_at": opt_rfc3339(t.archived_at),
    })
}

async fn load(state: &AppState, key: &str, version: Option<i64>) -> ApiResult<TemplateRow> {
    let t = state.store.get_template(key, version).await?;
    match (t, version) {
        (Some(t), _) => Ok(t),
        (None, Some(n)) if state.store.get_template(key, None).await?.is_some() => Err(
            ApiError::NotFound(format!("template `{key}` has no version {n}")),
        ),
        (None, _) => Err(ApiError::NotFound(format!("there is no template `{key}`"))),
    }
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    can_read(&caller)?;
    let t = load(&state, &key, None).await?;
    Ok(Json(template_json(&t, t.version)))
}

async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    can_read(&caller)?;
    let items: Vec<Value> = state
        .store
        .list_templates(true)
        .await?
        .iter()
        .map(|t| {
            json!({
                "key": t.key,
                "name": t.name,
                "current_version": t.current_version,
                "created_at": rfc3339(t.created_at),
                "updated_at": rfc3339(t.updated_at),
                "archived_at": opt_rfc3339(t.archived_at),
            })
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    can_read(&caller)?;
    let current = load(&state, &key, None).await?.version;
    let items: Vec<Value> = state
        .store
        .template_versions(&key)
        .await?
        .iter()
        .rev()
        .map(|v| json!({"version": v.version, "name": v.name, "current": v.version == current, "created_at": rfc3339(v.created_at)}))
        .collect();
    Ok(Json(json!({"items": items})))
}

fn version_param(n: &str) -> ApiResult<i64> {
    n.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| ApiError::invalid("version", "must be a version number (1, 2, ...)"))
}

async fn version(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, n)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    can_read(&caller)?;
    let n = version_param(&n)?;
    let current = load(&state, &key, None).await?.version;
    let t = load(&state, &key, Some(n)).await?;
    Ok(Json(template_json(&t, current)))
}

async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, n)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require("templates")?;
    let n = version_param(&n)?;
    load(&state, &key, Some(n)).await?;
    state
        .store
        .activate_template_version(&key, n, now_ms())
        .await?;
    let t = load(&state, &key, None).await?;
    Ok(Json(template_json(&t, t.version)))
}

async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require("templates")?;
    load(&state, &key, None).await?;
    state.store.archive_template(&key, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    version: Option<i64>,
    /// Unsaved content to preview instead of a stored version (the
    /// template need not exist yet): `channels`, `locales`, `settings` as in
    /// `PUT`.
    #[serde(default)]
    draft: Option<TemplateContent>,
}

/// Renders every channel of a template version (or of an unsaved draft)
/// with the given data, without sending anything. A compile or render error
/// is a 422 naming the field (and the line, for compile errors).
async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<PreviewRequest>,
) -> ApiResult<Json<Value>> {
    can_read(&caller)?;
    let req = body.value;
    if let Some(tz) = &req.timezone {
        crate::accept::check_timezone(tz).map_err(|m| ApiError::invalid("timezone", m))?;
    }
    let invalid = |errs: Vec<crate::render::TemplateError>| {
        ApiError::Invalid(errs.into_iter().map(FieldError::from).collect())
    };
    let (version, compiled) = match req.draft {
        Some(draft) => {
            if req.version.is_some() {
                return Err(ApiError::invalid(
                    "version",
                    "give either a version or a draft, not both",
                ));
            }
            let c = crate::render::Compiled::compile(&draft, "channels").map_err(invalid)?;
            (None, std::sync::Arc::new(c))
        }
        None => {
            let t = load(&state, &key, req.version).await?;
            let c = state
                .renderer
                .stored(&t.key, t.version, &t.content)
                .map_err(invalid)?;
            (Some(t.version), c)
        }
    };
    let data = req.data.unwrap_or_else(|| json!({}));
    if !data.is_object() {
        return Err(ApiError::invalid("data", "must be a JSON object"));
    }
    let mut channels = serde_json::Map::new();
    let mut errors = Vec::new();
    for channel in compiled.channels() {
        match state.renderer.render_channel(
            &compiled,
            channel,
            req.locale.as_deref(),
            req.timezone.as_deref(),
            &data,
        ) {
            Ok(Some(parts)) => {
                channels.insert(channel.clone(), json!(parts));
            }
            Ok(None) => {}
            Err(e) => errors.push(FieldError::new(
                e.field,
                format!("{channel}: {}", e.message),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(Json(
        json!({"key": key, "version": version, "locale": req.locale, "channels": channels}),
    ))
}
