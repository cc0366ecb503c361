//! Templates: the list; an editor per channel part and locale with a live
//! preview on sample data (the page's script calls
//! `POST /v1/templates/{key}/preview` with the draft); saving makes a new
//! version; the version history, a diff between two versions, and rollback.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use serde::Deserialize;

use super::page::{self, csrf_field, layout, render, Nav, PageResult};
use super::session::{Action, Session};
use crate::domain::Channel;
use crate::render::{TemplateContent, TemplateSettings};
use crate::service::auth::Permission;
use crate::service::templates::{save, valid_key};
use crate::service::AppState;
use crate::service::Error;
use crate::store::{Kind, Versioned};
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/templates", get(list).post(new_template))
        .route("/console/templates/{key}", get(edit).post(save_form))
        .route("/console/templates/{key}/versions", get(versions))
        .route("/console/templates/{key}/diff", get(diff))
        .route(
            "/console/templates/{key}/versions/{n}/activate",
            post(rollback),
        )
}

#[allow(clippy::result_large_err)] // as Session::require
fn can_read(s: &Session) -> Result<(), Response> {
    s.require(page::TEMPLATES)
}

/// The template as stored: its current version for `None`.
async fn stored(
    state: &AppState,
    key: &str,
    version: Option<i64>,
) -> Result<Option<Versioned>, Response> {
    state
        .store
        .get_version(Kind::Template, key, version)
        .await
        .map_err(page::db)
}

/// Version `n` of the template, or the page saying it has none.
async fn version(
    state: &AppState,
    session: &Session,
    key: &str,
    n: i64,
) -> Result<Versioned, Response> {
    stored(state, key, Some(n))
        .await?
        .ok_or_else(|| page::not_found(session, &format!("Template `{key}` has no version {n}.")))
}

fn enc(s: &str) -> String {
    super::session::urlencode(s)
}

#[derive(Deserialize, Default)]
struct Notice {
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<Notice>,
) -> Response {
    match list_page(&state, &session, q.notice.as_deref()).await {
        Ok(r) | Err(r) => r,
    }
}

async fn list_page(state: &AppState, session: &Session, notice: Option<&str>) -> PageResult {
    can_read(session)?;
    let items = state
        .store
        .list_versioned(Kind::Template, true)
        .await
        .map_err(page::db)?;
    let now = now_ms();
    Ok(render(layout(
        "Templates",
        Some(session),
        Nav::Templates,
        html! {
            h1 { "Templates" }
            (page::flash(notice))
            @if session.may(Permission::WriteTemplates) {
                form.inline method="post" action="/console/templates" {
                    (csrf_field(session))
                    label { "New template key" input name="key" required pattern="[A-Za-z0-9._-]{1,100}" placeholder="order-shipped"; }
                    button type="submit" { "Create" }
                }
            }
            @if items.is_empty() {
                p.sub { "No templates yet." }
            } @else {
                table.grid {
                    thead { tr { th { "Key" } th { "Name" } th { "Version" } th { "Updated" } th {} } }
                    tbody {
                        @for t in &items {
                            tr class=[t.archived_at.map(|_| "archived")] {
                                td { a href={"/console/templates/" (enc(&t.key))} { code { (t.key) } } }
                                td { (t.name) }
                                td.num { (t.current_version) }
                                td { (page::when(t.updated_at, now)) }
                                td {
                                    a href={"/console/templates/" (enc(&t.key)) "/versions"} { "history" }
                                    @if t.archived_at.is_some() { " · archived" }
                                }
                            }
                        }
                    }
                }
            }
        },
    )))
}

#[derive(Deserialize)]
struct NewTemplate {
    #[serde(default)]
    key: String,
}

async fn new_template(a: Action<NewTemplate>) -> Response {
    let key = a.form.key.trim();
    if !valid_key(key) {
        return super::back_to(
            "/console/templates",
            "A template key is 1 to 100 letters, digits, '-', '_' or '.'.",
        );
    }
    Redirect::to(&format!("/console/templates/{}", enc(key))).into_response()
}

