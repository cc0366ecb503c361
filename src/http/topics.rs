//! Topics: `PUT/GET/DELETE /v1/topics/{key}`, `GET /v1/topics`, and a
//! topic's subscribers: `POST`/`DELETE /v1/topics/{key}/subscribers` with
//! `{"recipients": [ids]}` (up to 10,000 a call, idempotent) and
//! `GET /v1/topics/{key}/subscribers` (cursor pages). A send addresses a
//! topic with `"to": [{"topic": "key"}]`. Reading takes what reading a
//! recipient takes (scope `send` or `read`); changing, what changing one
//! takes (scope `send`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Permission};
use super::error::{ApiError, ApiResult};
use super::json::{put_answer, JsonBody};
use super::openapi::{AuthErrors, BodyErrors, Invalid, NotFound};
use super::AppState;
use crate::service::topics::{PutTopic, Subscribers};
use crate::store::topics::TopicRow;
use crate::util::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(upsert, show, remove))
        .routes(routes!(subscribers, subscribe, unsubscribe))
}

/// A topic.
#[derive(Debug, Serialize, ToSchema)]
pub struct Topic {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// How many recipients are subscribed (on a single topic's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribers: Option<i64>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl Topic {
    fn from(t: TopicRow, subscribers: Option<i64>) -> Topic {
        Topic {
            key: t.key,
            name: t.name,
            description: t.description,
            subscribers,
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
        }
    }
}

/// A page of topics.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicPage {
    pub items: Vec<Topic>,
    /// Give it as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// One subscriber.
#[derive(Debug, Serialize, ToSchema)]
pub struct Subscriber {
    pub recipient: String,
    /// RFC 3339: when it subscribed.
    pub subscribed_at: String,
}

/// A page of a topic's subscribers, by recipient id.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberPage {
    pub items: Vec<Subscriber>,
    /// Give it as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// What a subscribe or unsubscribe changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Changed {
    /// Newly subscribed (POST) or unsubscribed (DELETE); the others
    /// already were (or weren't).
    pub changed: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    fn limit(&self) -> Result<i64, ApiError> {
        match self.limit.as_deref() {
            None => Ok(100),
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=1000).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid(
                    "limit",
                    "must be a number from 1 to 1000",
                )),
            },
        }
    }

    fn cursor(&self) -> Result<Option<&str>, ApiError> {
        match self.cursor.as_deref() {
            Some(c) if c.is_empty() || c.len() > 255 => Err(ApiError::invalid(
                "cursor",
                "give the next_cursor of the previous page",
            )),
            c => Ok(c),
        }
    }
}

/// `{key}` in a topic's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct KeyParam {
    /// The topic's key: 1 to 100 letters, digits, `-`, `_` or `.`.
    key: String,
}

/// List topics.
///
/// Scope `send` or `read`. By key, with cursor pagination.
#[utoipa::path(
    get,
    path = "/v1/topics",
    operation_id = "list_topics",
    tag = "topics",
    security(("api_key" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of topics", body = TopicPage),
        AuthErrors, Invalid
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<TopicPage>> {
    caller.require(Permission::ReadRecipients)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = q.limit()?;
    let mut rows = state.store.list_topics(q.cursor()?, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|t| t.key.clone())
    } else {
        None
    };
    Ok(Json(TopicPage {
        items: rows.into_iter().map(|t| Topic::from(t, None)).collect(),
        next_cursor,
    }))
}

/// Create or replace a topic.
///
/// Scope `send`. Replacing changes the name and description; the
/// subscribers stay.
#[utoipa::path(
    put,
    path = "/v1/topics/{key}",
    operation_id = "put_topic",
    tag = "topics",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = PutTopic,
    responses(
        (status = 201, description = "Created", body = Topic),
        (status = 200, description = "Replaced", body = Topic),
        AuthErrors, BodyErrors
    )
)]
async fn upsert(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<PutTopic>,
) -> ApiResult<(StatusCode, Json<Topic>)> {
    caller.require(Permission::WriteRecipients)?;
    let (row, created) = state.put_topic(&key, body.value).await?;
    let count = state.store.count_subscribers(&key, None).await?;
    Ok(put_answer(created, Topic::from(row, Some(count))))
}

