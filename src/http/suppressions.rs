//! The suppression list: `GET /v1/suppressions`, and `GET/PUT/DELETE
//! /v1/suppressions/{channel}/{address}`. Receipts add to it (a hard
//! bounce, a complaint); an operator may add an address by hand or take
//! one off, after which sends go to it again. Reading needs `read`,
//! changing needs `admin`: taking an address off risks the sender's
//! reputation with the providers.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::{ApiError, ApiResult, FieldError};
use super::json::{put_answer, JsonBody};
use super::openapi::{AuthErrors, BodyErrors, Invalid, NotFound};
use super::AppState;
use crate::service::receipts::PutSuppression;
use crate::store::receipts::SuppressionRow;
use crate::util::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, put, remove))
}

/// An address missive does not send to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suppression {
    /// `email` or `sms`.
    pub channel: String,
    /// The address (email addresses lower-cased).
    pub address: String,
    /// `bounced` or `complained`.
    pub reason: String,
    /// Who put it here: `twilio`, `sendgrid`, `postmark` (a receipt),
    /// `api` or `console` (by hand).
    pub source: String,
    /// The provider's (or the operator's) words.
    pub detail: String,
    /// The delivery whose receipt put it here.
    pub delivery_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<SuppressionRow> for Suppression {
    fn from(r: SuppressionRow) -> Self {
        Suppression {
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            channel: r.channel,
            address: r.address,
            reason: r.reason,
            source: r.source,
            detail: r.detail,
            delivery_id: r.delivery_id,
        }
    }
}

/// A page of the list, by channel and address.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionPage {
    pub items: Vec<Suppression>,
    /// Give as `cursor` for the next page; none on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `email` or `sms`.
    pub channel: Option<String>,
    /// `bounced` or `complained`.
    pub reason: Option<String>,
    /// 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `{channel}` and `{address}` in a suppression's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct KeyParams {
    /// `email` or `sms`.
    channel: String,
    /// An email address, or a phone number in E.164 (`+8613800000000`).
    address: String,
}

/// List suppressed addresses.
///
/// Scope `read`. Ordered by channel and address, with cursor pagination.
#[utoipa::path(
    get,
    path = "/v1/suppressions",
    operation_id = "list_suppressions",
    tag = "suppressions",
    security(("api_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of suppressions", body = SuppressionPage),
        AuthErrors, Invalid
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<SuppressionPage>> {
    caller.require(Permission::ReadSuppressions)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => return Err(ApiError::invalid("limit", "must be a number from 1 to 500")),
        },
    };
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.split_once(':')
                .map(|(ch, a)| (ch.to_string(), a.to_string()))
                .ok_or_else(|| {
                    ApiError::Invalid(vec![FieldError::new(
                        "cursor",
                        "give the next_cursor of the previous page",
                    )])
                })?,
        ),
    };
    let rows = state
        .suppressions(q.channel.as_deref(), q.reason.as_deref(), after, limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    let next_cursor = if more {
        rows.get(limit as usize - 1)
            .map(|r| format!("{}:{}", r.channel, r.address))
    } else {
        None
    };
    Ok(Json(SuppressionPage {
        items: rows
            .into_iter()
            .take(limit as usize)
            .map(Suppression::from)
            .collect(),
        next_cursor,
    }))
}

/// Show whether an address is suppressed.
///
/// Scope `read`. 404 when the address is not on the list.
#[utoipa::path(
    get,
    path = "/v1/suppressions/{channel}/{address}",
    operation_id = "get_suppression",
    tag = "suppressions",
    security(("api_key" = [])),
    params(KeyParams),
    responses(
        (status = 200, description = "The entry", body = Suppression),
        AuthErrors, NotFound, Invalid
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((channel, address)): Path<(String, String)>,
) -> ApiResult<Json<Suppression>> {
    caller.require(Permission::ReadSuppressions)?;
    Ok(Json(state.suppression(&channel, &address).await?.into()))
}

/// Suppress an address by hand.
///
/// Scope `admin`. Later sends to it are `suppressed` with this reason,
/// without calling a provider. Replaces the entry if there is one.
#[utoipa::path(
    put,
    path = "/v1/suppressions/{channel}/{address}",
    operation_id = "put_suppression",
    tag = "suppressions",
    security(("api_key" = [])),
    params(KeyParams),
    request_body = PutSuppression,
    responses(
        (status = 201, description = "Added", body = Suppression),
        (status = 200, description = "Replaced", body = Suppression),
        AuthErrors, BodyErrors
    )
)]
async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((channel, address)): Path<(String, String)>,
    body: JsonBody<PutSuppression>,
) -> ApiResult<(StatusCode, Json<Suppression>)> {
    caller.require(Permission::ManageSuppressions)?;
    let (row, created) = state
        .put_suppression(&channel, &address, body.value, "api")
        .await?;
    Ok(put_answer(created, row.into()))
}

/// Take an address off the suppression list.
///
/// Scope `admin`. Later sends go to it again. 404 when it was not on it.
#[utoipa::path(
    delete,
    path = "/v1/suppressions/{channel}/{address}",
    operation_id = "delete_suppression",
    tag = "suppressions",
    security(("api_key" = [])),
    params(KeyParams),
    responses(
        (status = 204, description = "Removed"),
        AuthErrors, NotFound, Invalid
    )
)]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((channel, address)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::ManageSuppressions)?;
    state.delete_suppression(&channel, &address).await?;
    Ok(StatusCode::NO_CONTENT)
}
