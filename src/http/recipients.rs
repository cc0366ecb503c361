//! Recipient profiles: `PUT/GET/DELETE /v1/recipients/{id}`. A profile holds
//! addresses, locale, timezone, preferences (opt-outs by channel and
//! category) and quiet hours.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::{ApiError, ApiResult};
use super::json::{put_answer, JsonBody};
use super::openapi::{AuthErrors, BodyErrors, Invalid, NotFound};
use super::AppState;
use crate::domain::check::check_recipient_id;
use crate::service::recipients::{Preferences, PutRecipient, QuietHours};
use crate::store::RecipientRow;
use crate::util::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upsert, show, remove))
}

/// A stored recipient profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recipient {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub webhook_url: Option<String>,
    pub chat: Option<String>,
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
    /// The keys of the topics it is subscribed to.
    pub topics: Vec<String>,
}

/// `{id}` in a recipient's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct IdParam {
    /// The recipient's id: your user id, 1 to 255 characters.
    id: String,
}

/// A recipient id in a path: 422 naming `id` when it can't be one.
pub(super) fn valid_id(id: &str) -> Result<(), ApiError> {
    check_recipient_id(id).map_err(|m| ApiError::invalid("id", m))
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
            chat: r.chat,
            locale: r.locale,
            timezone: r.timezone,
            topics: Vec::new(),
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
    let (row, created) = state.put_recipient(&id, body.value).await?;
    let mut r = Recipient::from(row);
    r.topics = state.store.topics_of(&id).await?;
    Ok(put_answer(created, r))
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
    let mut r = Recipient::from(state.recipient(&id).await?);
    r.topics = state.store.topics_of(&id).await?;
    Ok(Json(r))
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
    let erased = state.delete_recipient(&id).await?;
    tracing::info!(recipient = %id, key_id = %caller.key_id, messages = erased.messages, "recipient deleted");
    Ok(StatusCode::NO_CONTENT)
}
