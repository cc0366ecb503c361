//! The delivery log: filters, newest first, keyset pages; one delivery with
//! its content and every attempt; retry, cancel, and replaying the failed
//! deliveries that match the filters (after a confirmation).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::notifications;
use super::page::{self, csrf_field, layout, render, Nav, PageResult};
use super::session::{Action, Session};
use crate::domain::workflow::RUN_CHANNEL;
use crate::domain::{Channel, Priority, Reason, Status};
use crate::service::auth::Permission;
use crate::service::deliveries::ListQuery;
use crate::service::AppState;
use crate::store::{DeliveryFilter, DeliveryRow, Transition};
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/deliveries", get(list))
        .route(
            "/console/deliveries/replay",
            get(confirm_replay).post(replay),
        )
        .route("/console/deliveries/{id}", get(show))
        .route("/console/deliveries/{id}/retry", post(retry))
        .route("/console/deliveries/{id}/cancel", post(cancel))
}

/// The list's filters as the page's form sends them (times from
/// `datetime-local` inputs, read as UTC).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "blank")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    channel: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    recipient: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    template: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    notification: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    since: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    until: Option<String>,
    #[serde(default, skip_serializing)]
    before: Option<String>,
    #[serde(default, skip_serializing)]
    notice: Option<String>,
}

fn blank(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(|s| s.trim().is_empty())
}

