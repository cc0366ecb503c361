//! The operator and admin web console at `/console`: server-rendered pages
//! (with a little embedded script for the template preview and the
//! overview's live refresh), served by the same binary and working offline.
//! Pages read the store directly; the template preview calls the REST API
//! with the session cookie and its CSRF token, and a workflow's dry run is a
//! form the server answers with the page.
//!
//! Every page asks for the [`Permission`] of the API route that shows the
//! same data (see [`page::NAV`]), so a key sees no more here than over the
//! API. Every response carries the headers in [`security_headers`].

mod deliveries;
mod endpoints;
mod keys;
mod notifications;
pub mod overview;
pub mod page;
mod preferences;
mod recipients;
mod schedules;
pub mod session;
mod stats;
mod suppressions;
mod templates;
mod workflows;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use serde::Deserialize;

use crate::service::auth::{self, Permission};
use crate::service::AppState;
use crate::service::Error;
use page::{layout, render, Nav};
use session::Action;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(overview::page))
        .route(
            "/console/",
            get(|| async { Redirect::permanent("/console") }),
        )
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .merge(overview::router())
        .merge(deliveries::router())
        .merge(stats::router())
        .merge(notifications::router())
        .merge(templates::router())
        .merge(workflows::router())
        .merge(schedules::router())
        .merge(recipients::router())
        .merge(suppressions::router())
        .merge(endpoints::router())
        .merge(keys::router())
        .merge(preferences::router())
}

/// The console's Content-Security-Policy. Scripts and stylesheets come
/// from the console's own files only (no inline script anywhere); inline
/// styles and remote images are allowed for the email previews, which are
/// `srcdoc` frames that inherit this policy (and are sandboxed: no script
/// runs in them).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: https: http:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'";

/// Sent with every response under `/console` (its 404s too): the page
/// can't be framed (no clickjacking), sniffed into another type, or leak
/// its URL to other sites (`same-origin`, not `no-referrer`: with that,
/// browsers send `Origin: null` on the console's own forms, which the
/// CSRF check refuses); and no page (a new key, deliveries' content) is kept in
/// a cache. The stylesheet and script say their own caching.
pub fn security_headers(h: &mut axum::http::HeaderMap) {
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
}

/// Whether `path` is the console's (its pages, and the preference and
/// unsubscribe pages recipients open), whose answers carry
/// [`security_headers`].
pub fn serves(path: &str) -> bool {
    path.starts_with("/console") || path.starts_with("/p/") || path.starts_with("/u/")
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        page::CSS,
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        page::JS,
    )
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

/// Only a path inside the console is a place to go back to after sign-in.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/console") && !n.contains("//") && !n.contains('\\') => n,
        _ => "/console",
    }
}

/// The first page `caller` may see (where `/console` sends a key that
/// can't read the overview), or none: such a key can't sign in.
pub fn first_page(may: impl Fn(Permission) -> bool) -> Option<&'static str> {
    page::NAV
        .iter()
        .find(|(_, _, _, perms)| perms.iter().all(|p| may(*p)))
        .map(|(_, href, _, _)| *href)
}

/// Whether a key may open a session: one with a page to see besides
/// Schedules. A `send` key (a service's) reads schedules over the API, and
/// opens no console.
fn opens_console(may: impl Fn(Permission) -> bool) -> bool {
    first_page(|p| p != Permission::ReadSchedules && may(p)).is_some()
}

