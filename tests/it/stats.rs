//! Delivery statistics end to end on both backends: a template sent to real
//! webhook receivers that take some and refuse others, and to recipients
//! who turned the channel off; `GET /v1/stats` counts each outcome exactly,
//! per template, channel and provider, with a series and percentiles. Bad
//! parameters are named; an outcome whose transaction is rolled back counts
//! nothing until it is written; the console page ranks the template. Day
//! and week windows read the hourly roll-up and answer what the minutes
//! add up to.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// The group `key` of a report, if any.
fn group<'a>(report: &'a Value, key: &str) -> Option<&'a Value> {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
}

fn count(g: &Value, status: &str) -> i64 {
    g["counts"][status].as_i64().unwrap_or(0)
}

async fn send(app: &TestApp, to: Value) -> Value {
    let r = app
        .post(
            "/v1/notifications",
            &json!({"template": "receipt", "to": [to], "data": {"n": 1}}),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{body:#}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_are_counted_per_template_channel_and_provider() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let ok = Receiver::start().await;
        let refusing = Receiver::start_with(vec![], Answer::status(400)).await;
        let t =
            json!({"name": "Receipt", "channels": {"webhook": {"body": "{\"n\": {{json n}} }"}}});
        assert_eq!(app.put("/v1/templates/receipt", &t).await.status(), 201);
        let r = app
            .put(
                "/v1/recipients/quiet",
                &json!({"webhook_url": ok.url, "preferences": {"channels": {"webhook": false}}}),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.status());

        let (sent, failed, suppressed) = (5, 3, 2);
        let mut ids = Vec::new();
        for _ in 0..sent {
            ids.push((send(&app, json!({"webhook_url": ok.url})).await, "sent"));
        }
        for _ in 0..failed {
            ids.push((
                send(&app, json!({"webhook_url": refusing.url})).await,
                "failed",
            ));
        }
        let mut reason = String::new();
        for _ in 0..suppressed {
            let a = send(&app, json!({"id": "quiet"})).await;
            assert_eq!(a["deliveries"][0]["status"], "suppressed", "{a:#}");
            reason = a["deliveries"][0]["reason"].as_str().unwrap().to_string();
        }
        // An inline send, counted apart from the template.
        let inline = app.send_webhook(&ok.url, json!({"n": 2})).await;
        for (a, status) in &ids {
            app.wait_for_status(a["deliveries"][0]["id"].as_str().unwrap(), status)
                .await;
        }
        app.wait_for_status(inline["deliveries"][0]["id"].as_str().unwrap(), "sent")
            .await;

        let report = app.get_json("/v1/stats?group_by=template&window=1h").await;
        assert_eq!(report["group_by"], "template");
        assert_eq!(report["bucket_seconds"], 60);
        let g = group(&report, "receipt").unwrap_or_else(|| panic!("{report:#}"));
        assert_eq!(count(g, "sent"), sent);
        assert_eq!(count(g, "failed"), failed);
        assert_eq!(count(g, "suppressed"), suppressed);
        assert_eq!(g["total"], sent + failed + suppressed);
        assert_eq!(
            g["suppression_reasons"][reason.as_str()],
            suppressed,
            "{g:#}"
        );
        let rate = g["failure_rate"].as_f64().unwrap();
        assert!(
            (rate - failed as f64 / (sent + failed) as f64).abs() < 1e-9,
            "{rate}"
        );
        let p50 = g["latency"]["p50_ms"].as_i64().unwrap();
        let p95 = g["latency"]["p95_ms"].as_i64().unwrap();
        assert!(p50 >= 1 && p50 <= p95 && p95 <= 1 << 15, "{g:#}");
        let series: i64 = g["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .sum();
        assert_eq!(series, sent + failed + suppressed);
        assert_eq!(g["series"].as_array().unwrap().len(), 61);
        let failed_series: i64 = g["failed_series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .sum();
        assert_eq!(failed_series, failed);
        let i = group(&report, "inline").unwrap_or_else(|| panic!("{report:#}"));
        assert_eq!(count(i, "sent"), 1);
        assert_eq!(i["total"], 1);

        let by_channel = app.get_json("/v1/stats?group_by=channel").await;
        assert_eq!(by_channel["bucket_seconds"], 3600);
        let w = group(&by_channel, "webhook").unwrap();
        assert_eq!(count(w, "sent"), sent + 1);
        assert_eq!(count(w, "failed"), failed);
        assert_eq!(count(w, "suppressed"), suppressed);

        let by_provider = app.get_json("/v1/stats?group_by=provider&window=7d").await;
        let p = group(&by_provider, "webhook").unwrap_or_else(|| panic!("{by_provider:#}"));
        assert_eq!(count(p, "sent"), sent + 1);
        assert_eq!(count(p, "failed"), failed);
        let none = group(&by_provider, "none").unwrap();
        assert_eq!(count(none, "suppressed"), suppressed);

        // The week reads the hourly rows the writer upserted beside the
        // minutes: the same counts and percentiles as the hour's minutes.
        let week = app.get_json("/v1/stats?group_by=template&window=7d").await;
        assert_eq!(week["bucket_seconds"], 3600);
        for key in ["receipt", "inline"] {
            let (h, w) = (group(&report, key).unwrap(), group(&week, key).unwrap());
            for field in ["counts", "total", "suppression_reasons", "latency"] {
                assert_eq!(h[field], w[field], "{key} {field}: {h:#} {w:#}");
            }
        }

        let since = missive::util::rfc3339(missive::util::now_ms() - 3_600_000);
        let r = app.get_json(&format!("/v1/stats?since={since}")).await;
        assert_eq!(count(group(&r, "receipt").unwrap(), "sent"), sent);

        // The delivery metrics carry the template.
        let m = crate::metrics::scrape(&app).await;
        let wh = ("channel", "webhook");
        for (status, template, n) in [
            ("sent", "receipt", sent),
            ("failed", "receipt", failed),
            ("suppressed", "receipt", suppressed),
            ("sent", "inline", 1),
        ] {
            let v = m.value(
                "missive_deliveries_total",
                &[wh, ("status", status), ("template", template)],
            );
            assert_eq!(v, n as f64, "{status} {template}");
        }

        // The console page ranks it, by HTTP.
        let html = console_get(&app, "/console/stats?window=1h").await;
        assert!(html.contains("Templates by volume"), "{html}");
        assert!(html.contains("data-key=\"receipt\""), "{html}");
        assert!(html.contains("<svg class=\"spark\""), "{html}");
        assert!(
            html.contains("href=\"/console/stats\""),
            "linked from the navigation"
        );
        app.stop().await;
    })
    .await;
}

/// A console page's HTML, signed in with the admin key.
async fn console_get(app: &TestApp, path: &str) -> String {
    let c = crate::console::ConsoleClient::new(app);
    assert!(c.sign_in(&app.key).await.status().is_redirection());
    let (status, html) = c.page(path).await;
    assert_eq!(status, 200, "{html}");
    html
}

#[tokio::test]
async fn bad_parameters_are_named() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        for (q, field) in [
            ("group_by=recipient", "group_by"),
            ("window=2h", "window"),
            ("since=yesterday", "since"),
            ("since=2001-01-01T00:00:00Z", "since"),
            ("since=2099-01-01T00:00:00Z", "since"),
            ("window=1h&since=2001-01-01T00:00:00Z", "since"),
            ("colour=red", "query"),
        ] {
            let r = app.get(&format!("/v1/stats?{q}")).await;
            assert_eq!(r.status(), 422, "{q}");
            assert!(r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/problem+json"));
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["errors"][0]["field"], field, "{q}: {p:#}");
        }
        // Read like the other read endpoints: no key, no stats.
        let r = app.client.get(app.url("/v1/stats")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let key = crate::authz::make_key(&app, "send").await;
        let r = app
            .client
            .get(app.url("/v1/stats"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_outcome_rolled_back_counts_nothing_until_it_is_written() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let target = Receiver::start().await;
        app.db.refuse_attempt_rows().await;
        let a = app.send_webhook(&target.url, json!({"n": 1})).await;
        let d = a["deliveries"][0]["id"].as_str().unwrap().to_string();
        target.wait_for(1, Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            app.get_json(&format!("/v1/deliveries/{d}")).await["status"],
            "sending"
        );
        let report = app.get_json("/v1/stats?window=1h").await;
        assert!(group(&report, "inline").is_none(), "{report:#}");

        app.db.allow_attempt_rows().await;
        app.wait_for_status(&d, "sent").await;
        let report = app.get_json("/v1/stats?window=1h").await;
        let g = group(&report, "inline").unwrap_or_else(|| panic!("{report:#}"));
        assert_eq!(count(g, "sent"), 1);
        assert_eq!(g["total"], 1);
        app.stop().await;
    })
    .await;
}

/// Counts written at known past minutes, and beside them per hour as the
/// writer does: a window whose start falls inside an hour reads that
/// hour's minutes from the start on and the whole hours after it, and
/// answers exactly what its minutes add up to; a week is the sum of its
/// parts; a window of up to two hours reads minutes.
#[tokio::test]
async fn hours_and_minutes_add_up_to_the_same_counts() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        const MIN: i64 = 60_000;
        const HOUR: i64 = 60 * MIN;
        let now = missive::util::now_ms();
        let top = now - now.rem_euclid(HOUR);
        let since = top - 3 * HOUR + 20 * MIN;
        // (minute, template, status, shard, n, latency bucket of the sent)
        let minutes: [(i64, &str, &str, i64, i64, usize); 9] = [
            (top - 5 * HOUR, "b", "sent", 0, 17, 5),
            (since - 30 * MIN, "a", "sent", 0, 19, 2),
            (since - MIN, "a", "sent", 0, 7, 3),
            (since, "a", "sent", 0, 5, 3),
            (since + 39 * MIN, "a", "failed", 1, 2, 0),
            (top - 2 * HOUR, "a", "sent", 1, 11, 10),
            (top - 2 * HOUR + 59 * MIN, "b", "suppressed", 0, 4, 0),
            (top - HOUR + 30 * MIN, "a", "sent", 0, 13, 10),
            (top - HOUR + 31 * MIN, "a", "sent", 1, 3, 12),
        ];
        let row = |at: i64, t: &str, status: &str, shard: i64, n: i64, h: &[i64; 20]| {
            let provider = if status == "suppressed" {
                ""
            } else {
                "webhook"
            };
            let reason = if status == "suppressed" {
                "preferences"
            } else {
                ""
            };
            let hs: Vec<String> = h.iter().map(|v| v.to_string()).collect();
            format!(
                "({at}, '{t}', 'webhook', '{provider}', '{status}', '{reason}', {shard}, {n}, {})",
                hs.join(", ")
            )
        };
        let hist = |status: &str, n: i64, b: usize| {
            let mut h = [0i64; 20];
            if status == "sent" {
                h[b] = n;
            }
            h
        };
        let cols = (0..20)
            .map(|i| format!("h{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut hours = std::collections::BTreeMap::<_, (i64, [i64; 20])>::new();
        let mut values = Vec::new();
        for (m, t, status, shard, n, b) in minutes {
            let h = hist(status, n, b);
            values.push(row(m, t, status, shard, n, &h));
            let e = hours
                .entry((m - m.rem_euclid(HOUR), t, status, shard))
                .or_default();
            e.0 += n;
            for (x, y) in e.1.iter_mut().zip(h) {
                *x += y;
            }
        }
        app.db
            .execute(&format!(
                "INSERT INTO delivery_stats (minute, template, channel, provider, status, reason, \
                 shard, n, {cols}) VALUES {}",
                values.join(", ")
            ))
            .await;
        let values: Vec<String> = hours
            .iter()
            .map(|((hr, t, status, shard), (n, h))| row(*hr, t, status, *shard, *n, h))
            .collect();
        app.db
            .execute(&format!(
                "INSERT INTO delivery_stats_hourly (hour, template, channel, provider, status, \
                 reason, shard, n, {cols}) VALUES {}",
                values.join(", ")
            ))
            .await;

        // What the minutes from `from` on add up to, per template and
        // status, and the sent ones' p50 and p95 bucket bounds.
        let expect = |from: i64, t: &str, status: &str| -> i64 {
            minutes
                .iter()
                .filter(|r| r.0 >= from && r.1 == t && r.2 == status)
                .map(|r| r.4)
                .sum()
        };
        let expect_p = |from: i64, t: &str, p: f64| -> Option<i64> {
            let mut h = [0i64; 20];
            for r in minutes.iter().filter(|r| r.0 >= from && r.1 == t) {
                for (x, y) in h.iter_mut().zip(hist(r.2, r.4, r.5)) {
                    *x += y;
                }
            }
            missive::service::delivery_stats::percentile(&h, p)
        };
        let check = |report: &Value, from: i64| {
            for t in ["a", "b"] {
                let total: i64 = ["sent", "failed", "suppressed"]
                    .iter()
                    .map(|s| expect(from, t, s))
                    .sum();
                let Some(g) = group(report, t) else {
                    assert_eq!(total, 0, "{t}: {report:#}");
                    continue;
                };
                for status in ["sent", "failed", "suppressed"] {
                    assert_eq!(
                        count(g, status),
                        expect(from, t, status),
                        "{t} {status}: {g:#}"
                    );
                }
                assert_eq!(g["total"], total, "{t}: {g:#}");
                let series: i64 = g["series"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_i64().unwrap())
                    .sum();
                assert_eq!(series, total, "{t}: {g:#}");
                assert_eq!(g["latency"]["p50_ms"].as_i64(), expect_p(from, t, 0.5));
                assert_eq!(g["latency"]["p95_ms"].as_i64(), expect_p(from, t, 0.95));
            }
        };

        // Starting 20 minutes into an hour: its last 40 minutes, then hours.
        let q = format!("/v1/stats?since={}", missive::util::rfc3339(since));
        let split = app.get_json(&q).await;
        assert_eq!(split["bucket_seconds"], 3600);
        check(&split, since);
        // The failure falls in the first point with the whole hour after
        // it (whose start is within the first point's hour too).
        let a = group(&split, "a").unwrap();
        assert_eq!(a["failed_series"][0], 2, "{a:#}");
        assert_eq!(a["series"][0], 5 + 2 + 11, "{a:#}");

        // A week: every part, the earlier hours included.
        let week = app.get_json("/v1/stats?window=7d").await;
        check(&week, now - 7 * 24 * HOUR);
        let all: i64 = minutes.iter().map(|r| r.4).sum();
        let sum: i64 = week["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["total"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, all);
        let before: i64 = minutes.iter().filter(|r| r.0 < since).map(|r| r.4).sum();
        let split_sum: i64 = split["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["total"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, split_sum + before);

        // Up to two hours: per-minute points, read from the minutes.
        let hour_ago = top - HOUR + 30 * MIN;
        let q = format!("/v1/stats?since={}", missive::util::rfc3339(hour_ago));
        let minutely = app.get_json(&q).await;
        assert_eq!(minutely["bucket_seconds"], 60);
        check(&minutely, hour_ago);

        // The whole hours are read from their hourly rows: without their
        // minutes, a day-sized window answers the same.
        app.db
            .execute(&format!(
                "DELETE FROM delivery_stats WHERE minute >= {} AND minute < {top}",
                top - 2 * HOUR
            ))
            .await;
        assert_eq!(
            app.get_json(&format!(
                "/v1/stats?since={}",
                missive::util::rfc3339(since)
            ))
            .await["groups"],
            split["groups"]
        );

        // Retention: the minutes before `since` go, and the hours that
        // ended before it; the hour `since` falls in stays whole.
        let removed = app.state.store.purge_stats(since).await.unwrap();
        assert!(removed >= 3, "{removed}");
        let q = format!("/v1/stats?since={}", missive::util::rfc3339(since));
        assert_eq!(app.get_json(&q).await["groups"], split["groups"]);
        let kept: i64 = minutes
            .iter()
            .filter(|r| r.0 - r.0.rem_euclid(HOUR) > since - HOUR)
            .map(|r| r.4)
            .sum();
        assert!(kept < all);
        let week = app.get_json("/v1/stats?window=7d").await;
        let sum: i64 = week["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["total"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, kept);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn cancels_are_counted_as_finished_deliveries() {
    // A scheduled delivery cancelled alone, and a notification of two
    // cancelled as a whole: three `cancelled`, in the total, in the
    // cancel's transaction.
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let send = |to: Value| {
            let app = &app;
            let at = at.clone();
            async move {
                let r = app
                    .post(
                        "/v1/notifications",
                        &json!({"content": {"webhook": {"body": "{}"}}, "to": to, "send_at": at}),
                    )
                    .await;
                assert_eq!(r.status(), 202);
                r.json::<Value>().await.unwrap()
            }
        };
        let one = send(json!([{"webhook_url": "http://127.0.0.1:9/a"}])).await;
        let two = send(json!([
            {"webhook_url": "http://127.0.0.1:9/b"},
            {"webhook_url": "http://127.0.0.1:9/c"}
        ]))
        .await;
        let before = app.get_json("/v1/stats?group_by=channel&window=1h").await;
        assert!(group(&before, "webhook").is_none(), "{before:#}");

        let d = one["deliveries"][0]["id"].as_str().unwrap();
        let r = app
            .post(&format!("/v1/deliveries/{d}/cancel"), &json!({}))
            .await;
        assert!(r.status().is_success(), "{}", r.status());
        let n = two["id"].as_str().unwrap();
        let r = app
            .post(&format!("/v1/notifications/{n}/cancel"), &json!({}))
            .await;
        assert!(r.status().is_success(), "{}", r.status());
        // Cancelling again moves nothing and counts nothing.
        app.post(&format!("/v1/deliveries/{d}/cancel"), &json!({}))
            .await;

        let report = app.get_json("/v1/stats?group_by=channel&window=1h").await;
        let g = group(&report, "webhook").unwrap_or_else(|| panic!("{report:#}"));
        assert_eq!(count(g, "cancelled"), 3, "{report:#}");
        assert_eq!(g["total"], 3, "{report:#}");
        assert_eq!(g["failure_rate"], 0.0, "{report:#}");
        app.stop().await;
    })
    .await;
}
