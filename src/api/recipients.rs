//! Recipient profiles: `PUT/GET/DELETE /v1/recipients/{id}`. A profile holds
//! addresses, locale, timezone, preferences (opt-outs by channel and
//! category) and quiet hours.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::{ApiError, ApiResult, FieldError};
use super::json::JsonBody;
use super::openapi::{AuthErrors, BodyErrors, Invalid, NotFound};
use super::AppState;
use crate::accept::{
    check_email, check_locale, check_phone, check_recipient_id, check_timezone, check_url,
    CATEGORIES,
};
use crate::render::CHANNEL_PARTS;
use crate::store::RecipientRow;
use crate::util::{now_ms, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upsert, show, remove))
}

/// Opt-outs: `false` turns a channel or category off for this recipient.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// By channel: `email`, `sms`, `webhook`, `in_app`.
    #[serde(default)]
    pub channels: BTreeMap<String, bool>,
    /// By category: `transactional`, `marketing`, `auth`.
    #[serde(default)]
    pub categories: BTreeMap<String, bool>,
}

/// Hours in the recipient's timezone when `marketing` and `low` priority
/// notifications wait for the end; `auth` and `high` go now.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, e.g. `22:00`.
    pub start: String,
    /// `HH:MM`, e.g. `07:00`.
    pub end: String,
}

/// A recipient profile; every field is replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRecipient {
    #[serde(default)]
    email: Option<String>,
    /// E.164, e.g. `+8613800000000`.
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    webhook_url: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    /// An IANA timezone, e.g. `Asia/Shanghai`.
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    preferences: Preferences,
    #[serde(default)]
    quiet_hours: Option<QuietHours>,
}

/// A stored recipient profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recipient {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub webhook_url: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    #[schema(value_type = Preferences)]
    pub preferences: Value,
    #[schema(value_type = Option<QuietHours>)]
    pub quiet_hours: Option<Value>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// `{id}` in a recipient's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct IdParam {
    /// The recipient's id: your user id, 1 to 255 characters.
    id: String,
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

/// A recipient id in a path: 422 naming `id` when it can't be one.
pub(super) fn valid_id(id: &str) -> Result<(), ApiError> {
    check_recipient_id(id).map_err(|m| ApiError::invalid("id", m))
}

fn validate(id: &str, b: &PutRecipient) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Err(m) = check_recipient_id(id) {
        errors.push(FieldError::new("id", m));
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

impl From<RecipientRow> for Recipient {
    fn from(r: RecipientRow) -> Self {
        Recipient {
            preferences: serde_json::from_str(&r.preferences).unwrap_or_default(),
            quiet_hours: r
                .quiet_hours
                .as_deref()
                .and_then(|q| serde_json::from_str(q).ok()),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            id: r.id,
            email: r.email,
            phone: r.phone,
            webhook_url: r.webhook_url,
            locale: r.locale,
            timezone: r.timezone,
        }
    }
}

/// Create or replace a recipient profile.
///
/// Scope `send`.
#[utoipa::path(
    put,
    path = "/v1/recipients/{id}",
    operation_id = "put_recipient",
    tag = "recipients",
    security(("api_key" = [])),
    params(IdParam),
    request_body = PutRecipient,
    responses(
        (status = 201, description = "Created", body = Recipient),
        (status = 200, description = "Replaced", body = Recipient),
        AuthErrors, BodyErrors
    )
)]
async fn upsert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<PutRecipient>,
) -> ApiResult<(StatusCode, Json<Recipient>)> {
    caller.require(Permission::WriteRecipients)?;
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
    Ok((status, Json(row.into())))
}

/// Show a recipient profile.
///
/// Scope `send` or `read`.
#[utoipa::path(
    get,
    path = "/v1/recipients/{id}",
    operation_id = "get_recipient",
    tag = "recipients",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "The profile", body = Recipient),
        AuthErrors, NotFound, Invalid
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Recipient>> {
    caller.require(Permission::ReadRecipients)?;
    valid_id(&id)?;
    let r = state
        .store
        .get_recipients(std::slice::from_ref(&id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("there is no recipient {id}")))?;
    Ok(Json(r.into()))
}

/// Delete a recipient.
///
/// Scope `send`. Deletes the profile and the recipient's inbox messages,
/// and revokes every inbox token issued for it (requests with them get 401,
/// open streams end within 5 seconds). 404 when there was neither a
/// profile nor a message; its tokens are revoked all the same.
#[utoipa::path(
    delete,
    path = "/v1/recipients/{id}",
    operation_id = "delete_recipient",
    tag = "recipients",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 204, description = "Deleted"),
        AuthErrors, NotFound, Invalid
    )
)]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::WriteRecipients)?;
    valid_id(&id)?;
    let erased = state.store.delete_recipient(&id).await?;
    state
        .inbox
        .remember_generation(&id, erased.token_generation);
    tracing::info!(recipient = %id, key_id = %caller.key_id, messages = erased.messages, "recipient deleted");
    if erased.profile || erased.messages > 0 {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("there is no recipient {id}")))
    }
}
