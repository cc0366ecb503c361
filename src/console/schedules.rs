//! Recurring schedules: the list, with when each fires next and how its
//! last firing went; a schedule's page, with its data and each timezone it
//! fires in; pausing, resuming and deleting one. Schedules are written over
//! the API (`PUT /v1/schedules/{id}`).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::page::{self, csrf_field, layout, render, Nav, PageResult};
use super::session::{urlencode as enc, Action, Session};
use crate::service::auth::Permission;
use crate::service::schedules::RECIPIENT_TZ;
use crate::service::AppState;
use crate::service::Error;
use crate::store::schedules::{ScheduleRow, TargetRow};
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/schedules", get(list))
        .route("/console/schedules/{id}", get(show))
        .route("/console/schedules/{id}/pause", post(pause))
        .route("/console/schedules/{id}/resume", post(resume))
        .route("/console/schedules/{id}/delete", post(delete))
}

fn href(id: &str) -> String {
    format!("/console/schedules/{}", enc(id))
}

fn workflow_href(key: &str) -> String {
    format!("/console/workflows/{}", enc(key))
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    notice: Option<String>,
}

/// When a running schedule fires next: the earliest of its timezones.
fn next_fire(s: &ScheduleRow, targets: &[TargetRow]) -> Option<i64> {
    if s.paused_at.is_some() {
        return None;
    }
    targets.iter().map(|t| t.next_fire_at).min()
}

/// The timezone whose firing was the latest.
fn last_fired(targets: &[TargetRow]) -> Option<&TargetRow> {
    targets
        .iter()
        .filter(|t| t.last_fired_at.is_some())
        .max_by_key(|t| t.last_fired_at)
}

/// A time in full, then how far from now: `2026-11-23 09:00:00 UTC (in 3 h)`.
fn at(ms: i64, now: i64) -> Markup {
    html! {
        time datetime=(crate::util::rfc3339(ms)) { (page::time(ms)) }
        " " span.sub { "(" (page::ago(ms, now)) ")" }
    }
}

fn state_badge(s: &ScheduleRow) -> Markup {
    html! {
        @if s.paused_at.is_some() {
            span.badge.s-suppressed.state { "paused" }
        } @else {
            span.badge.s-sent.state { "running" }
        }
    }
}

/// The schedule as written and the timezone it is in.
fn written(s: &ScheduleRow) -> Markup {
    html! {
        code.expr { (s.schedule) }
        " "
        span.tz {
            @if s.timezone == RECIPIENT_TZ {
                "in each recipient's timezone"
            } @else {
                "in " (s.timezone)
            }
        }
    }
}

/// What a timezone's last firing made: its notification, or why none.
fn outcome(t: &TargetRow) -> Markup {
    html! {
        @if let Some(e) = &t.last_error {
            span.error.last-error { (e) }
        } @else if let Some(n) = &t.last_notification {
            a.notification href=(super::notifications::href(n)) { code { (n) } }
        }
    }
}

/// How many recipients a list of them (as stored, JSON) names.
fn count(recipients: &str) -> usize {
    serde_json::from_str::<Vec<Value>>(recipients).map_or(0, |v| v.len())
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<PageQuery>,
) -> Response {
    match list_page(&state, &session, q.notice.as_deref()).await {
        Ok(r) | Err(r) => r,
    }
}

