//! The suppression list: addresses receipts found bad (hard bounces,
//! complaints) or an operator put there, filtered by channel and reason,
//! a page at a time; an admin adds one by hand or takes one off (sends go
//! to it again). Each action asks for what its API route does.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use serde::Deserialize;

use super::page::{self, csrf_field, layout, render, Nav, PageResult};
use super::session::{Action, Session};
use crate::domain::receipt::LISTED_CHANNELS;
use crate::service::receipts::PutSuppression;
use crate::service::AppState;
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/suppressions", get(list).post(add))
        .route("/console/suppressions/remove", post(remove))
}

/// Rows a page shows.
const PAGE: i64 = 100;

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    /// The last (channel:address) of the page before.
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    match page_with(&state, &session, &q).await {
        Ok(r) | Err(r) => r,
    }
}

async fn page_with(state: &AppState, session: &Session, q: &ListQuery) -> PageResult {
    session.require(page::SUPPRESSIONS)?;
    let channel = blank(&q.channel);
    let reason = blank(&q.reason);
    let after = blank(&q.after)
        .and_then(|a| a.split_once(':'))
        .map(|(c, a)| (c.to_string(), a.to_string()));
    let (rows, notice) = match state.suppressions(channel, reason, after, PAGE + 1).await {
        Ok(rows) => (rows, q.notice.clone()),
        Err(crate::service::Error::Invalid(e)) => {
            (Vec::new(), Some(crate::domain::field::invalid_detail(&e)))
        }
        Err(e) => return Err(page::failed(e)),
    };
    let more = rows.len() as i64 > PAGE;
    let next = more
        .then(|| rows.get(PAGE as usize - 1))
        .flatten()
        .map(|r| format!("{}:{}", r.channel, r.address));
    let manage = session.may(crate::service::auth::Permission::ManageSuppressions);
    let now = now_ms();
    let sel = |v: Option<&str>, s: &str| v == Some(s);
    Ok(render(layout(
        "Suppressions",
        Some(session),
        Nav::Suppressions,
        html! {
            h1 { "Suppressions" }
            p.sub { "Addresses missive does not send to: a provider reported a hard bounce or a complaint, or an operator put them here. Sends to them are suppressed without calling a provider." }
            (page::flash(notice.as_deref()))
            form.filters method="get" action="/console/suppressions" {
                label { "Channel"
                    select name="channel" {
                        option value="" { "any" }
                        @for c in LISTED_CHANNELS { option value=(c.as_str()) selected[sel(channel, c.as_str())] { (c.as_str()) } }
                    }
                }
                label { "Reason"
                    select name="reason" {
                        option value="" { "any" }
                        @for r in ["bounced", "complained"] { option value=(r) selected[sel(reason, r)] { (r) } }
                    }
                }
                button type="submit" { "Filter" }
            }
            @if manage {
                form.inline.add-suppression method="post" action="/console/suppressions" {
                    (csrf_field(session))
                    label { "Channel"
                        select name="channel" { @for c in LISTED_CHANNELS { option value=(c.as_str()) { (c.as_str()) } } }
                    }
                    label { "Address" input name="address" required maxlength="320" placeholder="ana@example.com or +8613800000000"; }
                    label { "Reason"
                        select name="reason" { option value="bounced" { "bounced" } option value="complained" { "complained" } }
                    }
                    label { "Note" input name="detail" maxlength="500"; }
                    button type="submit" { "Suppress" }
                }
            }
            @if rows.is_empty() {
                p.sub.empty { "No suppressed addresses." }
            } @else {
                table.grid.suppressions {
                    thead { tr { th { "Channel" } th { "Address" } th { "Reason" } th { "From" } th { "Words" } th { "Since" } th {} } }
                    tbody {
                        @for r in rows.iter().take(PAGE as usize) {
                            tr data-address=(r.address) {
                                td { (r.channel) }
                                td { code { (r.address) } }
                                td { span class={"badge s-" (r.reason)} { (r.reason) } }
                                td {
                                    (r.source)
                                    @if let Some(d) = &r.delivery_id { " · " a href={"/console/deliveries/" (d)} { "delivery" } }
                                }
                                td.answer { (r.detail) }
                                td { (page::when(r.created_at, now)) }
                                td {
                                    @if manage {
                                        form.inline method="post" action="/console/suppressions/remove"
                                            data-confirm={"Take " (r.address) " off the list? Sends will go to it again."} {
                                            (csrf_field(session))
                                            input type="hidden" name="channel" value=(r.channel);
                                            input type="hidden" name="address" value=(r.address);
                                            button.danger type="submit" { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(after) = &next {
                p { a.next href={"/console/suppressions?channel=" (channel.unwrap_or("")) "&reason=" (reason.unwrap_or("")) "&after=" (super::session::urlencode(after))} { "Next page →" } }
            }
        },
    )))
}

#[derive(Deserialize)]
struct AddForm {
    channel: String,
    address: String,
    reason: String,
    #[serde(default)]
    detail: Option<String>,
}

async fn add(State(state): State<AppState>, a: Action<AddForm>) -> Response {
    if let Err(r) = a.session.require(page::MANAGE_SUPPRESSIONS) {
        return r;
    }
    let f = a.form;
    let body = PutSuppression {
        reason: f.reason,
        detail: f.detail.filter(|d| !d.trim().is_empty()),
    };
    match state
        .put_suppression(&f.channel, &f.address, body, "console")
        .await
    {
        Ok((row, _)) => {
            tracing::info!(by = %a.session.key_id, channel = %row.channel, "an address was suppressed from the console");
            super::back_to(
                "/console/suppressions",
                &format!("{} is suppressed.", row.address),
            )
        }
        Err(e) => super::back_to("/console/suppressions", &e.detail()),
    }
}

#[derive(Deserialize)]
struct RemoveForm {
    channel: String,
    address: String,
}

async fn remove(State(state): State<AppState>, a: Action<RemoveForm>) -> Response {
    if let Err(r) = a.session.require(page::MANAGE_SUPPRESSIONS) {
        return r;
    }
    let f = a.form;
    match state.delete_suppression(&f.channel, &f.address).await {
        Ok(()) => {
            tracing::info!(by = %a.session.key_id, channel = %f.channel, "an address was taken off the suppression list from the console");
            super::back_to(
                "/console/suppressions",
                &format!("{} was taken off the list.", f.address),
            )
        }
        Err(e) => super::back_to("/console/suppressions", &e.detail()),
    }
}
