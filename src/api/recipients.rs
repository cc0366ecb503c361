//! Recipient profiles: `PUT/GET/DELETE /v1/recipients/{id}`. A profile holds
//! addresses, locale, timezone, preferences (opt-outs by channel and
//! category) and quiet hours.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::put;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{ApiError, ApiResult, FieldError};
use super::json::JsonBody;
use super::AppState;
use crate::accept::{
    check_email, check_locale, check_phone, check_timezone, check_url, CATEGORIES,
};
use crate::render::CHANNEL_PARTS;
use crate::store::RecipientRow;
use crate::util::{now_ms, rfc3339};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/recipients/{id}", put(upsert).get(show).delete(remove))
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    #[serde(default)]
    pub channels: BTreeMap<String, bool>,
    #[serde(default)]
    pub categories: BTreeMap<String, bool>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutRecipient {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    webhook_url: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    preferences: Preferences,
    #[serde(default)]
    quiet_hours: Option<QuietHours>,
}

/// "HH:MM", 00:00 to 23:59.
pub fn check_clock(s: &str) -> Result<(), String> {
    let ok = s.len() == 5
        && s.as_bytes()[2] == b':'
        && s[..2].parse::<u32>().is_ok_and(|h| h < 24)
        && s[3..].parse::<u32>().is_ok_and(|m| m < 60);
    if ok {
        Ok(())
    } else {
        Err("must be a 24-hour time such as 22:00".into())
    }
}

fn validate(id: &str, b: &PutRecipient) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if id.is_empty() || id.len() > 255 {
        errors.push(FieldError::new("id", "must be 1 to 255 characters"));
    }
    let mut check = |field: &str, v: &Option<String>, f: fn(&str) -> Result<(), String>| {
        if let Some(v) = v {
            if let Err(m) = f(v) {
                errors.push(FieldError::new(field, m));
            }
        }
    };
    check("email", &b.email, check_email);
    check("phone", &b.phone, check_phone);
    check("webhook_url", &b.webhook_url, check_url);
    check("locale", &b.locale, check_locale);
    check("timezone", &b.timezone, check_timezone);
    let channels: Vec<&str> = CHANNEL_PARTS.iter().map(|(c, _)| *c).collect();
    for c in b.preferences.channels.keys() {
        if !channels.contains(&c.as_str()) {
            errors.push(FieldError::new(
                format!("preferences.channels.{c}"),
                format!("unknown channel; channels are {}", channels.join(", ")),
            ));
        }
    }
    for c in b.preferences.categories.keys() {
        if !CATEGORIES.contains(&c.as_str()) {
            errors.push(FieldError::new(
                format!("preferences.categories.{c}"),
                format!("unknown category; categories are {}", CATEGORIES.join(", ")),
            ));
        }
    }
    if let Some(q) = &b.quiet_hours {
        for (field, v) in [("quiet_hours.start", &q.start), ("quiet_hours.end", &q.end)] {
            if let Err(m) = check_clock(v) {
                errors.push(FieldError::new(field, m));
            }
        }
        if q.start == q.end {
            errors.push(FieldError::new("quiet_hours.end", "must differ from start"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

pub fn recipient_json(r: &RecipientRow) -> Value {
    json!({
        "id": r.id,
        "email": r.email,
        "phone": r.phone,
        "webhook_url": r.webhook_url,
        "locale": r.locale,
        "timezone": r.timezone,
        "preferences": serde_json::from_str::<Value>(&r.preferences).unwrap_or_default(),
        "quiet_hours": r.quiet_hours.as_deref().and_then(|q| serde_json::from_str::<Value>(q).ok()),
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
    })
}

async fn upsert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<PutRecipient>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require("send")?;
    let b = body.value;
    validate(&id, &b)?;
    let now = now_ms();
    let mut row = RecipientRow {
        id: id.clone(),
        email: b.email,
        phone: b.phone,
        webhook_url: b.webhook_url,
        locale: b.locale,
        timezone: b.timezone,
        preferences: serde_json::to_string(&b.preferences).map_err(anyhow::Error::from)?,
        quiet_hours: b
            .quiet_hours
            .map(|q| serde_json::to_string(&q))
            .transpose()
            .map_err(anyhow::Error::from)?,
        created_at: now,
        updated_at: now,
    };
    let created = state.store.put_recipient(&row).await?;
    if let Some(stored) = state
        .store
        .get_recipients(std::slice::from_ref(&id))
        .await?
        .pop()
    {
        row = stored;
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(recipient_json(&row))))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    if !caller.has("send") {
        caller.require("read")?;
    }
    let r = state
        .store
        .get_recipients(std::slice::from_ref(&id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("there is no recipient {id}")))?;
    Ok(Json(recipient_json(&r)))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require("send")?;
    if state.store.delete_recipient(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("there is no recipient {id}")))
    }
}
