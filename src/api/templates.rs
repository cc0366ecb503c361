//! Templates (scope `templates`): `PUT /v1/templates/{key}` makes a new
//! version when the content changes; `GET /v1/templates/{key}` shows the
//! current one.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{ApiError, ApiResult, FieldError};
use super::json::JsonBody;
use super::AppState;
use crate::render::{Parts, TemplateContent};
use crate::templates::{save, valid_key, SaveError};
use crate::util::{opt_rfc3339, rfc3339};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/templates/{key}", get(show).put(put))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutTemplate {
    #[serde(default)]
    name: Option<String>,
    channels: BTreeMap<String, Parts>,
    #[serde(default)]
    locales: BTreeMap<String, BTreeMap<String, Parts>>,
}

async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<PutTemplate>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require("templates")?;
    if !valid_key(&key) {
        return Err(ApiError::invalid("key", "1 to 100 letters, digits, '-', '_' or '.'"));
    }
    let b = body.value;
    if b.channels.is_empty() {
        return Err(ApiError::invalid("channels", "give content for at least one channel"));
    }
    let name = b.name.unwrap_or_else(|| key.clone());
    let content = TemplateContent { channels: b.channels, locales: b.locales };
    let (version, created) = save(state.store.as_ref(), &key, &name, &content).await.map_err(|e| match e {
        SaveError::Invalid(errs) => ApiError::Invalid(errs.into_iter().map(FieldError::from).collect()),
        SaveError::Store(e) => e.into(),
    })?;
    let status = if created && version == 1 { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({"key": key, "name": name, "version": version, "changed": created}))))
}

async fn show(State(state): State<AppState>, caller: Caller, Path(key): Path<String>) -> ApiResult<Json<Value>> {
    caller.require("templates").or_else(|_| caller.require("read"))?;
    let t = state
        .store
        .get_template(&key, None)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no template `{key}`")))?;
    let content: Value = serde_json::from_str(&t.content).unwrap_or_default();
    Ok(Json(json!({
        "key": t.key,
        "name": t.name,
        "version": t.version,
        "channels": content.get("channels").cloned().unwrap_or_default(),
        "locales": content.get("locales").cloned().unwrap_or_default(),
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
        "archived_at": opt_rfc3339(t.archived_at),
    })))
}
