//! One notification: what was sent (its template or workflow, category,
//! priority, data), its deliveries, and for a workflow each recipient's
//! run with its steps as a timeline: what each step did, when a waiting
//! step goes on, why a step was skipped or failed, and the deliveries a
//! send step made. A notification a run's step sent links to the
//! notification that started the run.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{self, layout, render, Nav, PageResult};
use super::session::{urlencode as enc, Session};
use crate::domain::workflow::RUN_CHANNEL;
use crate::service::auth::Permission;
use crate::service::topics::{Fanout, FANOUT_CHANNEL};
use crate::service::workflows::{run_status, RunState, StepState, MAX_RUNS_SHOWN};
use crate::service::AppState;
use crate::store::{DeliveryRow, NotificationRow};
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new().route("/console/notifications/{id}", get(show))
}

/// The page of notification `id`.
pub fn href(id: &str) -> String {
    format!("/console/notifications/{}", enc(id))
}

/// Where a run is drawn on its notification's page.
pub fn run_href(notification_id: &str, run_id: &str) -> String {
    format!("{}#run-{}", href(notification_id), enc(run_id))
}

/// Most deliveries the page lists; the log lists them all.
const MAX_DELIVERIES_SHOWN: usize = 200;

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    notice: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    match notification_page(&state, &session, &id, q.notice.as_deref()).await {
        Ok(r) | Err(r) => r,
    }
}

/// The run whose step sent a notification: the run, the notification
/// that started it, and the step.
struct Parent {
    run: String,
    notification: Option<String>,
    recipient: Option<String>,
    step: Option<String>,
}

async fn parent_of(state: &AppState, run: &str, child: &str) -> Result<Parent, Response> {
    let row = state.store.get_delivery(run).await.map_err(page::db)?;
    let step = match &row {
        Some(_) => state
            .store
            .run_steps(run)
            .await
            .map_err(page::db)?
            .into_iter()
            .find(|r| r.notification_id.as_deref() == Some(child))
            .map(|r| r.step_id),
        None => None,
    };
    Ok(Parent {
        run: run.to_string(),
        notification: row.as_ref().map(|r| r.notification_id.clone()),
        recipient: row.map(|r| r.recipient),
        step,
    })
}

async fn notification_page(
    state: &AppState,
    session: &Session,
    id: &str,
    notice: Option<&str>,
) -> PageResult {
    session.require(page::DELIVERIES)?;
    let n = state
        .store
        .get_notification(id)
        .await
        .map_err(page::db)?
        .ok_or_else(|| page::not_found(session, &format!("There is no notification {id}.")))?;
    // A send to a topic may have a million deliveries: the page shows
    // 1,000 of them and links to the log for the rest.
    let fanout = state
        .store
        .get_delivery(id)
        .await
        .map_err(page::db)?
        .filter(|d| d.channel == FANOUT_CHANNEL);
    let rows = match &fanout {
        Some(_) => state.store.first_deliveries(id, 1_000).await,
        None => state.store.deliveries_of(id).await,
    }
    .map_err(page::db)?;
    let fanout = fanout.as_ref().map(Fanout::of);
    let runs = state.runs_of(&n, &rows).await.map_err(page::failed)?;
    let parent = match &n.parent_run {
        Some(run) => Some(parent_of(state, run, id).await?),
        None => None,
    };
    let run_count = rows.iter().filter(|d| d.channel == RUN_CHANNEL).count();
    let deliveries: Vec<&DeliveryRow> = rows
        .iter()
        .filter(|d| d.channel != RUN_CHANNEL && d.channel != FANOUT_CHANNEL)
        .collect();
    let now = now_ms();
    let log = format!("/console/deliveries?notification={}", enc(id));
    Ok(render(layout(
        &format!("Notification {id}"),
        Some(session),
        Nav::Deliveries,
        html! {
            p.crumbs { a href="/console/deliveries" { "Deliveries" } " / notification " (id) }
            h1 { "Notification " code { (id) } }
            (page::flash(notice))
            @if let Some(p) = &parent { (parent_note(p)) }
            (facts(session, &n))
            @if let Some(f) = &fanout {
                h2 { "Fan-out to topic " code { (f.topic) } }
                dl.facts {
                    dt { "Status" } dd { (f.status) }
                    dt { "Subscribers reached" } dd { (f.fanned_out) " of " (f.total) }
                    @if let Some(e) = &f.error { dt { "Error" } dd { (e) } }
                }
            }
            h2 { "Data" }
            pre.data { (page::pretty_json(&n.data)) }
            h2 id="deliveries" { "Deliveries" }
            @if deliveries.is_empty() {
                p.sub {
                    @if n.workflow_key.is_some() {
                        "None of its own: each run's send steps make notifications of their own, linked from the steps below."
                    } @else {
                        "None."
                    }
                }
            } @else {
                (deliveries_table(&deliveries[..deliveries.len().min(MAX_DELIVERIES_SHOWN)], now))
                @if deliveries.len() > MAX_DELIVERIES_SHOWN {
                    p.sub { "Showing " (MAX_DELIVERIES_SHOWN) " of " (deliveries.len()) "; "
                        a href=(log) { "the delivery log" } " lists them all." }
                }
            }
            @if n.workflow_key.is_some() {
                h2 id="runs" { "Runs" }
                @if run_count == 0 {
                    p.sub { "No runs." }
                } @else {
                    p.sub {
                        (run_count) @if run_count == 1 { " run" } @else { " runs" } ", one per recipient."
                        @if run_count > runs.len() {
                            " Showing the first " (runs.len()) "; " a href=(log) { "the delivery log" } " lists them all."
                        }
                    }
                    @if runs.is_empty() {
                        p.problem { "This notification's workflow version can't be read, so its runs' steps can't be shown." }
                    }
                    @for r in runs.iter().take(MAX_RUNS_SHOWN) { (run_view(r, now)) }
                }
            }
        },
    )))
}

