//! Overview: deliveries by status and channel over the last hour and day,
//! deliveries per minute, the queue, and the providers' circuit states.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Router;
use maud::{html, Markup};

use super::page::{self, layout, render, Nav, PageResult};
use super::session::Session;
use crate::domain::Status;
use crate::service::AppState;
use crate::store::{MinuteCount, StatusCount};
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
}

pub async fn page(State(state): State<AppState>, session: Session) -> Response {
    match build(&state, &session).await {
        Ok(r) | Err(r) => r,
    }
}

async fn build(state: &AppState, session: &Session) -> PageResult {
    if !page::OVERVIEW.iter().all(|p| session.may(*p)) {
        // A key that can't read deliveries starts where it can look.
        return match super::first_page(|p| session.may(p)) {
            Some(to) => Err(axum::response::Redirect::to(to).into_response()),
            None => Err(session.require(page::OVERVIEW).unwrap_err()),
        };
    }
    let now = now_ms();
    let store = &state.store;
    let max_age = state.config.console.day_counts_max_age.as_millis() as i64;
    // The last hour by status and channel is the per-minute counts summed:
    // one read of the hour, not two.
    let ((day_at, day), minutes, queue) = tokio::try_join!(
        state.day_counts.get(store, max_age, now),
        store.deliveries_per_minute(now - 3_600_000),
        store.queue_depth(now),
    )
    .map_err(page::db)?;
    let hour = by_status_and_channel(&minutes);
    let mut providers: Vec<_> = state.channels.all().flat_map(|c| c.providers()).collect();
    providers.sort_by(|a, b| a.channel.cmp(&b.channel));
    let waiting: i64 = queue.iter().map(|q| q.n).sum();
    let oldest = queue.iter().filter_map(|q| q.oldest_due).min();

    Ok(render(layout(
        "Overview",
        Some(session),
        Nav::Overview,
        html! {
            div data-refresh="10" id="live" {
                h1 { "Overview" }
                section.cards {
                    div.card {
                        h2 { "Waiting" }
                        p.big { (waiting) }
                        p.sub {
                            @for q in &queue { (q.status) " " (q.n) " · " }
                            "deliveries not yet sent"
                        }
                    }
                    div.card {
                        h2 { "Oldest due" }
                        p.big { @match oldest { Some(t) => (page::ago(t, now).replace(" ago", "")), None => "—" } }
                        p.sub { "how long the oldest delivery that may go now has waited" }
                    }
                    div.card {
                        h2 { "Last hour" }
                        p.big { (total(&hour)) }
                        p.sub { (sent_of(&hour)) " sent · " (count_of(&hour, Status::Failed)) " failed" }
                    }
                    div.card {
                        h2 { "Last 24 hours" }
                        p.big { (total(&day)) }
                        p.sub { (sent_of(&day)) " sent · " (count_of(&day, Status::Failed)) " failed" }
                        @if now - day_at >= 1000 {
                            p.sub.counted-at { "counted " (page::ago(day_at, now)) }
                        }
                    }
                }
                section {
                    h2 { "Deliveries per minute, last hour" }
                    (chart(&minutes, now))
                }
                section.split {
                    div { h2 { "Last hour" } (table(&hour)) }
                    div { h2 { "Last 24 hours" } (table(&day)) }
                }
                section {
                    h2 { "Providers" }
                    @if providers.is_empty() {
                        p.sub { "No channel here sends through named providers." }
                    } @else {
                        table.grid {
                            thead { tr { th { "Channel" } th { "Provider" } th { "Circuit" } th { "Failures in a row" } } }
                            tbody {
                                @for p in &providers {
                                    tr {
                                        td { (p.channel) }
                                        td { (p.provider) }
                                        td { span class={"badge c-" (p.state.replace(' ', "-"))} { (p.state) } }
                                        td { (p.consecutive_failures) }
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

fn by_status_and_channel(minutes: &[MinuteCount]) -> Vec<StatusCount> {
    let mut sums: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for m in minutes {
        *sums
            .entry((m.status.as_str(), m.channel.as_str()))
            .or_default() += m.n;
    }
    sums.into_iter()
        .map(|((status, channel), n)| StatusCount {
            status: status.into(),
            channel: channel.into(),
            n,
        })
        .collect()
}

fn total(counts: &[StatusCount]) -> i64 {
    counts.iter().map(|c| c.n).sum()
}

fn count_of(counts: &[StatusCount], status: Status) -> i64 {
    counts
        .iter()
        .filter(|c| c.status == status.as_str())
        .map(|c| c.n)
        .sum()
}

/// Deliveries a provider took: `sent`, and what receipts moved it on to.
fn sent_of(counts: &[StatusCount]) -> i64 {
    counts
        .iter()
        .filter(|c| Status::parse(&c.status).is_ok_and(Status::was_sent))
        .map(|c| c.n)
        .sum()
}

/// Statuses as rows, channels as columns, each cell a link to the log.
fn table(counts: &[StatusCount]) -> Markup {
    let mut channels: Vec<&str> = counts.iter().map(|c| c.channel.as_str()).collect();
    channels.sort_unstable();
    channels.dedup();
    let cell = |status: &str, channel: &str| {
        counts
            .iter()
            .find(|c| c.status == status && c.channel == channel)
            .map(|c| c.n)
            .unwrap_or(0)
    };
    html! {
        @if counts.is_empty() {
            p.sub { "No deliveries." }
        } @else {
            table.grid.counts {
                thead { tr { th { "Status" } @for c in &channels { th { (c) } } } }
                tbody {
                    @for s in Status::ALL.iter().map(|s| s.as_str()) {
                        @let row: Vec<i64> = channels.iter().map(|c| cell(s, c)).collect();
                        @if row.iter().any(|n| *n > 0) {
                            tr {
                                td { (page::status_badge(s)) }
                                @for (c, n) in channels.iter().zip(&row) {
                                    td.num {
                                        @if *n > 0 {
                                            a href={"/console/deliveries?status=" (s) "&channel=" (c)} { (n) }
                                        } @else { "·" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A stacked bar per minute (sent, failed, the rest) as inline SVG.
fn chart(minutes: &[MinuteCount], now: i64) -> Markup {
    let last = now / 60_000;
    let first = last - 59;
    let mut per: BTreeMap<i64, [i64; 3]> = (first..=last).map(|m| (m, [0; 3])).collect();
    for m in minutes {
        if let Some(slot) = per.get_mut(&m.minute) {
            let i = match Status::parse(&m.status) {
                // Receipts move a sent delivery on; it was sent all the same.
                Ok(s) if s.was_sent() => 0,
                Ok(Status::Failed) => 1,
                _ => 2,
            };
            slot[i] += m.n;
        }
    }
    let peak = per
        .values()
        .map(|v| v.iter().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, bar) = (600.0, 120.0, 10.0);
    let mut rects = Vec::new();
    for (i, (minute, v)) in per.iter().enumerate() {
        let mut y = h;
        for (k, class) in ["sent", "failed", "other"].iter().enumerate() {
            let bh = v[k] as f64 / peak as f64 * h;
            if bh > 0.0 {
                y -= bh;
                let label = format!("{}: {} {class}", page::time(minute * 60_000), v[k]);
                rects.push((i as f64 * bar + 1.0, y, bh, *class, label));
            }
        }
    }
    html! {
        figure.chart {
            svg viewBox={"0 0 " (w) " " (h + 14.0)} role="img"
                aria-label="deliveries created per minute over the last hour" {
                @for (x, y, bh, class, label) in &rects {
                    rect class={"b-" (class)} x=(x) y=(y) width=(bar - 2.0) height=(bh) { title { (label) } }
                }
                text x="0" y=(h + 12.0) { "60 min ago" }
                text x=(w) y=(h + 12.0) text-anchor="end" { "now" }
            }
            figcaption {
                span.key.b-sent {} "sent " span.key.b-failed {} "failed " span.key.b-other {} "waiting or other"
                " · peak " (peak) "/min"
            }
        }
    }
}
