//! A recipient's in-app inbox: `POST /v1/recipients/{id}/token` (a token a
//! browser may use for that inbox only), the list and its changes under
//! `/v1/recipients/{id}/inbox`, and live streams over Server-Sent Events
//! (`/inbox/stream`) and WebSocket (`/inbox/ws`).
//!
//! Every inbox route takes an API key (`read` or `send` to look, `send` to
//! change) or a recipient token, in `Authorization: Bearer` or, for
//! EventSource and WebSocket which can't set headers, as `?token=`. An
//! open stream checks its credential again every second and ends (`end`
//! event `revoked`, WebSocket close 4003) once the key is revoked or the
//! recipient's tokens are (deleting the recipient revokes them).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream::{self, BoxStream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{bearer, Caller, Permission};
use super::error::{ApiError, ApiResult, FieldError};
use super::json::JsonBody;
use super::openapi::{AuthErrors, BodyErrors, Invalid, NotFound};
use super::recipients::{valid_id, IdParam};
use super::AppState;
use crate::inbox::feed::{feed, End, Guard, Item};
use crate::inbox::token::{self, Claims};
use crate::inbox::{Event, Inbox, Message, VerifyError};
use crate::util::rfc3339;

/// The inbox routes; `cors_origins` is `inbox.cors_origins`.
pub fn router(cors_origins: &[String]) -> OpenApiRouter<AppState> {
    let inbox = OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(read_all))
        .routes(routes!(sse))
        .routes(routes!(ws))
        .routes(routes!(archive))
        .routes(routes!(read_one));
    let inbox = match cors(cors_origins) {
        Some(layer) => inbox.layer(layer),
        None => inbox,
    };
    OpenApiRouter::new()
        .routes(routes!(issue_token, revoke_tokens))
        .routes(routes!(preference_link))
        .merge(inbox)
}

/// `{id}` and `{message_id}` in a message's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct MessageParams {
    /// The recipient's id.
    id: String,
    /// The message's id.
    message_id: String,
}

/// A token that opens one recipient's inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxToken {
    /// Give it as `Authorization: Bearer <token>`, or `?token=` on streams.
    pub token: String,
    pub recipient: String,
    /// RFC 3339.
    pub expires_at: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// A page of a recipient's inbox, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub items: Vec<Message>,
    /// Give as `cursor` for the next page; none on the last page.
    pub next_cursor: Option<String>,
    pub unread_count: i64,
}

/// How many messages were marked read.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedRead {
    pub marked_read: usize,
}

/// CORS for the inbox routes: none when no origin is configured.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

/// Who is asking for an inbox: an API key or a recipient token.
pub enum InboxAuth {
    Key(Caller),
    Token(Claims),
}

/// `token` from a query string.
pub fn query_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

fn token_error(e: VerifyError) -> ApiError {
    match e {
        VerifyError::Token(e) => ApiError::Unauthorized(e.to_string()),
        VerifyError::Store(e) => e.into(),
    }
}

impl FromRequestParts<AppState> for InboxAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match bearer(&parts.headers) {
            Some(t) if t.starts_with(token::PREFIX) => {
                Ok(InboxAuth::Token(state.inbox.verify_token(t).await.map_err(token_error)?))
            }
            Some(_) => Ok(InboxAuth::Key(Caller::from_request_parts(parts, state).await?)),
            None => match query_token(parts.uri.query()) {
                Some(t) => Ok(InboxAuth::Token(state.inbox.verify_token(&t).await.map_err(token_error)?)),
                None => Err(ApiError::Unauthorized(
                    "send an API key or an inbox token in the Authorization: Bearer header, or an inbox token as ?token="
                        .into(),
                )),
            },
        }
    }
}

impl InboxAuth {
    /// May this caller read (`change`: also change) `recipient`'s inbox?
    pub fn allow(&self, recipient: &str, change: bool) -> Result<(), ApiError> {
        match self {
            InboxAuth::Token(c) if c.recipient == recipient => Ok(()),
            InboxAuth::Token(_) => Err(ApiError::Forbidden(
                "this inbox token is for another recipient".into(),
            )),
            InboxAuth::Key(k) if change => Ok(k.require(Permission::ChangeInbox)?),
            InboxAuth::Key(k) => Ok(k.require(Permission::ReadInbox)?),
        }
    }