fn parent_note(p: &Parent) -> Markup {
    html! {
        p.parent {
            "Sent by "
            @if let Some(step) = &p.step { "step " code { (step) } " of " }
            @match &p.notification {
                Some(nid) => {
                    a href=(run_href(nid, &p.run)) { "a workflow run" }
                    @if let Some(r) = &p.recipient { " for " (r) }
                    " of notification " a.parent-notification href=(href(nid)) { code { (nid) } } "."
                }
                None => { "workflow run " code { (p.run) } ", no longer stored." }
            }
        }
    }
}

fn facts(session: &Session, n: &NotificationRow) -> Markup {
    let links = session.may(Permission::ReadTemplates);
    html! {
        dl.facts {
            dt { "Id" } dd { code { (n.id) } }
            @if let Some(key) = &n.workflow_key {
                dt { "Workflow" } dd {
                    @let version = n.workflow_version.map(|v| v.to_string()).unwrap_or_default();
                    @if links {
                        a href={"/console/workflows/" (enc(key)) "?version=" (version)} { code { (key) } }
                    } @else {
                        code { (key) }
                    }
                    " version " (version)
                }
            } @else {
                dt { "Template" } dd {
                    @match &n.template_key {
                        Some(t) => {
                            @if links { a href={"/console/templates/" (enc(t))} { code { (t) } } } @else { code { (t) } }
                            @if let Some(v) = n.template_version { " version " (v) }
                        }
                        None => "inline content",
                    }
                }
            }
            dt { "Category" } dd { (n.category) }
            dt { "Priority" } dd { (n.priority) }
            @if let Some(l) = &n.locale { dt { "Locale" } dd { (l) } }
            @if let Some(k) = &n.dedup_key { dt { "Dedup key" } dd { code { (k) } } }
            @if let Some(k) = &n.cancel_key { dt { "Cancel key" } dd { code { (k) } } }
            @if let Some(t) = n.send_at { dt { "Send at" } dd { (page::time(t)) } }
            dt { "Created" } dd { (page::time(n.created_at)) }
        }
    }
}

fn deliveries_table(rows: &[&DeliveryRow], now: i64) -> Markup {
    html! {
        table.grid.log {
            thead { tr {
                th { "Created" } th { "Status" } th { "Channel" } th { "Recipient" }
                th { "Attempts" } th { "Provider" } th { "Reason / error" }
            } }
            tbody {
                @for d in rows {
                    tr data-id=(d.id) {
                        td { a href={"/console/deliveries/" (enc(&d.id))} { (page::when(d.created_at, now)) } }
                        td { (page::status_badge(&d.status)) }
                        td { (d.channel) }
                        td.addr title=(d.address) { a href={"/console/recipients?id=" (enc(&d.recipient))} { (d.recipient) } }
                        td.num { (d.attempts) }
                        td { (d.provider.as_deref().unwrap_or("")) }
                        td.why { (super::deliveries::why(d)) }
                    }
                }
            }
        }
    }
}

