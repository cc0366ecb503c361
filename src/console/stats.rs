//! Stats: templates and providers ranked by volume and by failure rate
//! over the last hour, day or week, each template with a sparkline of its
//! volume (inline SVG, no script). Read from the per-minute delivery
//! statistics, as `GET /v1/stats` is.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::page::{self, layout, render, Nav, PageResult};
use super::session::Session;
use crate::service::delivery_stats::{GroupStats, StatsQuery, StatsReport};
use crate::service::AppState;
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new().route("/console/stats", get(show))
}

/// Rows each ranking shows.
const TOP: usize = 20;

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    window: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<PageQuery>,
) -> Response {
    match build(&state, &session, &q).await {
        Ok(r) | Err(r) => r,
    }
}

async fn build(state: &AppState, session: &Session, q: &PageQuery) -> PageResult {
    session.require(page::STATS)?;
    let window = q
        .window
        .as_deref()
        .filter(|w| ["1h", "24h", "7d"].contains(w))
        .unwrap_or("24h");
    let now = now_ms();
    let query = |g: &str| StatsQuery {
        group_by: Some(g.into()),
        window: Some(window.into()),
        since: None,
    };
    let tw = query("template").window(now).map_err(page::failed)?;
    let pw = query("provider").window(now).map_err(page::failed)?;
    let (templates, providers) =
        tokio::try_join!(state.delivery_stats(&tw), state.delivery_stats(&pw))
            .map_err(page::failed)?;
    Ok(render(layout(
        "Stats",
        Some(session),
        Nav::Stats,
        html! {
            h1 { "Stats" }
            nav.windows {
                @for (w, label) in [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")] {
                    a href={"/console/stats?window=" (w)} class=[(w == window).then_some("on")] { (label) }
                    " "
                }
            }
            p.sub { "From " (page::time(tw.since)) "; each point of a sparkline is " (tw.slot_ms / 60_000) " min." }
            section.split {
                div id="templates-by-volume" { h2 { "Templates by volume" } (ranking(by_volume(&templates), true)) }
                div id="templates-by-failure" { h2 { "Templates by failure rate" } (ranking(by_failure(&templates), true)) }
            }
            section.split {
                div id="providers-by-volume" { h2 { "Providers by volume" } (ranking(by_volume(&providers), false)) }
                div id="providers-by-failure" { h2 { "Providers by failure rate" } (ranking(by_failure(&providers), false)) }
            }
        },
    )))
}

fn by_volume(r: &StatsReport) -> Vec<&GroupStats> {
    r.groups.iter().take(TOP).collect()
}

/// Groups that sent or failed anything, the highest failure rate first
/// (then the most failures).
fn by_failure(r: &StatsReport) -> Vec<&GroupStats> {
    let mut v: Vec<&GroupStats> = r
        .groups
        .iter()
        .filter(|g| count(g, "sent") + count(g, "failed") > 0)
        .collect();
    v.sort_by(|a, b| {
        b.failure_rate
            .total_cmp(&a.failure_rate)
            .then_with(|| count(b, "failed").cmp(&count(a, "failed")))
            .then_with(|| a.key.cmp(&b.key))
    });
    v.truncate(TOP);
    v
}

fn count(g: &GroupStats, status: &str) -> i64 {
    g.counts.get(status).copied().unwrap_or(0)
}

fn ranking(rows: Vec<&GroupStats>, spark: bool) -> Markup {
    html! {
        @if rows.is_empty() {
            p.sub { "Nothing in this window." }
        } @else {
            table.grid {
                thead { tr {
                    th { "#" } th { "Name" } th { "Total" } th { "Sent" } th { "Failed" }
                    th { "Suppressed" } th { "Failure rate" } th { "p50 / p95" }
                    @if spark { th { "Volume" } }
                } }
                tbody {
                    @for (i, g) in rows.iter().enumerate() {
                        tr data-key=(g.key) {
                            td { (i + 1) }
                            td.key { (g.key) }
                            td.total { (g.total) }
                            td.sent { (count(g, "sent")) }
                            td.failed { (count(g, "failed")) }
                            td.suppressed { (count(g, "suppressed")) }
                            td.rate { (format!("{:.1} %", g.failure_rate * 100.0)) }
                            td { (ms(g.latency.p50_ms)) " / " (ms(g.latency.p95_ms)) }
                            @if spark { td { (sparkline(&g.series)) } }
                        }
                    }
                }
            }
        }
    }
}

fn ms(v: Option<i64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 1000 => format!("≤ {:.1} s", v as f64 / 1000.0),
        Some(v) => format!("≤ {v} ms"),
    }
}

/// A polyline of `series`, scaled to its largest point.
pub fn sparkline(series: &[i64]) -> Markup {
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    let max = series.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if series.len() > 1 {
        W / (series.len() - 1) as f64
    } else {
        0.0
    };
    let points: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                H - 1.0 - (*v as f64 / max) * (H - 2.0)
            )
        })
        .collect();
    html! {
        (PreEscaped(format!(
            "<svg class=\"spark\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
             aria-label=\"volume over the window\"><polyline fill=\"none\" stroke=\"currentColor\" \
             stroke-width=\"1.5\" points=\"{}\"/></svg>",
            points.join(" ")
        )))
    }
}
