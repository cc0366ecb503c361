//! Workflows: the list; a workflow's steps drawn in order with what each
//! does and the conditions it runs under; a dry run on given data and
//! recipient (a form the server answers with the page); the version
//! history, and activating a version. Workflows are written over the API.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::page::{self, csrf_field, layout, render, Nav, PageResult};
use super::session::{Action, Session};
use crate::domain::workflow::{self, Step, StepPreview, Truth, Workflow};
use crate::service::auth::Permission;
use crate::service::send::RecipientInput;
use crate::service::workflows::WorkflowPreviewRequest;
use crate::service::AppState;
use crate::service::Error;
use crate::store::{Kind, Versioned};
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/workflows", get(list))
        .route("/console/workflows/{key}", get(show))
        .route("/console/workflows/{key}/preview", post(dry_run))
        .route("/console/workflows/{key}/versions", get(versions))
        .route(
            "/console/workflows/{key}/versions/{n}/activate",
            post(activate),
        )
}

fn enc(s: &str) -> String {
    super::session::urlencode(s)
}

fn href(key: &str) -> String {
    format!("/console/workflows/{}", enc(key))
}

/// The workflow as stored (its current version for `None`), or the page
/// saying which of the two is missing.
async fn stored(
    state: &AppState,
    session: &Session,
    key: &str,
    version: Option<i64>,
) -> Result<Versioned, Response> {
    match state.versioned(Kind::Workflow, key, version).await {
        Ok(w) => Ok(w),
        Err(Error::NotFound(m)) => {
            Err(page::not_found(session, &format!("{}.", page::capital(&m))))
        }
        Err(e) => Err(page::failed(e)),
    }
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    version: Option<i64>,
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
    session.require(page::WORKFLOWS)?;
    let items = state
        .store
        .list_versioned(Kind::Workflow, true)
        .await
        .map_err(page::db)?;
    let now = now_ms();
    Ok(render(layout(
        "Workflows",
        Some(session),
        Nav::Workflows,
        html! {
            h1 { "Workflows" }
            (page::flash(notice))
            @if items.is_empty() {
                p.sub { "No workflows yet. Create one with " code { "PUT /v1/workflows/{key}" } "." }
            } @else {
                table.grid.workflows {
                    thead { tr { th { "Key" } th { "Name" } th { "Version" } th { "Updated" } th { "State" } th {} } }
                    tbody {
                        @for w in &items {
                            tr data-key=(w.key) class=[w.archived_at.map(|_| "archived")] {
                                td { a href=(href(&w.key)) { code { (w.key) } } }
                                td { (w.name) }
                                td.num { (w.current_version) }
                                td { (page::when(w.updated_at, now)) }
                                td {
                                    @match w.archived_at {
                                        Some(at) => { "archived " (page::when(at, now)) }
                                        None => { "active" }
                                    }
                                }
                                td { a href={(href(&w.key)) "/versions"} { "history" } }
                            }
                        }
                    }
                }
            }
        },
    )))
}

/// What the dry-run form holds, as typed.
#[derive(Deserialize, Default, Clone)]
struct DryRunForm {
    #[serde(default)]
    data: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    version: String,
}

/// A dry run's answer, or why there is none, by field (`data`,
/// `recipient`, `version`).
enum DryRunResult {
    NotRun,
    Ran {
        version: Option<i64>,
        steps: Vec<StepPreview>,
    },
    Refused(BTreeMap<String, String>),
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let r = async {
        session.require(page::WORKFLOWS)?;
        let form = DryRunForm {
            data: "{}".into(),
            version: q.version.map(|v| v.to_string()).unwrap_or_default(),
            ..Default::default()
        };
        workflow_page(
            &state,
            &session,
            &key,
            q.version,
            &form,
            DryRunResult::NotRun,
            q.notice.as_deref(),
        )
        .await
    }
    .await;
    match r {
        Ok(r) | Err(r) => r,
    }
}