fn some(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// `2026-11-23T16:05` (a datetime-local input) → RFC 3339 in UTC; full
/// RFC 3339 times pass through.
fn local_time(v: &Option<String>) -> Option<String> {
    let s = some(v)?;
    Some(match s.len() {
        16 => format!("{s}:00Z"),
        19 => format!("{s}Z"),
        _ => s,
    })
}

const PAGE: i64 = 50;

impl Filters {
    fn parse(&self) -> Result<DeliveryFilter, String> {
        let q = ListQuery {
            status: some(&self.status),
            channel: some(&self.channel),
            recipient: some(&self.recipient),
            template: some(&self.template),
            notification: some(&self.notification),
            since: local_time(&self.since),
            until: local_time(&self.until),
            ..ListQuery::default()
        };
        q.filter().map(|(f, _)| f).map_err(|e| e.detail())
    }

    fn query_string(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }

    fn with_before(&self, before: &str) -> String {
        let q = self.query_string();
        let amp = if q.is_empty() { "" } else { "&" };
        format!(
            "/console/deliveries?{q}{amp}before={}",
            super::session::urlencode(before)
        )
    }
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(f): Query<Filters>,
) -> Response {
    match list_page(&state, &session, f).await {
        Ok(r) | Err(r) => r,
    }
}

async fn list_page(state: &AppState, session: &Session, f: Filters) -> PageResult {
    session.require(page::DELIVERIES)?;
    let parsed = f.parse();
    let rows = match &parsed {
        Ok(filter) => state
            .store
            .list_deliveries(filter, some(&f.before).as_deref(), PAGE + 1)
            .await
            .map_err(page::db)?,
        Err(_) => Vec::new(),
    };
    let more = rows.len() as i64 > PAGE;
    let rows = &rows[..rows.len().min(PAGE as usize)];
    let now = now_ms();
    let can_replay = session.may(Permission::Operate)
        && parsed.is_ok()
        && f.status
            .as_deref()
            .is_none_or(|s| s.is_empty() || s == Status::Failed.as_str());
    Ok(render(layout(
        "Deliveries",
        Some(session),
        Nav::Deliveries,
        html! {
            h1 { "Deliveries" }
            (page::flash(f.notice.as_deref()))
            (filter_form(state, &f))
            @if let Err(e) = &parsed { p.problem role="alert" { (e) } }
            @if rows.is_empty() && parsed.is_ok() {
                p.sub { "No deliveries match." }
            } @else if !rows.is_empty() {
                table.grid.log {
                    thead { tr {
                        th { "Created" } th { "Status" } th { "Channel" } th { "Recipient" }
                        th { "Template" } th { "Attempts" } th { "Provider" } th { "Reason / error" }
                    } }
                    tbody {
                        @for d in rows {
                            tr data-id=(d.id) {
                                td { a href={"/console/deliveries/" (d.id)} { (page::when(d.created_at, now)) } }
                                td { (page::status_badge(&d.status)) }
                                td { (d.channel) }
                                td.addr title=(crate::domain::chat::shown(&d.channel, &d.address)) { a href={"/console/recipients?id=" (super::session::urlencode(&d.recipient))} { (d.recipient) } }
                                td {
                                    @if d.channel == RUN_CHANNEL {
                                        a.run href=(notifications::run_href(&d.notification_id, &d.id)) { "run of " code { (d.address) } }
                                    } @else {
                                        (d.template_key.as_deref().unwrap_or("inline"))
                                    }
                                }
                                td.num { (d.attempts) }
                                td { (d.provider.as_deref().unwrap_or("")) }
                                td.why { (why(d)) }
                            }
                        }
                    }
                }
            }
            nav.pager {
                @if some(&f.before).is_some() {
                    a href={"/console/deliveries?" (f.query_string())} { "← Newest" }
                }
                @if more {
                    a.older href=(f.with_before(&rows[rows.len() - 1].id)) { "Older →" }
                }
            }
            @if can_replay {
                p {
                    a.button.secondary href={"/console/deliveries/replay?" (f.query_string())} {
                        "Replay failed deliveries matching these filters…"
                    }
                }
            }
        },
    )))
}

/// The list's "Reason / error" cell: for a delivery that failed or waits
/// to retry, what the receiver or provider said (its answer, or the error)
/// with the class (`permanent_error`, `retries_exhausted`) beside it; for
/// one suppressed, why.
pub fn why(d: &DeliveryRow) -> Markup {
    match (d.last_error.as_deref(), d.reason.as_deref()) {
        (Some(e), reason)
            if matches!(
                Status::parse(&d.status),
                Ok(Status::Failed | Status::Retrying)
            ) =>
        {
            html! {
            (e)
                @if let Some(r) = reason { " " span.sub { "(" (r) ")" } }
            }
        }
        (e, r) => html! { (r.or(e).unwrap_or("")) },
    }
}

fn filter_form(state: &AppState, f: &Filters) -> Markup {
    let sel = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    html! {
        form.filters method="get" action="/console/deliveries" {
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in Status::ALL.iter().map(|s| s.as_str()) { option value=(s) selected[sel(&f.status, s)] { (s) } }
                }
            }
            label { "Channel"
                select name="channel" {
                    option value="" { "any" }
                    @for c in state.enabled_channels.iter().map(|c| c.as_str()) { option value=(c) selected[sel(&f.channel, c)] { (c) } }
                }
            }
            label { "Recipient" input name="recipient" value=(f.recipient.as_deref().unwrap_or("")) placeholder="id or address"; }
            label { "Template" input name="template" value=(f.template.as_deref().unwrap_or("")); }
            label { "Notification" input name="notification" value=(f.notification.as_deref().unwrap_or("")); }
            label { "From (UTC)" input type="datetime-local" name="since" value=(f.since.as_deref().unwrap_or("")); }
            label { "To (UTC)" input type="datetime-local" name="until" value=(f.until.as_deref().unwrap_or("")); }
            button type="submit" { "Filter" }
            a.reset href="/console/deliveries" { "Clear" }
        }
    }
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(f): Query<Filters>,
) -> Response {
    match show_page(&state, &session, &id, f.notice.as_deref()).await {
        Ok(r) | Err(r) => r,
    }
}

fn describe_wait(d: &DeliveryRow, now: i64) -> Option<String> {
    let due = d.due_at?;
    let when = format!("{} ({})", page::time(due), page::ago(due, now));
    match Status::parse(&d.status).ok()? {
        Status::Scheduled => Some(match d.reason.as_deref() {
            Some(r) if Reason::parse(r) == Ok(Reason::QuietHours) => {
                format!("Waits for the end of the recipient's quiet hours: {when}")
            }
            Some(r) => format!("Scheduled ({r}) for {when}"),
            None => format!("Scheduled for {when}"),
        }),
        Status::Retrying => Some(format!("Next attempt {when}")),
        Status::Queued if due > now => Some(format!(
            "Waits for {} until {when}",
            d.reason.as_deref().unwrap_or("its turn")
        )),
        Status::Sending => Some(format!("Being sent; the worker's lease ends {when}")),
        _ => None,
    }
}

