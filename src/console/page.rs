//! The console's page frame and the small pieces every page uses.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::session::Session;
use crate::service::auth::Permission;

/// Which entry of the navigation is lit.
#[derive(Clone, Copy, PartialEq)]
pub enum Nav {
    Overview,
    Deliveries,
    Stats,
    Templates,
    Workflows,
    Schedules,
    Recipients,
    Suppressions,
    Endpoints,
    Keys,
    None,
}

/// The console's sections and what each needs: the permission of the API
/// routes that show the same data. Every page of a section asks for these
/// (its actions ask for what the API's matching route does).
pub const NAV: &[(Nav, &str, &str, &[Permission])] = &[
    (Nav::Overview, "/console", "Overview", OVERVIEW),
    (
        Nav::Deliveries,
        "/console/deliveries",
        "Deliveries",
        DELIVERIES,
    ),
    (Nav::Stats, "/console/stats", "Stats", STATS),
    (Nav::Templates, "/console/templates", "Templates", TEMPLATES),
    (Nav::Workflows, "/console/workflows", "Workflows", WORKFLOWS),
    (Nav::Schedules, "/console/schedules", "Schedules", SCHEDULES),
    (
        Nav::Recipients,
        "/console/recipients",
        "Recipients",
        RECIPIENTS,
    ),
    (
        Nav::Suppressions,
        "/console/suppressions",
        "Suppressions",
        SUPPRESSIONS,
    ),
    (Nav::Endpoints, "/console/endpoints", "Endpoints", ENDPOINTS),
    (Nav::Keys, "/console/keys", "API keys", KEYS),
];

/// Delivery counts, the queue and providers' state: `/v1/deliveries`,
/// `/v1/providers`.
pub const OVERVIEW: &[Permission] = &[Permission::ReadDeliveries];
/// Deliveries with their content and addresses: `/v1/deliveries`.
pub const DELIVERIES: &[Permission] = &[Permission::ReadDeliveries];
/// Delivery statistics: `GET /v1/stats`.
pub const STATS: &[Permission] = &[Permission::ReadDeliveries];
/// `GET /v1/templates`.
pub const TEMPLATES: &[Permission] = &[Permission::ReadTemplates];
/// `GET /v1/workflows`: workflows are read (and written) with templates.
pub const WORKFLOWS: &[Permission] = &[Permission::ReadTemplates];
/// `GET /v1/schedules`: recurring schedules (scope `read` or `send`).
pub const SCHEDULES: &[Permission] = &[Permission::ReadSchedules];
/// A profile (`GET /v1/recipients/{id}`) and its recent deliveries
/// (`/v1/deliveries?recipient=`).
pub const RECIPIENTS: &[Permission] = &[Permission::ReadRecipients, Permission::ReadDeliveries];
/// The suppression list: `GET /v1/suppressions` (removing an address
/// asks for what `DELETE /v1/suppressions/...` does: `admin`).
pub const SUPPRESSIONS: &[Permission] = &[Permission::ReadSuppressions];
/// Adding and removing suppressions.
pub const MANAGE_SUPPRESSIONS: &[Permission] = &[Permission::ManageSuppressions];
/// Endpoints and their attempt logs: `GET /v1/endpoints`.
pub const ENDPOINTS: &[Permission] = &[Permission::ReadEndpoints];
/// API keys: admin only (there is no API for them; the CLI makes them).
pub const KEYS: &[Permission] = &[Permission::ManageKeys];