/// The request the form describes, or what is wrong with its fields.
fn request(f: &DryRunForm) -> Result<WorkflowPreviewRequest, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let data = match f.data.trim() {
        "" => None,
        text => match serde_json::from_str::<Value>(text) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.insert("data".to_string(), format!("not JSON: {e}"));
                None
            }
        },
    };
    let recipient = match f.recipient.trim() {
        "" => None,
        id => Some(RecipientInput {
            id: Some(id.to_string()),
            ..Default::default()
        }),
    };
    let version = match f.version.trim() {
        "" => None,
        n => match n.parse::<i64>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                errors.insert(
                    "version".to_string(),
                    "a version number (1, 2, ...), or empty for the current one".to_string(),
                );
                None
            }
        },
    };
    if errors.is_empty() {
        Ok(WorkflowPreviewRequest {
            data,
            recipient,
            version,
            draft: None,
        })
    } else {
        Err(errors)
    }
}

async fn dry_run(
    State(state): State<AppState>,
    Path(key): Path<String>,
    a: Action<DryRunForm>,
) -> Response {
    let session = &a.session;
    let r = async {
        session.require(page::WORKFLOWS)?;
        let result = match request(&a.form) {
            Err(errors) => DryRunResult::Refused(errors),
            Ok(req) => {
                let asked = req.version;
                match state.preview_workflow(&key, req).await {
                    Ok(d) => DryRunResult::Ran {
                        version: d.version,
                        steps: d.steps,
                    },
                    Err(Error::Invalid(errs)) => DryRunResult::Refused(
                        errs.into_iter().map(|e| (e.field, e.message)).collect(),
                    ),
                    // A version the workflow doesn't have is the form's
                    // mistake; a workflow that isn't there is the page's.
                    Err(Error::NotFound(m)) if asked.is_some() => {
                        DryRunResult::Refused(BTreeMap::from([("version".to_string(), m)]))
                    }
                    Err(Error::NotFound(m)) => {
                        return Err(page::not_found(session, &format!("{}.", page::capital(&m))))
                    }
                    Err(e) => return Err(page::failed(e)),
                }
            }
        };
        // The steps shown are those of the version tried, or asked for.
        let shown = match &result {
            DryRunResult::Ran { version, .. } => *version,
            DryRunResult::Refused(errors) if !errors.contains_key("version") => {
                a.form.version.trim().parse().ok()
            }
            _ => None,
        };
        workflow_page(&state, session, &key, shown, &a.form, result, None).await
    }
    .await;
    match r {
        Ok(r) | Err(r) => r,
    }
}

/// A step's type, as its author writes it.
fn step_type(s: &Step) -> &'static str {
    match s.action {
        workflow::Action::Send { .. } => "send",
        workflow::Action::Delay(_) => "delay",
        workflow::Action::Digest(_) => "digest",
    }
}

fn truth(t: Truth) -> &'static str {
    match t {
        Truth::Yes => "yes",
        Truth::No => "no",
        Truth::Depends => "depends",
    }
}