async fn show_page(
    state: &AppState,
    session: &Session,
    id: &str,
    notice: Option<&str>,
) -> PageResult {
    session.require(page::DELIVERIES)?;
    let d = state
        .store
        .get_delivery(id)
        .await
        .map_err(page::db)?
        .ok_or_else(|| page::not_found(session, &format!("There is no delivery {id}.")))?;
    let attempts = state.store.attempts_of(id).await.map_err(page::db)?;
    let receipts = state.store.receipts_of(id).await.map_err(page::db)?;
    let now = now_ms();
    let content: serde_json::Value = serde_json::from_str(&d.content).unwrap_or_default();
    let status = Status::parse(&d.status).ok();
    let failed = status == Some(Status::Failed);
    let waiting = status.is_some_and(Status::is_pending);
    // A workflow run: its content is its place in the workflow, its
    // address the workflow's key; its steps are on its notification's page.
    let run = d.channel == RUN_CHANNEL;
    let cancel_confirm = if run {
        "Cancel this run? Its remaining steps will not run."
    } else {
        "Cancel this delivery? It will not be sent."
    };
    Ok(render(layout(
        &format!("Delivery {id}"),
        Some(session),
        Nav::Deliveries,
        html! {
            p.crumbs { a href="/console/deliveries" { "Deliveries" } " / " (d.id) }
            h1 { @if run { "Workflow run " } @else { "Delivery " } (page::status_badge(&d.status)) }
            (page::flash(notice))
            @if run {
                p.run-note {
                    "One recipient's run through workflow " code { (d.address) } ". "
                    a href=(notifications::run_href(&d.notification_id, &d.id)) { "See its steps" }
                    " on its notification's page."
                }
            }
            @if let Some(r) = &d.reason { p.reason { "Reason: " strong.reason-code { (r) } } }
            @if let Some(w) = describe_wait(&d, now) { p.wait { (w) } }
            @if session.may(Permission::Operate) && (failed || waiting) {
                div.actions {
                    @if failed {
                        form method="post" action={"/console/deliveries/" (d.id) "/retry"} {
                            (csrf_field(session)) button id="retry" type="submit" { "Retry" }
                        }
                    }
                    @if waiting {
                        form method="post" action={"/console/deliveries/" (d.id) "/cancel"}
                            data-confirm=(cancel_confirm) {
                            (csrf_field(session)) button.danger id="cancel" type="submit" { "Cancel" }
                        }
                    }
                }
            }
            dl.facts {
                dt { "Id" } dd { code { (d.id) } }
                dt { "Notification" } dd {
                    a.notification href=(notifications::href(&d.notification_id)) { code { (d.notification_id) } }
                    " · " a href={"/console/deliveries?notification=" (super::session::urlencode(&d.notification_id))} { "its deliveries in the log" }
                }
                dt { "Channel" } dd { (d.channel) }
                dt { "Category" } dd { (d.category) }
                dt { "Priority" } dd { (Priority::from_rank(d.priority)) }
                dt { "Recipient" } dd { a href={"/console/recipients?id=" (super::session::urlencode(&d.recipient))} { (d.recipient) } }
                @if run {
                    dt { "Workflow" } dd { code { (d.address) } }
                } @else {
                    dt { "Address" } dd { code { (crate::domain::chat::shown(&d.channel, &d.address)) } }
                    dt { "Template" } dd {
                        @match &d.template_key {
                            Some(t) => a href={"/console/templates/" (t)} { (t) },
                            None => "inline content",
                        }
                    }
                }
                dt { "Attempts" } dd { (d.attempts) }
                @if let Some(p) = &d.provider { dt { "Provider" } dd { (p) } }
                dt { "Created" } dd { (page::time(d.created_at)) }
                dt { "Updated" } dd { (page::time(d.updated_at)) }
                @if let Some(e) = &d.last_error { dt { "Last error" } dd.error { (e) } }
            }
            @if run {
                h2 { "Place in the workflow" }
                p.sub { "Where the run stands, as it keeps it (the step it is at, counting from 0)." }
                pre.cursor { (page::pretty_json(&d.content)) }
            } @else {
                h2 { "Content" }
                (content_view(&d.channel, &content))
            }
            h2 { "Attempts" }
            @if attempts.is_empty() {
                p.sub { "No attempts yet." }
            } @else {
                table.grid.attempts {
                    thead { tr { th { "#" } th { "Started" } th { "Provider" } th { "Outcome" } th { "Status" } th { "Duration" } th { "Answer" } } }
                    tbody {
                        @for a in &attempts {
                            tr {
                                td.num { (a.number) }
                                td { (page::time(a.started_at)) }
                                td { (a.provider) }
                                td { span class={"badge o-" (a.outcome)} { (a.outcome) } }
                                td.num { @if let Some(c) = a.status_code { (c) } }
                                td.num { (a.duration_ms) " ms" }
                                td.answer {
                                    @if let Some(e) = &a.error { p.error { (e) } }
                                    @if let Some(r) = a.response.as_deref().filter(|r| !r.is_empty()) { pre { (page::pretty_json(r)) } }
                                }
                            }
                        }
                    }
                }
            }
            @if !receipts.is_empty() {
                h2 { "Receipts" }
                table.grid.receipts {
                    thead { tr { th { "Received" } th { "From" } th { "Event" } th { "Status" } th { "Provider's words" } } }
                    tbody {
                        @for r in &receipts {
                            tr {
                                td { (page::time(r.received_at)) }
                                td { (r.source) }
                                td { code { (r.event) } }
                                td {
                                    @match (&r.status, r.moved != 0) {
                                        (Some(s), true) => { (page::status_badge(s)) }
                                        (Some(s), false) => { span.sub title="A later or repeated receipt: it moved nothing" { (s) " (no change)" } }
                                        (None, _) => { span.sub { "noted" } }
                                    }
                                }
                                td.answer { (r.detail) }
                            }
                        }
                    }
                }
            }
            details {
                summary { "Recipient as given" }
                pre { (page::pretty_json(&crate::domain::chat::shown_recipient(&d.recipient_data).to_string())) }
            }
        },
    )))
}