/// Show a topic.
///
/// Scope `send` or `read`. With how many are subscribed.
#[utoipa::path(
    get,
    path = "/v1/topics/{key}",
    operation_id = "get_topic",
    tag = "topics",
    security(("api_key" = [])),
    params(KeyParam),
    responses(
        (status = 200, description = "The topic", body = Topic),
        AuthErrors, NotFound, Invalid
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<Topic>> {
    caller.require(Permission::ReadRecipients)?;
    let row = state.topic(&key).await?;
    let count = state.store.count_subscribers(&key, None).await?;
    Ok(Json(Topic::from(row, Some(count))))
}

/// Delete a topic.
///
/// Scope `send`. Deletes the topic and its subscriptions (not the
/// recipients). A fan-out under way stops finding subscribers and ends.
#[utoipa::path(
    delete,
    path = "/v1/topics/{key}",
    operation_id = "delete_topic",
    tag = "topics",
    security(("api_key" = [])),
    params(KeyParam),
    responses(
        (status = 204, description = "Deleted"),
        AuthErrors, NotFound, Invalid
    )
)]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::WriteRecipients)?;
    state.delete_topic(&key).await?;
    tracing::info!(topic = %key, key_id = %caller.key_id, "topic deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// List a topic's subscribers.
///
/// Scope `send` or `read`. By recipient id, with cursor pagination.
#[utoipa::path(
    get,
    path = "/v1/topics/{key}/subscribers",
    operation_id = "list_topic_subscribers",
    tag = "topics",
    security(("api_key" = [])),
    params(KeyParam, PageQuery),
    responses(
        (status = 200, description = "A page of subscribers", body = SubscriberPage),
        AuthErrors, NotFound, Invalid
    )
)]
async fn subscribers(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<SubscriberPage>> {
    caller.require(Permission::ReadRecipients)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = q.limit()?;
    state.topic(&key).await?;
    let mut rows = state
        .store
        .subscribers(&key, q.cursor()?, limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|(r, _)| r.clone())
    } else {
        None
    };
    Ok(Json(SubscriberPage {
        items: rows
            .into_iter()
            .map(|(recipient, at)| Subscriber {
                recipient,
                subscribed_at: rfc3339(at),
            })
            .collect(),
        next_cursor,
    }))
}

/// Subscribe recipients to a topic.
///
/// Scope `send`. 1 to 10,000 stored recipients' ids a call; one already
/// subscribed stays as it was, so a repeated call changes nothing. An id
/// that names no stored recipient refuses the whole call (422 naming each
/// `recipients[i]`): store the profile first.
#[utoipa::path(
    post,
    path = "/v1/topics/{key}/subscribers",
    operation_id = "subscribe_to_topic",
    tag = "topics",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = Subscribers,
    responses(
        (status = 200, description = "How many were newly subscribed", body = Changed),
        AuthErrors, BodyErrors, NotFound
    )
)]
async fn subscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<Subscribers>,
) -> ApiResult<Json<Changed>> {
    caller.require(Permission::WriteRecipients)?;
    let changed = state.subscribe(&key, &body.value.recipients).await?;
    Ok(Json(Changed { changed }))
}

/// Unsubscribe recipients from a topic.
///
/// Scope `send`. 1 to 10,000 ids a call; an id not subscribed is no
/// error.
#[utoipa::path(
    delete,
    path = "/v1/topics/{key}/subscribers",
    operation_id = "unsubscribe_from_topic",
    tag = "topics",
    security(("api_key" = [])),
    params(KeyParam),
    request_body = Subscribers,
    responses(
        (status = 200, description = "How many were unsubscribed", body = Changed),
        AuthErrors, BodyErrors, NotFound
    )
)]
async fn unsubscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<Subscribers>,
) -> ApiResult<Json<Changed>> {
    caller.require(Permission::WriteRecipients)?;
    let changed = state.unsubscribe(&key, &body.value.recipients).await?;
    Ok(Json(Changed { changed }))
}