/// A whole page: head, navigation (when signed in), the content.
pub fn layout(title: &str, session: Option<&Session>, nav: Nav, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(s) = session { meta name="csrf-token" content=(s.csrf); }
                title { (title) " · missive" }
                link rel="stylesheet" href=(concat!("/console/assets/console.css?v=", env!("CARGO_PKG_VERSION")));
                script src=(concat!("/console/assets/console.js?v=", env!("CARGO_PKG_VERSION"))) defer {}
            }
            body {
                header.top {
                    a.brand href="/console" { "missive" }
                    @if let Some(s) = session {
                        nav {
                            @for (item, href, label, perms) in NAV {
                                @if perms.iter().all(|p| s.may(*p)) {
                                    a href=(href) class=[(*item == nav).then_some("on")] { (label) }
                                }
                            }
                        }
                        form.signout method="post" action="/console/logout" {
                            (csrf_field(s))
                            span.who title="the API key this session was opened with" { (s.key_name) }
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}

pub fn csrf_field(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

pub fn render(markup: Markup) -> Response {
    Html(markup.into_string()).into_response()
}

pub fn error_page(
    session: Option<&Session>,
    status: StatusCode,
    title: &str,
    detail: &str,
) -> Response {
    let body = layout(
        title,
        session,
        Nav::None,
        html! {
            h1 { (title) }
            p.problem { (detail) }
            p { a href="/console" { "Back to the console" } }
        },
    );
    (status, Html(body.into_string())).into_response()
}

pub fn forbidden(session: &Session, detail: &str) -> Response {
    error_page(
        Some(session),
        StatusCode::FORBIDDEN,
        "Not allowed with this key",
        detail,
    )
}

pub fn not_found(session: &Session, detail: &str) -> Response {
    error_page(Some(session), StatusCode::NOT_FOUND, "Not found", detail)
}

pub fn server_error(detail: &str) -> Response {
    tracing::warn!(error = detail, "console page failed");
    error_page(
        None,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The database did not answer as expected; the log has the details. Try again.",
    )
}

/// A page handler's result: a page, or an error page.
pub type PageResult = Result<Response, Response>;

/// Turns a store error into the error page.
pub fn db<E: std::fmt::Display>(e: E) -> Response {
    server_error(&e.to_string())
}

/// A service's refusal as a page: the database being unavailable says so
/// (503, try later); anything else is the error page.
pub fn failed(e: crate::service::Error) -> Response {
    match e {
        crate::service::Error::Unavailable(_) => error_page(
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            "The database is unavailable",
            "The database can't take this now (not answering, or its disk is full). Try again in a moment.",
        ),
        other => db(other),
    }
}

/// Unix ms as `2026-11-23 16:05:09 UTC`.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// A time with its distance from now, for people scanning a list.
pub fn when(ms: i64, now: i64) -> Markup {
    html! { time datetime=(crate::util::rfc3339(ms)) title=(time(ms)) { (ago(ms, now)) } }
}

pub fn ago(ms: i64, now: i64) -> String {
    let d = (now - ms) / 1000;
    let (n, unit, future) = match d {
        d if d.abs() < 60 => (d.abs(), "s", d < 0),
        d if d.abs() < 3600 => (d.abs() / 60, "min", d < 0),
        d if d.abs() < 86_400 => (d.abs() / 3600, "h", d < 0),
        d => (d.abs() / 86_400, "d", d < 0),
    };
    if future {
        format!("in {n} {unit}")
    } else {
        format!("{n} {unit} ago")
    }
}

pub fn status_badge(status: &str) -> Markup {
    html! { span class={"badge s-" (status)} { (status) } }
}

/// Pretty-prints JSON text; returns it unchanged if it is not JSON.
pub fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

/// A notice at the top of a page (after an action redirects back).
pub fn flash(msg: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = msg.filter(|m| !m.is_empty()) {
            p.flash role="status" { (m) }
        }
    }
}

pub const CSS: &str = include_str!("assets/console.css");
pub const JS: &str = include_str!("assets/console.js");

pub fn inline_json(value: &serde_json::Value) -> PreEscaped<String> {
    // Safe inside <script type="application/json">: `<` can't close it.
    PreEscaped(value.to_string().replace('<', "\\u003c"))
}

/// `s` with its first letter in capitals.
pub fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now = 10_000_000;
        assert_eq!(ago(now - 5_000, now), "5 s ago");
        assert_eq!(ago(now - 120_000, now), "2 min ago");
        assert_eq!(ago(now + 7_200_000, now), "in 2 h");
    }

    #[test]
    fn inline_json_cannot_close_its_script() {
        let v = serde_json::json!({"a": "</script><script>alert(1)</script>"});
        assert!(!inline_json(&v).0.contains("</script>"));
    }
}