/// What the editor shows: the stored version, or what was just submitted.
struct Draft {
    name: String,
    content: TemplateContent,
    /// Errors by field (`channels.email.subject`, `locales.de.sms.text`,
    /// `settings.frequency_cap`, `name`).
    errors: BTreeMap<String, String>,
}

async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let r = async {
        can_read(&session)?;
        let current = stored(&state, &key, None).await?;
        let shown = match q.version {
            Some(n) => Some(version(&state, &session, &key, n).await?),
            None => current.clone(),
        };
        let draft = match &shown {
            Some(t) => Draft {
                name: t.name.clone(),
                content: serde_json::from_str(&t.content).unwrap_or_default(),
                errors: BTreeMap::new(),
            },
            None => Draft {
                name: key.clone(),
                content: TemplateContent::default(),
                errors: BTreeMap::new(),
            },
        };
        Ok(editor(
            &state,
            &session,
            &key,
            current.as_ref(),
            shown.as_ref().map(|t| t.version),
            &draft,
            q.notice.as_deref(),
        ))
    }
    .await;
    match r {
        Ok(r) | Err(r) => r,
    }
}

/// Form field of one part: `part|<locale or empty>|<channel>|<part>`.
fn part_field(locale: &str, channel: &str, part: &str) -> String {
    format!("part|{locale}|{channel}|{part}")
}

/// The name the API's errors use for that part.
fn error_field(locale: &str, channel: &str, part: &str) -> String {
    if locale.is_empty() {
        format!("channels.{channel}.{part}")
    } else {
        format!("locales.{locale}.{channel}.{part}")
    }
}