/// The rendered parts; an email's HTML shown in a sandboxed frame (no
/// scripts, no same-origin access).
fn content_view(channel: &str, content: &serde_json::Value) -> Markup {
    let parts = content.as_object().cloned().unwrap_or_default();
    html! {
        div.content {
            @for (name, value) in &parts {
                @let text = value.as_str().map(String::from).unwrap_or_else(|| value.to_string());
                div.part {
                    h3 { (name) }
                    @if channel == Channel::Email.as_str() && name == "html" {
                        iframe.html-preview sandbox="" srcdoc=(text) title="HTML part" {}
                        details { summary { "source" } pre { (text) } }
                    } @else if channel == Channel::Webhook.as_str() && name == "body" {
                        pre { (page::pretty_json(&text)) }
                    } @else {
                        pre.wrap { (text) }
                    }
                }
            }
        }
    }
}

async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    a: Action<super::NoFields>,
) -> Response {
    change(&state, &a.session, &id, true).await
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    a: Action<super::NoFields>,
) -> Response {
    change(&state, &a.session, &id, false).await
}

async fn change(state: &AppState, session: &Session, id: &str, retry: bool) -> Response {
    if let Err(r) = session.require(&[Permission::Operate]) {
        return r;
    }
    let t = if retry {
        let note = format!(
            "re-queued from the console (API key {}, {})",
            session.key_name, session.key_id
        );
        state.retry_delivery(id, &note).await
    } else {
        state.cancel_delivery(id).await
    };
    let path = format!("/console/deliveries/{id}");
    match t {
        Ok(Transition::Done(_)) => {
            if retry {
                tracing::info!(delivery_id = id, key_id = %session.key_id, "retried from the console");
            }
            super::back_to(
                &path,
                if retry {
                    "Queued for another attempt."
                } else {
                    "Cancelled."
                },
            )
        }
        Ok(Transition::NotFound) => {
            page::not_found(session, &format!("There is no delivery {id}."))
        }
        Ok(Transition::WrongStatus(s)) => {
            super::back_to(&path, &format!("Nothing done: the delivery is {s} now."))
        }
        Err(e) => page::db(e),
    }
}