fn login_page(next: &str, error: Option<&str>) -> maud::Markup {
    layout(
        "Sign in",
        None,
        Nav::None,
        html! {
            section.signin {
                h1 { "Sign in" }
                p { "Use an API key with the " code { "admin" } " scope, or " code { "read" }
                    " to look without changing anything, or " code { "templates" }
                    " to edit templates. A key sees here what it may see over the API. The first admin key is in "
                    code { "data/admin.key" } "." }
                @if let Some(e) = error { p.problem role="alert" { (e) } }
                form method="post" action="/console/login" {
                    input type="hidden" name="next" value=(next);
                    label { "API key"
                        input type="password" name="key" autocomplete="off" required autofocus
                            placeholder="msv_…";
                    }
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    if session::signed_in(&state, &headers).await {
        return Redirect::to(safe_next(q.next.as_deref())).into_response();
    }
    render(login_page(safe_next(q.next.as_deref()), None))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let refuse = |msg: &str| {
        (
            StatusCode::UNAUTHORIZED,
            axum::response::Html(login_page(next, Some(msg)).into_string()),
        )
            .into_response()
    };
    if !session::same_origin(&headers) {
        return refuse("Sign in from this server's own page.");
    }
    let key = f.key.trim();
    if key.is_empty() {
        return refuse("Enter an API key.");
    }
    // The same check as every API request: cache, revocation, rate limit.
    let caller = match auth::authenticate(&state, key).await {
        Ok(v) => v,
        Err(Error::Unauthorized(_)) => {
            return refuse("This API key is not valid or has been revoked.")
        }
        Err(Error::TooManyRequests(_)) => {
            return refuse("Too many attempts with this key; wait a moment and try again.")
        }
        Err(e) => return page::failed(e),
    };
    if !opens_console(|p| caller.may(p)) {
        return refuse("This key can see no console page. The console needs a key with the admin, read or templates scope.");
    }
    match session::open(&state, &caller.key_id).await {
        Ok(cookie) => {
            tracing::info!(key_id = %caller.key_id, "console sign-in");
            ([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response()
        }
        Err(e) => page::db(e),
    }
}

/// A form that carries nothing but its CSRF token.
#[derive(Deserialize)]
pub struct NoFields {}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    a: Action<NoFields>,
) -> Response {
    let _ = a.form;
    match session::close(&state, &headers).await {
        Ok(cookie) => (
            [(header::SET_COOKIE, cookie)],
            Redirect::to("/console/login"),
        )
            .into_response(),
        Err(e) => page::db(e),
    }
}

/// A version-history page's "activate" form: makes version `n` of a
/// template or workflow current and goes back to `history` (writing
/// templates is what allows it, for both).
pub async fn activate_version(
    state: &AppState,
    session: &session::Session,
    kind: crate::store::Kind,
    key: &str,
    n: i64,
    history: &str,
) -> Response {
    if let Err(r) = session.require(&[Permission::WriteTemplates]) {
        return r;
    }
    match state.activate(kind, key, n).await {
        Ok(_) => {
            tracing::info!(kind = kind.noun(), key, version = n, key_id = %session.key_id, "version activated from the console");
            back_to(history, &format!("Version {n} is current."))
        }
        Err(Error::NotFound(m)) => page::not_found(session, &format!("{}.", page::capital(&m))),
        Err(e) => page::failed(e),
    }
}

/// A template's or workflow's version history: the page around the table
/// of its versions (the current one marked), each row ending in `actions`.
pub fn versions_page(
    session: &session::Session,
    (nav, section): (Nav, &str),
    base: &str,
    key: &str,
    notice: Option<&str>,
    (versions, current): (&[crate::store::VersionRow], i64),
    actions: impl Fn(&crate::store::VersionRow) -> maud::Markup,
) -> Response {
    let now = crate::util::now_ms();
    render(layout(
        &format!("Versions of {key}"),
        Some(session),
        nav,
        html! {
            p.crumbs { a href=(base) { (section) } " / " a href={(base) "/" (session::urlencode(key))} { (key) } " / versions" }
            h1 { "Versions of " code { (key) } }
            (page::flash(notice))
            table.grid.versions {
                thead { tr { th { "Version" } th { "Name" } th { "Saved" } th {} } }
                tbody {
                    @for v in versions.iter().rev() {
                        tr data-version=(v.version) class=[(v.version == current).then_some("current")] {
                            td.num { (v.version) @if v.version == current { " " span.badge.s-sent { "current" } } }
                            td { (v.name) }
                            td { (page::when(v.created_at, now)) }
                            td.actions { (actions(v)) }
                        }
                    }
                }
            }
        },
    ))
}

/// Where an action goes back to, with a notice.
pub fn back_to(path: &str, notice: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}notice={}", session::urlencode(notice))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_returns_only_to_console_pages() {
        assert_eq!(
            safe_next(Some("/console/deliveries?status=failed")),
            "/console/deliveries?status=failed"
        );
        assert_eq!(safe_next(Some("https://evil.example")), "/console");
        assert_eq!(safe_next(Some("/console//evil.example")), "/console");
        assert_eq!(safe_next(Some("/v1/keys")), "/console");
        assert_eq!(safe_next(None), "/console");
    }

    #[test]
    fn a_send_key_opens_no_console_though_it_reads_schedules() {
        use crate::service::auth::Permission::*;
        let send = |p: Permission| matches!(p, Send | ReadSchedules | ReadRecipients | ReadInbox);
        assert_eq!(first_page(send), Some("/console/schedules"));
        assert!(!opens_console(send));
        assert!(opens_console(|p| p == ReadTemplates));
    }
}