    /// May this caller act on `recipient` where an API key needs
    /// `permission`? A recipient token may, for its own recipient only.
    pub fn allow_for(&self, recipient: &str, permission: Permission) -> Result<(), ApiError> {
        match self {
            InboxAuth::Token(c) if c.recipient == recipient => Ok(()),
            InboxAuth::Token(_) => Err(ApiError::Forbidden(
                "this recipient token is for another recipient".into(),
            )),
            InboxAuth::Key(k) => Ok(k.require(permission)?),
        }
    }

    /// When a stream opened with this must end (token expiry).
    pub fn expires_at(&self) -> Option<i64> {
        match self {
            InboxAuth::Token(c) => Some(c.expires_at),
            InboxAuth::Key(_) => None,
        }
    }

    fn may_change(&self) -> bool {
        match self {
            InboxAuth::Token(_) => true,
            InboxAuth::Key(k) => k.may(Permission::ChangeInbox),
        }
    }

    /// Checks again, for an open stream, that this credential holds (the
    /// same cached checks a request makes). When the store can't answer,
    /// the stream goes on: the next check asks again.
    fn guard(&self, state: &AppState) -> Guard {
        match self {
            InboxAuth::Key(caller) => {
                let (caller, state) = (caller.clone(), state.clone());
                Arc::new(move || {
                    let (caller, state) = (caller.clone(), state.clone());
                    Box::pin(async move {
                        caller.still_valid(&state).await.unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "could not check an inbox stream's API key");
                            true
                        })
                    })
                })
            }
            InboxAuth::Token(claims) => {
                let (claims, inbox) = (claims.clone(), state.inbox.clone());
                Arc::new(move || {
                    let (claims, inbox) = (claims.clone(), inbox.clone());
                    Box::pin(async move {
                        match inbox.check_claims(&claims).await {
                            Ok(()) => true,
                            Err(VerifyError::Token(_)) => false,
                            Err(VerifyError::Store(e)) => {
                                tracing::warn!(error = %e, "could not check an inbox stream's token");
                                true
                            }
                        }
                    })
                })
            }
        }
    }
}

/// Issue an inbox token.
///
/// Scope `send`. A token a browser may use for this recipient's inbox only
/// (list, mark read, archive, streams), valid for `inbox.token_ttl`.
#[utoipa::path(
    post,
    path = "/v1/recipients/{id}/token",
    operation_id = "issue_inbox_token",
    tag = "inbox",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 201, description = "The token", body = InboxToken),
        AuthErrors, Invalid
    )
)]
async fn issue_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(
    StatusCode,
    [(HeaderName, &'static str); 1],
    Json<InboxToken>,
)> {
    caller.require(Permission::Send)?;
    valid_id(&id)?;
    let (token, expires_at) = state.inbox.issue_token(&id).await?;
    let ttl = state.inbox.config().token_ttl;
    Ok((
        StatusCode::CREATED,
        // A credential: no cache may keep it.
        [(header::CACHE_CONTROL, "no-store")],
        Json(InboxToken {
            token,
            recipient: id,
            expires_at: rfc3339(expires_at),
            expires_in: ttl.as_secs_f64().ceil() as u64,
        }),
    ))
}

/// What a preference link is made for.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceLinkRequest {
    /// A category (`transactional` or `marketing`): the link's one-click
    /// unsubscribe (`POST /u/{token}`) turns it off. Without one, the link
    /// opens the preference page only.
    #[serde(default)]
    category: Option<String>,
}

/// A recipient's preference link.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreferenceLink {
    pub recipient: String,
    /// `/p/{token}`: the preference page, no login needed. Absolute when
    /// `server.public_url` is set.
    pub url: String,
    /// `/u/{token}`: RFC 8058 one-click unsubscribe (POST) from the
    /// category; a GET shows the preference page. Only with a category.
    pub unsubscribe_url: Option<String>,
    /// RFC 3339.
    pub expires_at: String,
}