/// A workflow's page: version `shown` (the current one for `None`), its
/// steps, and the dry-run form with `form` in it and `result` under it.
async fn workflow_page(
    state: &AppState,
    session: &Session,
    key: &str,
    shown: Option<i64>,
    form: &DryRunForm,
    result: DryRunResult,
    notice: Option<&str>,
) -> PageResult {
    let current = stored(state, session, key, None).await?;
    let row = match shown {
        Some(n) if n != current.version => stored(state, session, key, Some(n)).await?,
        _ => current.clone(),
    };
    let def: Value = serde_json::from_str(&row.content).map_err(page::db)?;
    let description = def.get("description").and_then(Value::as_str);
    let parsed = Workflow::parse(&def);
    let now = now_ms();
    let errors = match &result {
        DryRunResult::Refused(e) => Some(e),
        _ => None,
    };
    let status = if errors.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let field_error = |f: &str| errors.and_then(|e| e.get(f));
    let body = layout(
        &format!("Workflow {key}"),
        Some(session),
        Nav::Workflows,
        html! {
            p.crumbs { a href="/console/workflows" { "Workflows" } " / " (key) }
            h1 {
                "Workflow " code { (key) }
                " " span.sub { "version " (row.version) @if row.version == current.version { " (current)" } }
            }
            (page::flash(notice))
            @if row.version != current.version {
                p.flash { "Showing version " (row.version) "; version " (current.version) " is current. "
                    a href={(href(key)) "/versions"} { "Activate" } " it to make triggers use it." }
            }
            @if let Some(at) = current.archived_at {
                p.flash { "Archived " (page::when(at, now)) ": it can't be triggered. Saving it again over the API brings it back." }
            }
            dl.facts {
                dt { "Name" } dd { (row.name) }
                dt { "Description" } dd { @match description { Some(d) => { (d) } None => { span.sub { "none" } } } }
                dt { "Saved" } dd { (page::when(row.created_at, now)) }
            }
            p { a href={(href(key)) "/versions"} { "Version history" } }
            h2 id="steps" { "Steps" }
            @match &parsed {
                Ok(wf) => { (steps_list(wf)) }
                Err(errs) => {
                    div.problem role="alert" {
                        p { "This version's definition can't be read:" }
                        ul { @for e in errs { li { code { (e.field) } ": " (e.message) } } }
                    }
                }
            }
            details.definition {
                summary { "Definition as stored (JSON)" }
                pre { (page::pretty_json(&row.content)) }
            }
            section.dry-run aria-labelledby="dry-run" {
                h2 id="dry-run" { "Dry run" }
                p.sub { "Which steps would run for this data and recipient. Nothing is sent or stored." }
                @if let Some(errs) = errors {
                    div.problem role="alert" {
                        p { "Not run. Fix these and try again:" }
                        ul { @for (f, m) in errs { li { code { (f) } ": " (m) } } }
                    }
                }
                form id="dry-run-form" method="post" action={(href(key)) "/preview#dry-run"} {
                    (csrf_field(session))
                    div.part-editor class=[field_error("data").map(|_| "has-error")] {
                        label for="dry-run-data" { "Data (JSON)" }
                        textarea id="dry-run-data" name="data" rows="6" spellcheck="false"
                            aria-invalid=[field_error("data").map(|_| "true")]
                            aria-describedby="dry-run-data-error" { (form.data) }
                        p.field-error id="dry-run-data-error" { @if let Some(m) = field_error("data") { (m) } }
                    }
                    div.fields {
                        div {
                            label for="dry-run-recipient" { "Recipient id" }
                            input id="dry-run-recipient" name="recipient" value=(form.recipient) placeholder="none" autocomplete="off"
                                aria-invalid=[field_error("recipient").map(|_| "true")]
                                aria-describedby="dry-run-recipient-error";
                            p.field-error id="dry-run-recipient-error" { @if let Some(m) = field_error("recipient") { (m) } }
                        }
                        div {
                            label for="dry-run-version" { "Version" }
                            input id="dry-run-version" name="version" value=(form.version) inputmode="numeric" size="8"
                                placeholder={"current (" (current.version) ")"}
                                aria-invalid=[field_error("version").map(|_| "true")]
                                aria-describedby="dry-run-version-error";
                            p.field-error id="dry-run-version-error" { @if let Some(m) = field_error("version") { (m) } }
                        }
                    }
                    button type="submit" { "Dry run" }
                }
                @if let DryRunResult::Ran { version, steps } = &result {
                    h3 id="dry-run-result" { "Result for version " @if let Some(v) = version { (v) } }
                    ol.timeline.dry-run-steps aria-labelledby="dry-run-result" {
                        @for (i, s) in steps.iter().enumerate() {
                            li data-step=(s.id) data-runs=(truth(s.runs)) class={"runs-" (truth(s.runs))} {
                                span.step-no aria-hidden="true" { (i + 1) }
                                p.step-head {
                                    code { (s.id) } " "
                                    span.badge { (s.kind) } " "
                                    span class={"badge runs " (runs_class(s.runs))} { "runs: " (truth(s.runs)) }
                                }
                                p.summary { (s.summary) }
                                @if let Some(b) = &s.because {
                                    p.because {
                                        @if s.runs == Truth::No { "Not met: " } @else { "Not known until the run: " }
                                        code { (b) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    );
    Ok((status, axum::response::Html(body.into_string())).into_response())
}

fn runs_class(t: Truth) -> &'static str {
    match t {
        Truth::Yes => "s-sent",
        Truth::No => "s-suppressed",
        Truth::Depends => "s-retrying",
    }
}

/// The steps in order, as a vertical timeline: id, type, what the step
/// does, and the conditions it runs under as written.
fn steps_list(wf: &Workflow) -> Markup {
    html! {
        ol.timeline.steps aria-labelledby="steps" {
            @for (i, s) in wf.steps.iter().enumerate() {
                li data-step=(s.id) {
                    span.step-no aria-hidden="true" { (i + 1) }
                    h3 { code { (s.id) } " " span.badge { (step_type(s)) } }
                    p.summary {
                        (workflow::summary(&s.action))
                        @if let workflow::Action::Send { template: Some(t), .. } = &s.action {
                            " · " a href={"/console/templates/" (enc(t))} { "open template" }
                        }
                    }
                    @if s.when.is_empty() {
                        p.sub.conditions { "Always runs." }
                    } @else {
                        div.conditions {
                            p.sub { @if s.when.len() == 1 { "Runs if:" } @else { "Runs if all of these hold:" } }
                            ul {
                                @for c in &s.when { li { code { (workflow::describe(c)) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn versions(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let r = async {
        session.require(page::WORKFLOWS)?;
        let current = stored(&state, &session, &key, None).await?;
        let versions = state
            .store
            .versions(Kind::Workflow, &key)
            .await
            .map_err(page::db)?;
        Ok(super::versions_page(
            &session,
            (Nav::Workflows, "Workflows"),
            "/console/workflows",
            &key,
            q.notice.as_deref(),
            (&versions, current.version),
            |v| html! {
                a href={(href(&key)) "?version=" (v.version)} { "open" }
                @if v.version != current.version && session.may(Permission::WriteTemplates) {
                    form.inline method="post" action={(href(&key)) "/versions/" (v.version) "/activate"}
                        data-confirm={"Make version " (v.version) " the one triggers use?"} {
                        (csrf_field(&session))
                        button.activate type="submit" { "Activate version " (v.version) }
                    }
                }
            },
        ))
    }
    .await;
    match r {
        Ok(r) | Err(r) => r,
    }
}

async fn activate(
    State(state): State<AppState>,
    Path((key, n)): Path<(String, i64)>,
    a: Action<Vec<(String, String)>>,
) -> Response {
    let history = format!("{}/versions", href(&key));
    super::activate_version(&state, &a.session, Kind::Workflow, &key, n, &history).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(data: &str, recipient: &str, version: &str) -> DryRunForm {
        DryRunForm {
            data: data.into(),
            recipient: recipient.into(),
            version: version.into(),
        }
    }

    #[test]
    fn the_dry_run_form_becomes_a_request_or_names_its_bad_fields() {
        let r = request(&form(" {\"priority\": \"high\"} ", " u_1 ", "2")).unwrap();
        assert_eq!(r.data.unwrap()["priority"], "high");
        assert_eq!(r.recipient.unwrap().id.as_deref(), Some("u_1"));
        assert_eq!(r.version, Some(2));
        let r = request(&form("", "", "")).unwrap();
        assert!(r.data.is_none() && r.recipient.is_none() && r.version.is_none());

        let errors = request(&form("{not json", "", "0")).unwrap_err();
        assert!(errors["data"].starts_with("not JSON"), "{errors:?}");
        assert!(errors.contains_key("version"));
    }

    #[test]
    fn not_found_messages_read_as_sentences() {
        assert_eq!(
            page::capital("there is no workflow `x`"),
            "There is no workflow `x`"
        );
        assert_eq!(page::capital(""), "");
    }
}