/// How many failed deliveries a replay would take, counted up to a bound.
const COUNT_UP_TO: i64 = 1000;

async fn confirm_replay(
    State(state): State<AppState>,
    session: Session,
    Query(f): Query<Filters>,
) -> Response {
    match confirm_page(&state, &session, f).await {
        Ok(r) | Err(r) => r,
    }
}

fn failed_only(f: &Filters) -> Result<DeliveryFilter, String> {
    let mut filter = f.parse()?;
    filter.status = Some(Status::Failed.to_string());
    Ok(filter)
}

async fn confirm_page(state: &AppState, session: &Session, f: Filters) -> PageResult {
    session.require(&[Permission::Operate])?;
    let filter = failed_only(&f).map_err(|e| {
        page::error_page(
            Some(session),
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Filters not valid",
            &e,
        )
    })?;
    let n = state
        .store
        .list_deliveries(&filter, None, COUNT_UP_TO + 1)
        .await
        .map_err(page::db)?
        .len() as i64;
    let shown = if n > COUNT_UP_TO {
        format!("more than {COUNT_UP_TO}")
    } else {
        n.to_string()
    };
    Ok(render(layout(
        "Replay failed deliveries",
        Some(session),
        Nav::Deliveries,
        html! {
            h1 { "Replay failed deliveries" }
            p id="replay-count" { strong { (shown) } " failed deliveries match these filters:" }
            ul.filters-summary {
                @for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(&f.query_string()).unwrap_or_default() {
                    @if k != "status" { li { (k) ": " code { (v) } } }
                }
                li { "status: " code { "failed" } }
            }
            @if n == 0 {
                p { a href={"/console/deliveries?" (f.query_string())} { "Back to the log" } }
            } @else {
                p { "Each goes back to the queue now, with a new retry cycle, and the replay is written in its attempt log." }
                form method="post" action="/console/deliveries/replay" {
                    (csrf_field(session))
                    @for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(&f.query_string()).unwrap_or_default() {
                        input type="hidden" name=(k) value=(v);
                    }
                    button id="confirm-replay" type="submit" { "Replay " (shown) " deliveries" }
                    " "
                    a href={"/console/deliveries?" (f.query_string())} { "Cancel" }
                }
            }
        },
    )))
}

async fn replay(State(state): State<AppState>, a: Action<Filters>) -> Response {
    let session = &a.session;
    if let Err(r) = session.require(&[Permission::Operate]) {
        return r;
    }
    let filter = match failed_only(&a.form) {
        Ok(f) => f,
        Err(e) => {
            return page::error_page(
                Some(session),
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "Filters not valid",
                &e,
            )
        }
    };
    let note = format!(
        "re-queued from the console (API key {}, {})",
        session.key_name, session.key_id
    );
    match state.replay_failed(&filter, &note).await {
        Ok(n) => super::back_to(
            &format!("/console/deliveries?{}", a.form.query_string()),
            &format!("{n} failed deliveries re-queued."),
        ),
        Err(e) => page::db(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_read_as_utc() {
        assert_eq!(
            local_time(&Some("2026-11-23T16:05".into())).unwrap(),
            "2026-11-23T16:05:00Z"
        );
        assert_eq!(local_time(&Some(" ".into())), None);
        let f = Filters {
            since: Some("2026-11-23T16:05".into()),
            ..Filters::default()
        };
        assert!(f.parse().unwrap().since.is_some());
        let bad = Filters {
            status: Some("lost".into()),
            ..Filters::default()
        };
        assert!(bad.parse().unwrap_err().contains("status"));
    }

    #[test]
    fn filters_round_trip_through_the_query_string_without_paging() {
        let f = Filters {
            status: Some("failed".into()),
            channel: Some("".into()),
            before: Some("x".into()),
            ..Filters::default()
        };
        assert_eq!(f.query_string(), "status=failed");
        assert!(f.with_before("abc").ends_with("status=failed&before=abc"));
    }
}