/// Make a preference link.
///
/// Scope `send`. A link for the recipient's own preference page (channels
/// and categories on or off, its topics), valid for
/// `inbox.preference_link_ttl` without a login, for this recipient only.
/// Revoked with the recipient's tokens (`DELETE .../token`).
#[utoipa::path(
    post,
    path = "/v1/recipients/{id}/preference-link",
    operation_id = "make_preference_link",
    tag = "recipients",
    security(("api_key" = [])),
    params(IdParam),
    request_body = PreferenceLinkRequest,
    responses(
        (status = 201, description = "The link", body = PreferenceLink),
        AuthErrors, BodyErrors, NotFound
    )
)]
async fn preference_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<PreferenceLinkRequest>,
) -> ApiResult<(
    StatusCode,
    [(HeaderName, &'static str); 1],
    Json<PreferenceLink>,
)> {
    caller.require(Permission::Send)?;
    valid_id(&id)?;
    let category = body.value.category;
    if let Some(c) = &category {
        match crate::domain::Category::parse(c) {
            Ok(crate::domain::Category::Auth) => {
                return Err(ApiError::invalid(
                    "category",
                    "auth messages can't be turned off",
                ))
            }
            Ok(_) => {}
            Err(m) => return Err(ApiError::invalid("category", m)),
        }
    }
    state.recipient(&id).await?;
    let (token, expires_at) = state
        .inbox
        .preference_token(&id, category.as_deref())
        .await?;
    let base = state.config.server.public_url.clone().unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(PreferenceLink {
            recipient: id,
            url: format!("{base}/p/{token}"),
            unsubscribe_url: category.map(|_| format!("{base}/u/{token}")),
            expires_at: rfc3339(expires_at),
        }),
    ))
}

/// Revoke a recipient's inbox tokens.
///
/// Scope `send`. Every token issued for this recipient so far stops
/// working: requests with it get 401 and its open streams end within 5
/// seconds. Tokens issued afterwards work. (Deleting the recipient does
/// this too.)
#[utoipa::path(
    delete,
    path = "/v1/recipients/{id}/token",
    operation_id = "revoke_inbox_tokens",
    tag = "inbox",
    security(("api_key" = [])),
    params(IdParam),
    responses(
        (status = 204, description = "Revoked"),
        AuthErrors, Invalid
    )
)]
async fn revoke_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::Send)?;
    valid_id(&id)?;
    state.inbox.revoke_tokens(&id).await?;
    tracing::info!(recipient = %id, key_id = %caller.key_id, "inbox tokens revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Inbox list parameters. Unknown parameters are refused.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only unread messages.
    #[param(value_type = Option<bool>)]
    pub unread: Option<String>,
    /// 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// An inbox token, instead of the Authorization header.
    pub token: Option<String>,
}

