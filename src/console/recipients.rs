//! Recipients: look one up by id and see their profile, preferences, quiet
//! hours, push devices and recent deliveries. (Deliveries to inline addresses are listed
//! under the address.)

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::html;
use serde::Deserialize;

use super::page::{self, layout, render, Nav, PageResult};
use super::session::Session;
use crate::service::AppState;
use crate::store::DeliveryFilter;
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new().route("/console/recipients", get(lookup))
}

#[derive(Deserialize, Default)]
struct Lookup {
    #[serde(default)]
    id: Option<String>,
}

const RECENT: i64 = 25;

async fn lookup(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<Lookup>,
) -> Response {
    match lookup_page(&state, &session, q).await {
        Ok(r) | Err(r) => r,
    }
}

async fn lookup_page(state: &AppState, session: &Session, q: Lookup) -> PageResult {
    session.require(page::RECIPIENTS)?;
    let id = q.id.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let (profile, recent) = match id {
        Some(id) => {
            let filter = DeliveryFilter {
                recipient: Some(id.to_string()),
                ..DeliveryFilter::default()
            };
            let ids = [id.to_string()];
            let (profiles, recent) = tokio::try_join!(
                state.store.get_recipients(&ids),
                state.store.list_deliveries(&filter, None, RECENT),
            )
            .map_err(page::db)?;
            (profiles.into_iter().next(), recent)
        }
        None => (None, Vec::new()),
    };
    let devices = match &profile {
        Some(r) => state.store.list_devices(&r.id).await.map_err(page::db)?,
        None => Vec::new(),
    };
    let now = now_ms();
    Ok(render(layout(
        "Recipients",
        Some(session),
        Nav::Recipients,
        html! {
            h1 { "Recipients" }
            form.inline method="get" action="/console/recipients" {
                label { "Recipient id or address" input name="id" value=(id.unwrap_or("")) required autofocus; }
                button type="submit" { "Look up" }
            }
            @if let Some(id) = id {
                @match &profile {
                    Some(r) => {
                        h2 { "Profile of " code { (r.id) } }
                        dl.facts {
                            dt { "Email" } dd { (r.email.as_deref().unwrap_or("—")) }
                            dt { "Phone" } dd { (r.phone.as_deref().unwrap_or("—")) }
                            dt { "Webhook URL" } dd { (r.webhook_url.as_deref().unwrap_or("—")) }
                            dt { "Chat" } dd { (r.chat.as_deref().map(crate::domain::chat::redact).unwrap_or_else(|| "—".into())) }
                            dt { "Locale" } dd { (r.locale.as_deref().unwrap_or("default")) }
                            dt { "Timezone" } dd { (r.timezone.as_deref().unwrap_or("UTC")) }
                            dt { "Quiet hours" } dd { (r.quiet_hours.as_deref().map(quiet).unwrap_or_else(|| "the configured default".into())) }
                            dt { "Created" } dd { (page::time(r.created_at)) }
                            dt { "Updated" } dd { (page::time(r.updated_at)) }
                        }
                        h3 { "Preferences" }
                        (preferences(&r.preferences))
                        h3 { "Push devices" }
                        (device_table(&devices))
                    }
                    None => p.sub { "No stored profile for " code { (id) } ". Deliveries to it as an inline address are below." }
                }
                h2 { "Recent deliveries" }
                @if recent.is_empty() {
                    p.sub { "None." }
                } @else {
                    table.grid.log {
                        thead { tr { th { "Created" } th { "Status" } th { "Channel" } th { "Template" } th { "Reason / error" } } }
                        tbody {
                            @for d in &recent {
                                tr {
                                    td { a href={"/console/deliveries/" (d.id)} { (page::when(d.created_at, now)) } }
                                    td { (page::status_badge(&d.status)) }
                                    td { (d.channel) }
                                    td { (d.template_key.as_deref().unwrap_or("inline")) }
                                    td.why { (super::deliveries::why(d)) }
                                }
                            }
                        }
                    }
                    p { a href={"/console/deliveries?recipient=" (super::session::urlencode(id))} { "All deliveries to this recipient →" } }
                }
            }
        },
    )))
}

fn quiet(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    match (
        v.get("start").and_then(|s| s.as_str()),
        v.get("end").and_then(|s| s.as_str()),
    ) {
        (Some(s), Some(e)) => format!("{s} to {e}, recipient's time"),
        _ => "none".into(),
    }
}

/// Opt-ins and opt-outs by channel and category.
fn preferences(json: &str) -> maud::Markup {
    let p = crate::flow::preferences::Preferences::from_json(json);
    let rows: Vec<(&str, &String, bool)> = p
        .channels
        .iter()
        .map(|(k, on)| ("channel", k, *on))
        .chain(p.categories.iter().map(|(k, on)| ("category", k, *on)))
        .collect();
    html! {
        @if rows.is_empty() {
            p.sub { "No opt-outs: every channel and category is on." }
        } @else {
            table.grid {
                thead { tr { th { "By" } th { "Name" } th { "Receives" } } }
                tbody {
                    @for (kind, name, on) in &rows {
                        tr { td { (kind) } td { (name) } td { @if *on { "yes" } @else { strong { "opted out" } } } }
                    }
                }
            }
        }
    }
}

/// Where a device is reached, shortened: a Web Push endpoint's host (the
/// rest of it is a capability), the start of an FCM or APNs token.
fn reached_at(d: &crate::store::DeviceRow) -> String {
    if let Some(e) = &d.endpoint {
        return url::Url::parse(e)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
    }
    let t = d.token.as_deref().unwrap_or_default();
    match t.char_indices().nth(12) {
        Some((at, _)) => format!("{}…", &t[..at]),
        None => t.to_string(),
    }
}

/// A recipient's devices: kind, platform, app, where it is reached.
fn device_table(devices: &[crate::store::DeviceRow]) -> maud::Markup {
    html! {
        @if devices.is_empty() {
            p.sub { "None: push deliveries to this recipient reach no device." }
        } @else {
            table.grid.devices {
                thead { tr { th { "Device" } th { "Kind" } th { "Platform" } th { "App" } th { "Reached at" } th { "Updated" } } }
                tbody {
                    @for d in devices {
                        tr {
                            td { code { (d.id) } }
                            td { (d.kind) }
                            td { (d.platform.as_deref().unwrap_or("—")) }
                            td { (d.app.as_deref().unwrap_or("—")) }
                            td { code { (reached_at(d)) } }
                            td { (page::time(d.updated_at)) }
                        }
                    }
                }
            }
        }
    }
}
