//! Endpoints that hear of deliveries' statuses: each one with its URL,
//! event types, state (enabled, disabled and why, failing since when) and
//! the start of its secret, and below it its most recent attempts with the
//! endpoint's answers. Asks for what `GET /v1/endpoints` does; endpoints
//! are registered and changed through the API.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::html;

use super::page::{self, layout, render, Nav, PageResult};
use super::session::Session;
use crate::service::endpoints::{secret_prefix, types_of};
use crate::service::AppState;
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new().route("/console/endpoints", get(list))
}

/// Attempts shown per endpoint.
const RECENT: i64 = 20;

async fn list(State(state): State<AppState>, session: Session) -> Response {
    match page_with(&state, &session).await {
        Ok(r) | Err(r) => r,
    }
}

async fn page_with(state: &AppState, session: &Session) -> PageResult {
    session.require(page::ENDPOINTS)?;
    let endpoints = state.endpoints().await.map_err(page::failed)?;
    let mut recent = Vec::with_capacity(endpoints.len());
    for e in &endpoints {
        recent.push(
            state
                .endpoint_attempts(&e.id, None, None, RECENT)
                .await
                .map_err(page::failed)?,
        );
    }
    let now = now_ms();
    Ok(render(layout(
        "Endpoints",
        Some(session),
        Nav::Endpoints,
        html! {
            h1 { "Endpoints" }
            p.sub { "Where missive sends status events (delivery.sent, delivery.failed, notification.completed, …), signed with each endpoint's own secret. Register and change them with POST and PATCH /v1/endpoints." }
            @if endpoints.is_empty() {
                p.sub.empty { "No endpoints: no status events are written." }
            }
            @for (e, attempts) in endpoints.iter().zip(&recent) {
                section.endpoint data-endpoint=(e.id) {
                    h2 { code { (e.url) } }
                    table.grid.fields {
                        tbody {
                            tr { th { "Id" } td { code { (e.id) } } }
                            @if !e.description.is_empty() { tr { th { "Description" } td { (e.description) } } }
                            tr { th { "Events" } td {
                                @match types_of(e) {
                                    None => "every type",
                                    Some(ts) => (ts.join(", ")),
                                }
                            } }
                            tr { th { "State" } td {
                                @if e.enabled == 1 {
                                    span.badge.s-sent { "enabled" }
                                } @else {
                                    span.badge.s-failed { "disabled" }
                                    @if let Some(r) = &e.disabled_reason { " " (r) }
                                }
                                @if let Some(f) = e.failing_since { " · failing since " (page::when(f, now)) }
                            } }
                            tr { th { "Secret" } td { code { (secret_prefix(&e.secret)) } } }
                        }
                    }
                    @if attempts.is_empty() {
                        p.sub.empty { "No attempts yet." }
                    } @else {
                        table.grid.attempts {
                            thead { tr { th { "When" } th { "Message" } th { "#" } th { "Outcome" } th { "Status" } th { "Took" } th { "Answer or error" } } }
                            tbody {
                                @for a in attempts {
                                    tr {
                                        td { (page::when(a.started_at, now)) }
                                        td { code { (a.message_id) } }
                                        td { (a.number) }
                                        td { span class={"badge s-" (match a.outcome.as_str() { "ok" => "sent", _ => "failed" })} { (a.outcome) } }
                                        td { @if let Some(c) = a.status_code { (c) } }
                                        td { (a.duration_ms) " ms" }
                                        td.answer { (a.error.as_deref().or(a.response.as_deref()).unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )))
}