/// (unread only, limit) from the query.
pub fn list_params(q: &ListQuery) -> Result<(bool, i64), ApiError> {
    let mut errors = Vec::new();
    let unread = match q.unread.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            errors.push(FieldError::new("unread", "must be true or false"));
            false
        }
    };
    let limit = match &q.limit {
        None => 50,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                errors.push(FieldError::new("limit", "must be a number from 1 to 500"));
                50
            }
        },
    };
    if errors.is_empty() {
        Ok((unread, limit))
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// List a recipient's inbox.
///
/// Scope `send` or `read`, or the recipient's inbox token. Newest first,
/// archived messages left out.
#[utoipa::path(
    get,
    path = "/v1/recipients/{id}/inbox",
    operation_id = "list_inbox",
    tag = "inbox",
    security(("api_key" = []), ("inbox_token" = [])),
    params(IdParam, ListQuery),
    responses(
        (status = 200, description = "A page of messages", body = InboxPage),
        AuthErrors, Invalid
    )
)]
async fn list(
    State(state): State<AppState>,
    auth: InboxAuth,
    Path(id): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<InboxPage>> {
    auth.allow(&id, false)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let (unread, limit) = list_params(&q)?;
    let store = state.inbox.store();
    let rows = store
        .inbox_list(&id, unread, q.cursor.as_deref(), limit + 1)
        .await?;
    let unread_count = store.inbox_unread_count(&id).await?;
    let more = rows.len() as i64 > limit;
    let items = rows
        .iter()
        .take(limit as usize)
        .map(Message::from)
        .collect();
    let next = if more {
        rows.get(limit as usize - 1).map(|m| m.id.clone())
    } else {
        None
    };
    Ok(Json(InboxPage {
        items,
        next_cursor: next,
        unread_count,
    }))
}

/// Mark a message read.
///
/// Scope `send`, or the recipient's inbox token.
#[utoipa::path(
    post,
    path = "/v1/recipients/{id}/inbox/{message_id}/read",
    operation_id = "mark_inbox_message_read",
    tag = "inbox",
    security(("api_key" = []), ("inbox_token" = [])),
    params(MessageParams),
    responses(
        (status = 200, description = "The message", body = Message),
        AuthErrors, NotFound
    )
)]
async fn read_one(
    State(state): State<AppState>,
    auth: InboxAuth,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<Message>> {
    auth.allow(&id, true)?;
    match state.inbox.mark_read(&id, &message_id).await? {
        Some(m) => Ok(Json(Message::from(&m))),
        None => Err(no_message(&id, &message_id)),
    }
}

fn no_message(id: &str, message_id: &str) -> ApiError {
    ApiError::NotFound(format!("recipient {id} has no message {message_id}"))
}

/// Mark every message read.
///
/// Scope `send`, or the recipient's inbox token.
#[utoipa::path(
    post,
    path = "/v1/recipients/{id}/inbox/read-all",
    operation_id = "mark_inbox_read",
    tag = "inbox",
    security(("api_key" = []), ("inbox_token" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "How many were marked read", body = MarkedRead),
        AuthErrors
    )
)]
async fn read_all(
    State(state): State<AppState>,
    auth: InboxAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<MarkedRead>> {
    auth.allow(&id, true)?;
    let n = state.inbox.mark_all_read(&id).await?;
    Ok(Json(MarkedRead { marked_read: n }))
}

/// Archive a message.
///
/// Scope `send`, or the recipient's inbox token. It leaves the inbox.
#[utoipa::path(
    delete,
    path = "/v1/recipients/{id}/inbox/{message_id}",
    operation_id = "archive_inbox_message",
    tag = "inbox",
    security(("api_key" = []), ("inbox_token" = [])),
    params(MessageParams),
    responses(
        (status = 204, description = "Archived"),
        AuthErrors, NotFound
    )
)]
async fn archive(
    State(state): State<AppState>,
    auth: InboxAuth,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.allow(&id, true)?;
    if state.inbox.archive(&id, &message_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_message(&id, &message_id))
    }
}

/// Stream parameters. Unknown parameters are refused.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// An inbox token, for clients that cannot set headers.
    pub token: Option<String>,
    /// Resume after this message id (the `Last-Event-ID` header wins).
    pub last_event_id: Option<String>,
}

/// Where to resume: the Last-Event-ID header (what EventSource sends on a
/// reconnect), else `?last_event_id=` (a page's first connection, or
/// WebSocket).
pub fn resume_from(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(query)
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .map(str::to_string)
}

/// Opens a feed for `id`: checks the caller, takes a place within the
/// connection limits (or 429).
fn open_feed(
    state: &AppState,
    auth: &InboxAuth,
    id: &str,
    resume: Option<String>,
) -> ApiResult<BoxStream<'static, Item>> {
    auth.allow(id, false)?;
    let sub = state
        .inbox
        .subscribe(id)
        .map_err(|e| ApiError::TooManyConnections(e.to_string()))?;
    Ok(feed(
        state.inbox.clone(),
        id.to_string(),
        sub,
        resume,
        auth.expires_at(),
        auth.guard(state),
    ))
}

fn end_reason(end: End) -> &'static str {
    match end {
        End::Lagged => "fell_behind",
        End::TokenExpired => "token_expired",
        End::Revoked => "revoked",
        End::Shutdown => "shutdown",
        End::Error => "error",
    }
}

fn sse_event(e: &Event) -> SseEvent {
    let ev = SseEvent::default().event(e.name()).data(&e.data);
    match &e.id {
        Some(id) => ev.id(id),
        None => ev,
    }
}

