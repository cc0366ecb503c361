//! API keys (admin): create (the key is shown once), list (prefix, scopes,
//! last use), revoke.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use serde::Deserialize;

use super::page::{self, csrf_field, layout, render, Nav, PageResult};
use super::session::{Action, Session};
use crate::service::auth::{create_key, SCOPES};
use crate::service::AppState;
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/keys", get(list).post(create))
        .route("/console/keys/{id}/revoke", post(revoke))
}

#[derive(Deserialize, Default)]
struct Notice {
    #[serde(default)]
    notice: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<Notice>,
) -> Response {
    match page_with(&state, &session, q.notice.as_deref(), None).await {
        Ok(r) | Err(r) => r,
    }
}

/// The keys page; `created` is a new key to show once.
async fn page_with(
    state: &AppState,
    session: &Session,
    notice: Option<&str>,
    created: Option<(&str, &str)>,
) -> PageResult {
    session.require(page::KEYS)?;
    let keys = state.store.list_keys().await.map_err(page::db)?;
    let now = now_ms();
    Ok(render(layout(
        "API keys",
        Some(session),
        Nav::Keys,
        html! {
            h1 { "API keys" }
            (page::flash(notice))
            @if let Some((name, key)) = created {
                div.created role="status" {
                    p { "Key " strong { (name) } " created. Copy it now: it is not stored and won't be shown again." }
                    input id="new-key" readonly value=(key) size="60";
                }
            }
            form.inline.new-key method="post" action="/console/keys" {
                (csrf_field(session))
                label { "Name" input name="name" required maxlength="100" placeholder="billing-service"; }
                fieldset.scopes {
                    legend { "Scopes" }
                    @for s in SCOPES { label.check { input type="checkbox" name="scopes" value=(s) checked[s == "send"]; " " (s) } }
                }
                button type="submit" { "Create key" }
            }
            table.grid.keys {
                thead { tr { th { "Name" } th { "Prefix" } th { "Scopes" } th { "Created" } th { "Last used" } th {} } }
                tbody {
                    @for k in &keys {
                        tr class=[k.revoked_at.map(|_| "revoked")] data-key-id=(k.id) {
                            td { (k.name) }
                            td { code { (k.prefix) "…" } }
                            td { (k.scopes) }
                            td { (page::when(k.created_at, now)) }
                            td { @match k.last_used_at { Some(t) => (page::when(t, now)), None => "never" } }
                            td {
                                @match k.revoked_at {
                                    Some(t) => { "revoked " (page::when(t, now)) }
                                    None => {
                                        @if k.id == session.key_id {
                                            span.sub { "this session's key" }
                                        } @else {
                                            form.inline method="post" action={"/console/keys/" (k.id) "/revoke"}
                                                data-confirm={"Revoke " (k.name) "? Requests with it will be refused within 5 seconds."} {
                                                (csrf_field(session))
                                                button.danger type="submit" { "Revoke" }
                                            }
                                        }
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

async fn create(State(state): State<AppState>, a: Action<Vec<(String, String)>>) -> Response {
    let session = &a.session;
    let name = a
        .form
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.trim())
        .unwrap_or("");
    let scopes: Vec<&str> = a
        .form
        .iter()
        .filter(|(k, _)| k == "scopes")
        .map(|(_, v)| v.as_str())
        .collect();
    let r = async {
        session.require(page::KEYS)?;
        if name.is_empty() || name.len() > 100 {
            return page_with(&state, session, Some("Give the key a name (up to 100 characters)."), None).await;
        }
        match create_key(state.store.as_ref(), name, &scopes.join(",")).await {
            Ok((key, row)) => {
                tracing::info!(key_id = %row.id, by = %session.key_id, scopes = %row.scopes, "API key created from the console");
                page_with(&state, session, None, Some((name, &key))).await
            }
            Err(e) => page_with(&state, session, Some(&e.detail()), None).await,
        }
    }
    .await;
    match r {
        Ok(r) | Err(r) => r,
    }
}

async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    a: Action<Vec<(String, String)>>,
) -> Response {
    let session = &a.session;
    if let Err(r) = session.require(page::KEYS) {
        return r;
    }
    if id == session.key_id {
        return super::back_to(
            "/console/keys",
            "This session's own key can't be revoked here; sign in with another admin key first.",
        );
    }
    match state.revoke_key(&id).await {
        Ok(true) => {
            tracing::info!(key_id = %id, by = %session.key_id, "API key revoked from the console");
            super::back_to("/console/keys", "Key revoked.")
        }
        Ok(false) => super::back_to("/console/keys", "That key was already revoked."),
        Err(e) => page::db(e),
    }
}