fn editor(
    state: &AppState,
    session: &Session,
    key: &str,
    current: Option<&Versioned>,
    shown_version: Option<i64>,
    draft: &Draft,
    notice: Option<&str>,
) -> Response {
    let editable = session.may(Permission::WriteTemplates);
    let mut locales: Vec<String> = vec![String::new()];
    locales.extend(draft.content.locales.keys().cloned());
    let channels: Vec<Channel> = Channel::ALL
        .iter()
        .copied()
        .filter(|c| {
            state.enabled_channels.contains(c) || draft.content.channels.contains_key(c.as_str())
        })
        .collect();
    let part_value = |locale: &str, channel: &str, part: &str| -> String {
        let parts = if locale.is_empty() {
            draft.content.channels.get(channel)
        } else {
            draft
                .content
                .locales
                .get(locale)
                .and_then(|l| l.get(channel))
        };
        parts.and_then(|p| p.get(part)).cloned().unwrap_or_default()
    };
    let settings = &draft.content.settings;
    let status = if draft.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = layout(
        &format!("Template {key}"),
        Some(session),
        Nav::Templates,
        html! {
            p.crumbs { a href="/console/templates" { "Templates" } " / " (key) }
            h1 {
                "Template " code { (key) }
                @if let Some(t) = current { " " span.sub { "current version " (t.version) } }
                @else { " " span.sub { "new" } }
            }
            (page::flash(notice))
            @if let (Some(v), Some(t)) = (shown_version, current) {
                @if v != t.version {
                    p.flash { "Showing version " (v) ". Saving makes it a new version; "
                        a href={"/console/templates/" (enc(key)) "/versions"} { "roll back" } " to make it current as it is." }
                }
            }
            @if !draft.errors.is_empty() {
                div.problem role="alert" {
                    p { "Not saved. Fix these and save again:" }
                    ul { @for (f, m) in &draft.errors { li { code { (f) } ": " (m) } } }
                }
            }
            p { a href={"/console/templates/" (enc(key)) "/versions"} { "Version history" } }
            div.editor-layout {
                form id="template-form" method="post" action={"/console/templates/" (enc(key))} data-key=(key) {
                    (csrf_field(session))
                    label { "Name" input name="name" value=(draft.name) disabled[!editable]; }
                    div.tabs role="tablist" {
                        @for (i, l) in locales.iter().enumerate() {
                            button type="button" role="tab" class=[(i == 0).then_some("on")] data-tab={"loc-" (l)} {
                                @if l.is_empty() { "default" } @else { (l) }
                            }
                        }
                        @if editable {
                            span.add-locale {
                                input id="new-locale" placeholder="add locale, e.g. de" size="10";
                                button id="add-locale" type="button" { "+" }
                            }
                        }
                    }
                    @for (i, l) in locales.iter().enumerate() {
                        section.locale id={"loc-" (l)} data-locale=(l) hidden[i != 0] {
                            @for (c, parts) in channels.iter().map(|c| (c.as_str(), c.parts())) {
                                fieldset.channel {
                                    legend { (c) }
                                    @for part in parts {
                                        @let field = error_field(l, c, part);
                                        @let err = draft.errors.get(&field);
                                        div.part-editor class=[err.map(|_| "has-error")] {
                                            label for=(part_field(l, c, part)) { (part) }
                                            div.code {
                                                pre.gutter aria-hidden="true" {}
                                                textarea id=(part_field(l, c, part)) name=(part_field(l, c, part))
                                                    data-field=(field) spellcheck="false" rows=(if *part == "html" || *part == "body" { 8 } else { 2 })
                                                    readonly[!editable] { (part_value(l, c, part)) }
                                            }
                                            p.field-error data-for=(field) { @if let Some(m) = err { (m) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    fieldset.settings {
                        legend { "Shared layout" }
                        label { "Email layout" input name="layout" value=(draft.content.layout.as_deref().unwrap_or("")) placeholder="none (PUT /v1/layouts/{key} stores one)" disabled[!editable]; }
                        @for f in ["layout", "channels"] {
                            @if let Some(m) = draft.errors.get(f) { p.field-error { (f) ": " (m) } }
                        }
                    }
                    fieldset.settings {
                        legend { "Flow control" }
                        label { "Dedup window" input name="dedup_window" value=(settings.dedup_window.as_deref().unwrap_or("")) placeholder="the configured default (24h)" disabled[!editable]; }
                        label.check { input type="checkbox" name="content_dedup" value="true" checked[settings.content_dedup] disabled[!editable]; " Deduplicate by rendered content" }
                        label { "Frequency cap" input name="frequency_cap" value=(settings.frequency_cap.as_deref().unwrap_or("")) placeholder="e.g. 5/1d" disabled[!editable]; }
                        @for f in ["settings.dedup_window", "settings.frequency_cap"] {
                            @if let Some(m) = draft.errors.get(f) { p.field-error { (f) ": " (m) } }
                        }
                    }
                    @if editable { button id="save" type="submit" { "Save as a new version" } }
                }
                aside.preview {
                    h2 { "Preview" }
                    label { "Sample data (JSON)"
                        textarea id="sample-data" spellcheck="false" rows="6" { "{}" }
                    }
                    label { "Locale" input id="preview-locale" placeholder="default"; }
                    p.sub id="preview-status" { "Edit a part or the data to preview." }
                    div id="preview" {}
                }
            }
        },
    );
    (status, axum::response::Html(body.into_string())).into_response()
}

/// The editor's form as a template's content: empty parts are left out.
fn content_from_form(
    fields: &[(String, String)],
) -> (String, TemplateContent, BTreeMap<String, String>) {
    let mut content = TemplateContent::default();
    let mut name = String::new();
    let mut settings = TemplateSettings::default();
    let mut errors = BTreeMap::new();
    for (k, v) in fields {
        match k.as_str() {
            "name" => name = v.trim().to_string(),
            "dedup_window" if !v.trim().is_empty() => {
                settings.dedup_window = Some(v.trim().to_string())
            }
            "frequency_cap" if !v.trim().is_empty() => {
                settings.frequency_cap = Some(v.trim().to_string())
            }
            "content_dedup" => settings.content_dedup = v == "true",
            "layout" if !v.trim().is_empty() => content.layout = Some(v.trim().to_string()),
            _ => {
                let mut it = k.splitn(4, '|');
                if let (Some("part"), Some(locale), Some(channel), Some(part)) =
                    (it.next(), it.next(), it.next(), it.next())
                {
                    if v.is_empty() {
                        continue;
                    }
                    if !locale.is_empty() && !valid_key(locale) {
                        errors.insert(
                            "locale".to_string(),
                            format!("`{locale}` is not a locale name"),
                        );
                        continue;
                    }
                    let parts = if locale.is_empty() {
                        content.channels.entry(channel.to_string()).or_default()
                    } else {
                        content
                            .locales
                            .entry(locale.to_string())
                            .or_default()
                            .entry(channel.to_string())
                            .or_default()
                    };
                    // Browsers send textarea line breaks as CRLF.
                    parts.insert(part.to_string(), v.replace("\r\n", "\n"));
                }
            }
        }
    }
    content.settings = settings;
    (name, content, errors)
}

async fn save_form(
    State(state): State<AppState>,
    Path(key): Path<String>,
    a: Action<Vec<(String, String)>>,
) -> Response {
    let session = &a.session;
    if let Err(r) = session.require(&[Permission::WriteTemplates]) {
        return r;
    }
    if !valid_key(&key) {
        return page::error_page(
            Some(session),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not a template key",
            "A template key is 1 to 100 letters, digits, '-', '_' or '.'.",
        );
    }
    let (name, content, mut errors) = content_from_form(&a.form);
    let name = if name.is_empty() { key.clone() } else { name };
    let current = match stored(&state, &key, None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if errors.is_empty() {
        match save(state.store.as_ref(), &state.renderer, &key, &name, &content).await {
            Ok((version, changed)) => {
                tracing::info!(template = %key, version, key_id = %session.key_id, "template saved from the console");
                let msg = if changed {
                    format!("Saved as version {version}.")
                } else {
                    format!("No changes; version {version} stays current.")
                };
                return super::back_to(&format!("/console/templates/{}", enc(&key)), &msg);
            }
            Err(Error::Invalid(errs)) => {
                for mut e in errs {
                    if e.field == "channels" {
                        // The form's channel fields are the default locale's.
                        e.message.push_str(" (default locale)");
                    }
                    errors.insert(e.field, e.message);
                }
            }
            Err(e) => return page::failed(e),
        }
    }
    let draft = Draft {
        name,
        content,
        errors,
    };
    editor(&state, session, &key, current.as_ref(), None, &draft, None)
}

async fn versions(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let r = async {
        can_read(&session)?;
        let current = stored(&state, &key, None)
            .await?
            .ok_or_else(|| page::not_found(&session, &format!("There is no template `{key}`.")))?;
        let versions = state.store.versions(Kind::Template, &key).await.map_err(page::db)?;
        let base = format!("/console/templates/{}", enc(&key));
        Ok(super::versions_page(
            &session,
            (Nav::Templates, "Templates"),
            "/console/templates",
            &key,
            q.notice.as_deref(),
            (&versions, current.version),
            |v| html! {
                a href={(base) "?version=" (v.version)} { "open" }
                @if v.version > 1 {
                    " · " a href={(base) "/diff?from=" (v.version - 1) "&to=" (v.version)} { "diff with " (v.version - 1) }
                }
                @if v.version != current.version {
                    " · " a href={(base) "/diff?from=" (v.version) "&to=" (current.version)} { "diff with current" }
                    @if session.may(Permission::WriteTemplates) {
                        form.inline method="post" action={(base) "/versions/" (v.version) "/activate"}
                            data-confirm={"Make version " (v.version) " current again?"} {
                            (csrf_field(&session))
                            button.rollback type="submit" { "Roll back to " (v.version) }
                        }
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

#[derive(Deserialize)]
struct DiffQuery {
    from: i64,
    to: i64,
}

/// A version's content as the diff compares it: pretty JSON, one part per
/// line block, so a change shows where it is.
fn diff_text(t: &Versioned) -> String {
    let content: serde_json::Value = serde_json::from_str(&t.content).unwrap_or_default();
    let mut out = format!("name: {}\n", t.name);
    let mut walk = vec![(String::new(), content)];
    while let Some((path, v)) = walk.pop() {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map.into_iter().rev() {
                    let p = if path.is_empty() {
                        k
                    } else {
                        format!("{path}.{k}")
                    };
                    walk.push((p, v));
                }
            }
            serde_json::Value::String(s) => {
                out.push_str(&format!("{path}:\n"));
                for line in s.lines() {
                    out.push_str(&format!("    {line}\n"));
                }
            }
            other => out.push_str(&format!("{path}: {other}\n")),
        }
    }
    out
}

pub fn diff_lines(old: &str, new: &str) -> Vec<(char, String)> {
    similar::TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|c| {
            let tag = match c.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            (tag, c.value().trim_end_matches('\n').to_string())
        })
        .collect()
}

async fn diff(
    State(state): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Response {
    let r = async {
        can_read(&session)?;
        let a = version(&state, &session, &key, q.from).await?;
        let b = version(&state, &session, &key, q.to).await?;
        let lines = diff_lines(&diff_text(&a), &diff_text(&b));
        Ok(render(layout(
            &format!("{key}: version {} → {}", q.from, q.to),
            Some(&session),
            Nav::Templates,
            html! {
                p.crumbs { a href="/console/templates" { "Templates" } " / " a href={"/console/templates/" (enc(&key))} { (key) } " / " a href={"/console/templates/" (enc(&key)) "/versions"} { "versions" } }
                h1 { "Version " (q.from) " → " (q.to) }
                @if lines.iter().all(|(t, _)| *t == ' ') { p.sub { "No differences." } }
                pre.diff {
                    @for (tag, line) in &lines {
                        span class=(match tag { '-' => "del", '+' => "ins", _ => "eq" }) { (tag) " " (line) "\n" }
                    }
                }
            },
        )))
    }
    .await;
    match r {
        Ok(r) | Err(r) => r,
    }
}

async fn rollback(
    State(state): State<AppState>,
    Path((key, n)): Path<(String, i64)>,
    a: Action<Vec<(String, String)>>,
) -> Response {
    let history = format!("/console/templates/{}/versions", enc(&key));
    super::activate_version(&state, &a.session, Kind::Template, &key, n, &history).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_content_without_empty_parts() {
        let f = |k: &str, v: &str| (k.to_string(), v.to_string());
        let (name, c, errors) = content_from_form(&[
            f("csrf", "x"),
            f("name", " Order shipped "),
            f("part||email|subject", "Hi {{name}}"),
            f("part||email|html", ""),
            f("part|de|email|subject", "Hallo\r\n{{name}}"),
            f("frequency_cap", "5/1d"),
            f("content_dedup", "true"),
            f("layout", " brand "),
        ]);
        assert!(errors.is_empty());
        assert_eq!(c.layout.as_deref(), Some("brand"));
        assert_eq!(name, "Order shipped");
        assert_eq!(c.channels["email"].len(), 1);
        assert_eq!(c.locales["de"]["email"]["subject"], "Hallo\n{{name}}");
        assert_eq!(c.settings.frequency_cap.as_deref(), Some("5/1d"));
        assert!(c.settings.content_dedup);
        assert_eq!(
            error_field("de", "email", "subject"),
            "locales.de.email.subject"
        );
    }

    #[test]
    fn diffs_mark_removed_and_added_lines() {
        let d = diff_lines("a\nb\n", "a\nc\n");
        assert_eq!(
            d,
            vec![(' ', "a".into()), ('-', "b".into()), ('+', "c".into())]
        );
    }
}