/// Stream a recipient's inbox (Server-Sent Events).
///
/// Scope `send` or `read`, or the recipient's inbox token. Events:
/// `message` (a new message), `read` (`{"ids": [...], "all": bool}`) and
/// `end` (`{"reason": ...}`, when the server closes the stream).
#[utoipa::path(
    get,
    path = "/v1/recipients/{id}/inbox/stream",
    operation_id = "stream_inbox",
    tag = "inbox",
    security(("api_key" = []), ("inbox_token" = [])),
    params(
        IdParam,
        StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this message id")
    ),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        AuthErrors, Invalid
    )
)]
async fn sse(
    State(state): State<AppState>,
    auth: InboxAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let feed = open_feed(
        &state,
        &auth,
        &id,
        resume_from(&headers, q.last_event_id.as_deref()),
    )?;
    let hello = SseEvent::default()
        .comment("connected")
        .retry(Duration::from_secs(2));
    let events = feed.map(|item| match item {
        Item::Event(e) => sse_event(&e),
        // Says why the server closed the stream: a client that fell behind
        // reconnects; one whose token expired needs a new token first.
        Item::End(end) => SseEvent::default()
            .event("end")
            .data(json!({"reason": end_reason(end)}).to_string()),
    });
    let body = stream::once(async { hello })
        .chain(events)
        .map(Ok::<_, Infallible>);
    let keep_alive = KeepAlive::new()
        .interval(state.inbox.config().heartbeat)
        .text("heartbeat");
    let mut resp = Sse::new(body).keep_alive(keep_alive).into_response();
    // Tells nginx and similar proxies not to buffer the stream.
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}

/// Stream a recipient's inbox (WebSocket).
///
/// Scope `send` or `read`, or the recipient's inbox token. Server frames:
/// `{"type": "message", "message": {...}}`, `{"type": "read", ...}`;
/// client commands: `{"type": "read", "id": ...}`, `{"type": "read_all"}`.
#[utoipa::path(
    get,
    path = "/v1/recipients/{id}/inbox/ws",
    operation_id = "inbox_websocket",
    tag = "inbox",
    security(("api_key" = []), ("inbox_token" = [])),
    params(IdParam, StreamQuery),
    responses(
        (status = 101, description = "Switched to WebSocket"),
        AuthErrors, Invalid
    )
)]
async fn ws(
    State(state): State<AppState>,
    auth: InboxAuth,
    Path(id): Path<String>,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let feed = open_feed(
        &state,
        &auth,
        &id,
        resume_from(&HeaderMap::new(), q.last_event_id.as_deref()),
    )?;
    let session = Session {
        inbox: state.inbox.clone(),
        recipient: id,
        may_change: auth.may_change(),
        heartbeat: state.inbox.config().heartbeat,
        guard: auth.guard(&state),
    };
    Ok(upgrade.on_upgrade(move |socket| session.run(socket, feed)))
}

/// A client command over WebSocket.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Read { id: String },
    ReadAll,
}

struct Session {
    inbox: Arc<Inbox>,
    recipient: String,
    may_change: bool,
    heartbeat: Duration,
    /// Checked before each command, as the feed checks it periodically.
    guard: Guard,
}

fn close_code(end: End) -> u16 {
    match end {
        End::Lagged => 4002,
        End::TokenExpired => 4001,
        End::Revoked => 4003,
        End::Shutdown => 1001,
        End::Error => 1011,
    }
}

impl Session {
    async fn run(self, mut socket: WebSocket, mut feed: BoxStream<'static, Item>) {
        let mut ping = tokio::time::interval(self.heartbeat);
        ping.tick().await;
        loop {
            let out = tokio::select! {
                item = feed.next() => match item {
                    Some(Item::Event(e)) => WsMessage::Text(e.ws.clone().into()),
                    Some(Item::End(end)) => {
                        let frame = CloseFrame { code: close_code(end), reason: end_reason(end).into() };
                        let _ = self.send(&mut socket, WsMessage::Close(Some(frame))).await;
                        return;
                    }
                    None => return,
                },
                msg = socket.recv() => match msg {
                    Some(Ok(WsMessage::Text(_))) if !(self.guard)().await => {
                        let end = End::Revoked;
                        let frame = CloseFrame { code: close_code(end), reason: end_reason(end).into() };
                        let _ = self.send(&mut socket, WsMessage::Close(Some(frame))).await;
                        return;
                    }
                    Some(Ok(WsMessage::Text(t))) => match self.command(&t).await {
                        Some(reply) => WsMessage::Text(reply.to_string().into()),
                        None => continue,
                    },
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                },
                _ = ping.tick() => WsMessage::Ping(Default::default()),
            };
            if self.send(&mut socket, out).await.is_err() {
                return;
            }
        }
    }