/// The badge class of a run's status.
fn run_class(status: &str) -> &'static str {
    match status {
        "completed" => "s-sent",
        "failed" => "s-failed",
        "cancelled" => "s-cancelled",
        _ => "s-queued",
    }
}

/// The badge class of a step's state.
fn state_class(state: &str) -> &'static str {
    match state {
        "done" => "s-sent",
        "waiting" => "s-scheduled",
        "pending" => "s-queued",
        "failed" => "s-failed",
        "cancelled" => "s-cancelled",
        _ => "s-suppressed",
    }
}

/// What a step's detail says, by its state.
fn detail_label(state: &str) -> &'static str {
    match state {
        "skipped" => "Not met: ",
        "failed" => "Why: ",
        "waiting" => "Waiting: ",
        _ => "",
    }
}

fn run_view(r: &RunState, now: i64) -> Markup {
    let row = &r.row;
    let status = run_status(&row.status);
    let heading = format!("run-{}-title", row.id);
    html! {
        section.run id={"run-" (row.id)} data-run=(row.id) data-status=(status) aria-labelledby=(heading) {
            h3 id=(heading) {
                "Run for " a href={"/console/recipients?id=" (enc(&row.recipient))} { (row.recipient) }
                " " span class={"badge run-status " (run_class(status))} { (status) }
            }
            p.sub {
                "Run " a href={"/console/deliveries/" (enc(&row.id))} { code { (row.id) } }
                " · started " (page::when(row.created_at, now))
                " · last moved " (page::when(row.updated_at, now))
            }
            @if status == "failed" {
                p.problem.run-error { "The run failed: " (row.last_error.as_deref().unwrap_or("no reason was recorded")) }
            }
            ol.timeline.run-steps aria-labelledby=(heading) {
                @for (i, s) in r.steps.iter().enumerate() { (step_view(i, s, now)) }
            }
        }
    }
}

fn step_view(i: usize, s: &StepState, now: i64) -> Markup {
    let due = s
        .due_at
        .filter(|_| matches!(s.state.as_str(), "pending" | "waiting"));
    html! {
        li data-step=(s.id) data-state=(s.state) class={"step-" (s.state.replace(' ', "-"))} {
            span.step-no aria-hidden="true" { (i + 1) }
            h4.step-head {
                code { (s.id) } " "
                span.badge { (s.kind) } " "
                span class={"badge state " (state_class(&s.state))} { (s.state) }
            }
            p.summary { (s.summary) }
            @if let Some(at) = due {
                p.due {
                    @if s.state == "waiting" { "Goes on " } @else { "Due " }
                    time datetime=(crate::util::rfc3339(at)) { (page::time(at)) }
                    " (" (page::ago(at, now)) ")"
                }
            }
            @if let Some(d) = &s.detail {
                p.detail { (detail_label(&s.state)) @if s.state == "skipped" { code { (d) } } @else { (d) } }
            }
            @if let Some(nid) = &s.notification_id {
                p.sent { "Sent as notification " a href=(href(nid)) { code { (nid) } } }
            }
            @if !s.deliveries.is_empty() {
                ul.step-deliveries {
                    @for d in &s.deliveries {
                        li data-delivery=(d.id) {
                            a href={"/console/deliveries/" (enc(&d.id))} { (d.channel) " to " (d.recipient) }
                            " " (page::status_badge(&d.status))
                            @let why = super::deliveries::why(d);
                            @if !why.0.is_empty() { " " span.sub { (why) } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_style_and_links_are_encoded() {
        for (state, class) in [
            ("done", "s-sent"),
            ("waiting", "s-scheduled"),
            ("pending", "s-queued"),
            ("skipped", "s-suppressed"),
            ("failed", "s-failed"),
            ("cancelled", "s-cancelled"),
            ("not run", "s-suppressed"),
        ] {
            assert_eq!(state_class(state), class, "{state}");
        }
        assert_eq!(run_class(run_status("sent")), "s-sent");
        assert_eq!(run_class(run_status("scheduled")), "s-queued");
        assert_eq!(href("a/b"), "/console/notifications/a%2Fb");
        assert_eq!(run_href("n", "r"), "/console/notifications/n#run-r");
    }
}