async fn list_page(state: &AppState, session: &Session, notice: Option<&str>) -> PageResult {
    session.require(page::SCHEDULES)?;
    let items = state.store.list_schedules().await.map_err(page::db)?;
    let now = now_ms();
    Ok(render(layout(
        "Schedules",
        Some(session),
        Nav::Schedules,
        html! {
            h1 { "Schedules" }
            (page::flash(notice))
            @if items.is_empty() {
                p.sub { "No schedules yet. Create one with " code { "PUT /v1/schedules/{id}" } "." }
            } @else {
                table.grid.schedules {
                    thead { tr {
                        th { "Id" } th { "Workflow" } th { "Schedule" } th { "State" }
                        th { "Next firing" } th { "Last firing" }
                    } }
                    tbody {
                        @for (s, targets) in &items {
                            tr data-id=(s.id) class=[s.paused_at.map(|_| "paused")] {
                                td { a href=(href(&s.id)) { code { (s.id) } } }
                                td { a href=(workflow_href(&s.workflow_key)) { code { (s.workflow_key) } } }
                                td { (written(s)) }
                                td { (state_badge(s)) }
                                td.next {
                                    @match next_fire(s, targets) {
                                        Some(t) => { (at(t, now)) }
                                        None => { span.sub { "none while paused" } }
                                    }
                                }
                                td.last {
                                    @match last_fired(targets) {
                                        Some(t) => {
                                            @if let Some(f) = t.last_fired_at { (page::when(f, now)) }
                                            @if targets.len() > 1 { " " span.sub { "(" (t.timezone) ")" } }
                                            @if t.last_error.is_some() || t.last_notification.is_some() { " · " (outcome(t)) }
                                        }
                                        None => { span.sub { "not yet" } }
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

async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    match show_page(&state, &session, &id, q.notice.as_deref()).await {
        Ok(r) | Err(r) => r,
    }
}

async fn stored(
    state: &AppState,
    session: &Session,
    id: &str,
) -> Result<(ScheduleRow, Vec<TargetRow>), Response> {
    match state.schedule(id).await {
        Ok(s) => Ok(s),
        Err(Error::NotFound(_)) => Err(page::not_found(
            session,
            &format!("There is no schedule {id}."),
        )),
        Err(e) => Err(page::failed(e)),
    }
}

async fn show_page(
    state: &AppState,
    session: &Session,
    id: &str,
    notice: Option<&str>,
) -> PageResult {
    session.require(page::SCHEDULES)?;
    let (s, targets) = stored(state, session, id).await?;
    let now = now_ms();
    let paused = s.paused_at.is_some();
    Ok(render(layout(
        &format!("Schedule {id}"),
        Some(session),
        Nav::Schedules,
        html! {
            p.crumbs { a href="/console/schedules" { "Schedules" } " / " (s.id) }
            h1 { "Schedule " code { (s.id) } " " (state_badge(&s)) }
            (page::flash(notice))
            @if session.may(Permission::Send) {
                div.actions {
                    @if paused {
                        form method="post" action={(href(&s.id)) "/resume"} {
                            (csrf_field(session))
                            button id="resume" type="submit" { "Resume" }
                        }
                    } @else {
                        form method="post" action={(href(&s.id)) "/pause"} {
                            (csrf_field(session))
                            button.secondary id="pause" type="submit" { "Pause" }
                        }
                    }
                    form method="post" action={(href(&s.id)) "/delete"}
                        data-confirm={"Delete schedule " (s.id) "? It will fire no more; what it triggered goes on."} {
                        (csrf_field(session))
                        button.danger id="delete" type="submit" { "Delete" }
                    }
                }
            }
            dl.facts {
                dt { "Workflow" } dd { a href=(workflow_href(&s.workflow_key)) { code { (s.workflow_key) } } }
                dt { "Schedule" } dd { (written(&s)) }
                dt { "State" } dd {
                    @match s.paused_at {
                        Some(t) => { "paused " (page::when(t, now)) "; it fires no more until resumed" }
                        None => { "running" }
                    }
                }
                dt { "Next firing" } dd.next {
                    @match next_fire(&s, &targets) {
                        Some(t) => { (at(t, now)) }
                        None => { span.sub { "none while paused" } }
                    }
                }
                dt { "Recipients" } dd.recipients { (count(&s.recipients)) }
                dt { "Created" } dd { (page::time(s.created_at)) }
                dt { "Updated" } dd { (page::time(s.updated_at)) }
            }
            h2 { "Data" }
            pre.data { (page::pretty_json(&s.data)) }
            h2 id="targets" { "Timezones" }
            p.sub { "When it fires in each timezone its recipients are in." }
            table.grid.targets aria-labelledby="targets" {
                thead { tr {
                    th { "Timezone" } th { "Recipients" } th { "Next firing" }
                    th { "Last fired" } th { "Last notification" } th { "Last error" }
                } }
                tbody {
                    @for t in &targets {
                        tr data-timezone=(t.timezone) {
                            td { (t.timezone) }
                            td.num { (count(&t.recipients)) }
                            td.next {
                                @if paused { span.sub { "none while paused" } } @else { (at(t.next_fire_at, now)) }
                            }
                            td {
                                @match t.last_fired_at {
                                    Some(f) => { (at(f, now)) }
                                    None => { span.sub { "not yet" } }
                                }
                            }
                            td {
                                @if let Some(n) = &t.last_notification {
                                    a.notification href=(super::notifications::href(n)) { code { (n) } }
                                }
                            }
                            td.error { @if let Some(e) = &t.last_error { (e) } }
                        }
                    }
                }
            }
        },
    )))
}

/// Pauses or resumes schedule `id` for a session that may, as the API's
/// routes do (scope `send`).
async fn set_paused(state: &AppState, session: &Session, id: &str, pause: bool) -> Response {
    if let Err(r) = session.require(&[Permission::Send]) {
        return r;
    }
    match state.pause_schedule(id, pause).await {
        Ok(()) => {
            tracing::info!(schedule = %id, pause, key_id = %session.key_id, "schedule paused or resumed from the console");
            let notice = if pause {
                "Paused: it fires no more until resumed."
            } else {
                "Resumed: it fires next at its next time from now."
            };
            super::back_to(&href(id), notice)
        }
        Err(Error::NotFound(_)) => page::not_found(session, &format!("There is no schedule {id}.")),
        Err(e) => page::failed(e),
    }
}

async fn pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
    a: Action<super::NoFields>,
) -> Response {
    set_paused(&state, &a.session, &id, true).await
}

async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
    a: Action<super::NoFields>,
) -> Response {
    set_paused(&state, &a.session, &id, false).await
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    a: Action<super::NoFields>,
) -> Response {
    let session = &a.session;
    if let Err(r) = session.require(&[Permission::Send]) {
        return r;
    }
    match state.store.delete_schedule(&id).await {
        Ok(true) => {
            tracing::info!(schedule = %id, key_id = %session.key_id, "schedule deleted from the console");
            super::back_to(
                "/console/schedules",
                &format!("Schedule {id} deleted: it fires no more."),
            )
        }
        Ok(false) => page::not_found(session, &format!("There is no schedule {id}.")),
        Err(e) => page::db(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(tz: &str, next: i64, fired: Option<i64>) -> TargetRow {
        TargetRow {
            schedule_id: "s".into(),
            timezone: tz.into(),
            recipients: "[{\"id\":\"a\"},{\"id\":\"b\"}]".into(),
            next_fire_at: next,
            last_fired_at: fired,
            last_notification: None,
            last_error: None,
        }
    }

    #[test]
    fn next_and_last_firings_are_the_earliest_and_latest_of_its_timezones() {
        let mut s = ScheduleRow {
            id: "s".into(),
            workflow_key: "w".into(),
            recipients: "[]".into(),
            data: "{}".into(),
            schedule: "daily 09:00".into(),
            timezone: RECIPIENT_TZ.into(),
            paused_at: None,
            created_at: 0,
            updated_at: 0,
        };
        let targets = [
            target("Asia/Shanghai", 300, Some(20)),
            target("UTC", 200, None),
            target("America/New_York", 400, Some(10)),
        ];
        assert_eq!(next_fire(&s, &targets), Some(200));
        assert_eq!(last_fired(&targets).unwrap().timezone, "Asia/Shanghai");
        assert!(last_fired(&targets[1..2]).is_none());
        assert_eq!(count(&targets[0].recipients), 2);
        s.paused_at = Some(1);
        assert_eq!(next_fire(&s, &targets), None, "none while paused");
    }
}