    /// A client that can't take a frame within two heartbeats is gone.
    async fn send(&self, socket: &mut WebSocket, msg: WsMessage) -> Result<(), ()> {
        match tokio::time::timeout(self.heartbeat * 2, socket.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    /// Runs a command; the answer is an error frame, if any (a change is
    /// confirmed by the `read` event every tab receives).
    async fn command(&self, text: &str) -> Option<Value> {
        let error = |m: String| Some(json!({"type": "error", "message": m}));
        let cmd: Command = match serde_json::from_str(text) {
            Ok(c) => c,
            Err(e) => return error(format!("not a command ({e}); send {{\"type\":\"read\",\"id\":\"...\"}} or {{\"type\":\"read_all\"}}")),
        };
        if !self.may_change {
            return error(
                "this API key lacks the `send` scope needed to mark messages read".into(),
            );
        }
        let done = match &cmd {
            Command::Read { id } => self
                .inbox
                .mark_read(&self.recipient, id)
                .await
                .map(|m| m.is_some()),
            Command::ReadAll => self
                .inbox
                .mark_all_read(&self.recipient)
                .await
                .map(|_| true),
        };
        match (done, cmd) {
            (Ok(true), _) => None,
            (Ok(false), Command::Read { id }) => error(format!("there is no message {id}")),
            (Ok(false), Command::ReadAll) => None,
            (Err(e), _) => {
                tracing::warn!(error = %e, "a WebSocket inbox command failed");
                error("something went wrong on our side; try again".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_params_are_checked() {
        assert_eq!(list_params(&ListQuery::default()).unwrap(), (false, 50));
        let q = ListQuery {
            unread: Some("true".into()),
            limit: Some("2".into()),
            ..Default::default()
        };
        assert_eq!(list_params(&q).unwrap(), (true, 2));
        let q = ListQuery {
            unread: Some("yes".into()),
            limit: Some("0".into()),
            ..Default::default()
        };
        match list_params(&q) {
            Err(ApiError::Invalid(e)) => assert_eq!(e.len(), 2),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn the_header_wins_over_the_query_for_resuming() {
        let mut h = HeaderMap::new();
        assert_eq!(resume_from(&h, Some("b")), Some("b".into()));
        h.insert("last-event-id", HeaderValue::from_static("a"));
        assert_eq!(resume_from(&h, Some("b")), Some("a".into()));
        assert_eq!(resume_from(&HeaderMap::new(), Some(" ")), None);
    }

    #[test]
    fn tokens_are_read_from_the_query() {
        assert_eq!(
            query_token(Some("last_event_id=x&token=mit1.a%2Eb")),
            Some("mit1.a.b".into())
        );
        assert_eq!(query_token(Some("t=1")), None);
        assert_eq!(query_token(None), None);
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            serde_json::from_str::<Command>(r#"{"type":"read","id":"m1"}"#).unwrap(),
            Command::Read { id: "m1".into() }
        );
        assert_eq!(
            serde_json::from_str::<Command>(r#"{"type":"read_all"}"#).unwrap(),
            Command::ReadAll
        );
        assert!(serde_json::from_str::<Command>(r#"{"type":"delete","id":"m1"}"#).is_err());
    }

    #[test]
    fn a_token_opens_its_own_inbox_only() {
        let t = InboxAuth::Token(Claims {
            recipient: "u_1".into(),
            expires_at: 1,
            generation: 0,
        });
        assert!(t.allow("u_1", true).is_ok());
        assert!(matches!(t.allow("u_2", false), Err(ApiError::Forbidden(_))));
    }
}
