//! A recipient's in-app inbox: `POST /v1/recipients/{id}/token` (a token a
//! browser may use for that inbox only), the list and its changes under
//! `/v1/recipients/{id}/inbox`, and live streams over Server-Sent Events
//! (`/inbox/stream`) and WebSocket (`/inbox/ws`).
//!
//! Every inbox route takes an API key (`read` or `send` to look, `send` to
//! change) or a recipient token, in `Authorization: Bearer` or, for
//! EventSource and WebSocket which can't set headers, as `?token=`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::stream::{self, BoxStream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use super::auth::{bearer, Caller};
use super::error::{ApiError, ApiResult, FieldError};
use super::AppState;
use crate::config::InboxConfig;
use crate::inbox::feed::{feed, End, Item};
use crate::inbox::token::{self, Claims, TokenError};
use crate::inbox::{message_json, Event, Inbox};
use crate::util::rfc3339;

pub fn router(cfg: &InboxConfig) -> Router<AppState> {
    let inbox = Router::new()
        .route("/v1/recipients/{id}/inbox", get(list))
        .route("/v1/recipients/{id}/inbox/read-all", post(read_all))
        .route("/v1/recipients/{id}/inbox/stream", get(sse))
        .route("/v1/recipients/{id}/inbox/ws", get(ws))
        .route("/v1/recipients/{id}/inbox/{message_id}", delete(archive))
        .route(
            "/v1/recipients/{id}/inbox/{message_id}/read",
            post(read_one),
        );
    let inbox = match cors(&cfg.cors_origins) {
        Some(layer) => inbox.layer(layer),
        None => inbox,
    };
    Router::new()
        .route("/v1/recipients/{id}/token", post(issue_token))
        .merge(inbox)
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
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
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

fn token_error(e: TokenError) -> ApiError {
    ApiError::Unauthorized(e.to_string())
}

impl FromRequestParts<AppState> for InboxAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match bearer(&parts.headers) {
            Some(t) if t.starts_with(token::PREFIX) => {
                Ok(InboxAuth::Token(state.inbox.verify_token(t).map_err(token_error)?))
            }
            Some(_) => Ok(InboxAuth::Key(Caller::from_request_parts(parts, state).await?)),
            None => match query_token(parts.uri.query()) {
                Some(t) => Ok(InboxAuth::Token(state.inbox.verify_token(&t).map_err(token_error)?)),
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
            InboxAuth::Key(k) if change => k.require("send"),
            InboxAuth::Key(k) if k.has("send") => Ok(()),
            InboxAuth::Key(k) => k.require("read"),
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
            InboxAuth::Key(k) => k.has("send"),
        }
    }
}

fn check_recipient_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 255 {
        return Err(ApiError::invalid("id", "must be 1 to 255 characters"));
    }
    Ok(())
}

async fn issue_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require("send")?;
    check_recipient_id(&id)?;
    let (token, expires_at) = state.inbox.issue_token(&id);
    let ttl = state.inbox.config().token_ttl;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": token,
            "recipient": id,
            "expires_at": rfc3339(expires_at),
            "expires_in": ttl.as_secs_f64().ceil() as u64,
        })),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub unread: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
    /// Accepted here too (the auth reads it).
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

async fn list(
    State(state): State<AppState>,
    auth: InboxAuth,
    Path(id): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    auth.allow(&id, false)?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let (unread, limit) = list_params(&q)?;
    let store = state.inbox.store();
    let rows = store
        .inbox_list(&id, unread, q.cursor.as_deref(), limit + 1)
        .await?;
    let unread_count = store.inbox_unread_count(&id).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<Value> = rows.iter().take(limit as usize).map(message_json).collect();
    let next = if more {
        rows.get(limit as usize - 1).map(|m| m.id.clone())
    } else {
        None
    };
    Ok(Json(
        json!({"items": items, "next_cursor": next, "unread_count": unread_count}),
    ))
}

async fn read_one(
    State(state): State<AppState>,
    auth: InboxAuth,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    auth.allow(&id, true)?;
    match state.inbox.mark_read(&id, &message_id).await? {
        Some(m) => Ok(Json(message_json(&m))),
        None => Err(ApiError::NotFound(format!(
            "recipient {id} has no message {message_id}"
        ))),
    }
}

async fn read_all(
    State(state): State<AppState>,
    auth: InboxAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.allow(&id, true)?;
    let n = state.inbox.mark_all_read(&id).await?;
    Ok(Json(json!({"marked_read": n})))
}

async fn archive(
    State(state): State<AppState>,
    auth: InboxAuth,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.allow(&id, true)?;
    if state.inbox.archive(&id, &message_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "recipient {id} has no message {message_id}"
        )))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    pub token: Option<String>,
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
    ))
}

fn end_reason(end: End) -> &'static str {
    match end {
        End::Lagged => "fell_behind",
        End::TokenExpired => "token_expired",
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
}

fn close_code(end: End) -> u16 {
    match end {
        End::Lagged => 4002,
        End::TokenExpired => 4001,
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
        });
        assert!(t.allow("u_1", true).is_ok());
        assert!(matches!(t.allow("u_2", false), Err(ApiError::Forbidden(_))));
    }
}
