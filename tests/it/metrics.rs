//! `GET /metrics`: real traffic through one app, then the exact counter
//! values scraped over HTTP and parsed from the text; the token option.
//! Rate-limit and provider-pause waits are checked where those are tested
//! (flow.rs, webhook.rs), with [`scrape`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// One scraped sample: its name and labels.
type Series = (String, BTreeMap<String, String>);

/// Parses OpenMetrics / Prometheus text into samples.
fn parse(text: &str) -> Vec<(Series, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                (name.to_string(), parse_labels(body))
            }
        };
        out.push(((name, labels), value));
    }
    out
}

/// `k="v",k2="v2"` with `\"` and `\\` escapes in values.
fn parse_labels(mut s: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    while !s.is_empty() {
        let (k, rest) = s.split_once("=\"").expect("label=\"value\"");
        let mut v = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (_, '\\') => v.push(chars.next().expect("escaped char").1),
                (i, '"') => break i,
                (_, c) => v.push(c),
            }
        };
        m.insert(k.to_string(), v);
        s = rest[end + 1..].trim_start_matches(',');
    }
    m
}

pub struct Scrape(Vec<(Series, f64)>);

impl Scrape {
    /// The value of the series with exactly these labels, if present.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.0
            .iter()
            .find(|((n, l), _)| n == name && *l == want)
            .map(|(_, v)| *v)
    }

    /// As `get`, 0 when the series was never created.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }
}

/// `GET /metrics` without credentials, parsed.
pub async fn scrape(app: &TestApp) -> Scrape {
    let r = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape(parse(&text))
}

fn first_delivery(accepted: &Value) -> (String, String) {
    let d = &accepted["deliveries"][0];
    (
        d["id"].as_str().unwrap().to_string(),
        d["status"].as_str().unwrap().to_string(),
    )
}

#[test]
fn the_parser_reads_labels_with_escapes() {
    let s = Scrape(parse(
        "# TYPE x counter\nx_total{a=\"1\",b=\"q\\\"uote,d\"} 3\nup 1\n# EOF\n",
    ));
    assert_eq!(
        s.get("x_total", &[("a", "1"), ("b", "q\"uote,d")]),
        Some(3.0)
    );
    assert_eq!(s.get("up", &[]), Some(1.0));
    assert_eq!(s.get("x_total", &[("a", "1")]), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_match_the_traffic_the_app_saw() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let ok = Receiver::start().await;
        let bad = Receiver::start_with(vec![], Answer::status(400)).await;
        let flaky = Receiver::start_with(vec![Answer::status(500)], Answer::status(200)).await;

        let mut expect_sent = Vec::new();
        for n in 0..2 {
            expect_sent.push(first_delivery(&app.send_webhook(&ok.url, json!({"n": n})).await).0);
        }
        let (failing, _) = first_delivery(&app.send_webhook(&bad.url, json!({"n": 2})).await);
        expect_sent.push(first_delivery(&app.send_webhook(&flaky.url, json!({"n": 3})).await).0);

        // A dedup key sent twice: the second is suppressed as a duplicate.
        let dup = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": ok.url}],
                         "dedup_key": "order-7-shipped"});
        let r = app.post("/v1/notifications", &dup).await;
        assert_eq!(r.status(), 202);
        expect_sent.push(first_delivery(&r.json().await.unwrap()).0);
        let r = app.post("/v1/notifications", &dup).await;
        assert_eq!(r.status(), 202);
        let (_, st) = first_delivery(&r.json().await.unwrap());
        assert_eq!(st, "suppressed");

        // One Idempotency-Key used twice: created once, replayed once.
        let once = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": ok.url}]});
        for i in 0..2 {
            let r = app
                .client
                .post(app.url("/v1/notifications"))
                .bearer_auth(&app.key)
                .header("Idempotency-Key", "metrics-once")
                .json(&once)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            let body: Value = r.json().await.unwrap();
            if i == 0 {
                expect_sent.push(first_delivery(&body).0);
            }
        }

        // Scheduled for tomorrow: three deliveries wait; a fourth is cancelled.
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let later = |to: Value| json!({"content": {"webhook": {"body": "{}"}}, "to": to, "send_at": tomorrow});
        let r = app
            .post(
                "/v1/notifications",
                &later(json!([{"webhook_url": format!("{}?a", ok.url)},
                              {"webhook_url": format!("{}?b", ok.url)},
                              {"webhook_url": format!("{}?c", ok.url)}])),
            )
            .await;
        assert_eq!(r.status(), 202);
        let r = app
            .post(
                "/v1/notifications",
                &later(json!([{"webhook_url": ok.url}])),
            )
            .await;
        assert_eq!(r.status(), 202);
        let cancel_id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .post(&format!("/v1/notifications/{cancel_id}/cancel"), &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["cancelled"], 1);

        for id in &expect_sent {
            app.wait_for_status(id, "sent").await;
        }
        app.wait_for_status(&failing, "failed").await;

        // The queue gauges are counted every `server.metrics_refresh`
        // (200 ms in tests): the count after the last change shows.
        let m = match poll_until(Duration::from_secs(10), || async {
            let m = scrape(&app).await;
            let depth = |status| m.get("missive_queue_depth", &[("status", status)]);
            // Only some deliveries are waited for above: the rest may still
            // be in flight when a count is made.
            let settled = depth("scheduled") == Some(3.0)
                && ["queued", "sending", "retrying"]
                    .iter()
                    .all(|s| depth(s) == Some(0.0));
            (settled, m)
        })
        .await
        {
            Ok(m) => m,
            Err(m) => panic!(
                "the queue gauges never showed 3 scheduled: {:?}",
                m.get("missive_queue_depth", &[("status", "scheduled")])
            ),
        };
        let wh = ("channel", "webhook");
        assert_eq!(
            m.value(
                "missive_notifications_accepted_total",
                &[("outcome", "created")]
            ),
            9.0
        );
        assert_eq!(
            m.value(
                "missive_notifications_accepted_total",
                &[("outcome", "idempotent_replay")]
            ),
            1.0
        );
        let delivered = |status| {
            m.value(
                "missive_deliveries_total",
                &[wh, ("status", status), ("template", "inline")],
            )
        };
        assert_eq!(delivered("sent"), 5.0);
        assert_eq!(delivered("failed"), 1.0);
        assert_eq!(delivered("suppressed"), 1.0);
        assert_eq!(delivered("cancelled"), 1.0);
        assert_eq!(
            m.value("missive_suppressions_total", &[wh, ("reason", "duplicate")]),
            1.0
        );
        let attempts = |outcome| {
            m.value(
                "missive_attempts_total",
                &[wh, ("provider", "webhook"), ("outcome", outcome)],
            )
        };
        assert_eq!(attempts("ok"), 5.0);
        assert_eq!(attempts("permanent"), 1.0);
        assert_eq!(attempts("transient"), 1.0);
        assert_eq!(
            m.value(
                "missive_attempt_duration_seconds_count",
                &[wh, ("provider", "webhook")]
            ),
            7.0
        );
        let depth = |status| m.get("missive_queue_depth", &[("status", status)]);
        assert_eq!(depth("scheduled"), Some(3.0));
        assert_eq!(depth("queued"), Some(0.0));
        assert_eq!(depth("retrying"), Some(0.0));
        assert_eq!(depth("sending"), Some(0.0));
        assert_eq!(
            m.get("missive_queue_oldest_waiting_seconds", &[]),
            Some(0.0)
        );
        // The route template, never the raw path.
        let http = |method, route, class| {
            m.value(
                "missive_http_request_duration_seconds_count",
                &[("method", method), ("route", route), ("status", class)],
            )
        };
        assert_eq!(http("POST", "/v1/notifications", "2xx"), 10.0);
        assert_eq!(http("POST", "/v1/notifications/{id}/cancel", "2xx"), 1.0);
        assert!(!m
            .0
            .iter()
            .any(|((_, l), _)| l.get("route").is_some_and(|r| r.contains(&cancel_id))));
        // Default email and sms providers, breakers closed.
        assert_eq!(
            m.get(
                "missive_provider_circuit_state",
                &[
                    ("channel", "email"),
                    ("provider", "file"),
                    ("state", "closed")
                ]
            ),
            Some(1.0)
        );
        assert_eq!(
            m.get(
                "missive_provider_circuit_state",
                &[
                    ("channel", "email"),
                    ("provider", "file"),
                    ("state", "open")
                ]
            ),
            Some(0.0)
        );
        app.stop().await;
    })
    .await;
}

/// An API-only process (no workers) on `db`: (base URL, its admin key if
/// this start made one, shutdown, task).
async fn api_only(
    db: &TestDb,
) -> (
    String,
    Option<String>,
    tokio_util::sync::CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let cfg = missive::Config::from_toml(&test_toml(db, "")).unwrap();
    let app = missive::App::build(cfg, missive::Role::Api).await.unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    let key = app.first_admin_key.clone();
    let stop = app.shutdown_token();
    (base, key, stop, tokio::spawn(app.run_until_stopped()))
}

async fn scrape_url(base: &str) -> Scrape {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    Scrape(parse(&text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_gauges_come_from_the_shared_database_and_counters_per_app() {
    each_backend(|b| async move {
        // Two API-only processes on one database, no workers: what they
        // accept stays queued.
        let db = TestDb::new(&b);
        let (a, key, stop_a, task_a) = api_only(&db).await;
        let key = key.expect("first start makes an admin key");
        let (b_base, _, stop_b, task_b) = api_only(&db).await;
        let rx = Receiver::start().await;
        let c = reqwest::Client::new();
        for base in [&a, &b_base] {
            let r = c
                .post(format!("{base}/v1/notifications"))
                .bearer_auth(&key)
                .json(&json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": rx.url}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
        }
        // Each process counts what it accepted; both see the whole queue,
        // and the oldest queued delivery grows older.
        let seen = poll_until(Duration::from_secs(10), || async {
            let (ma, mb) = (scrape_url(&a).await, scrape_url(&b_base).await);
            let age = ma.value("missive_queue_oldest_waiting_seconds", &[]);
            let counted = [&ma, &mb]
                .iter()
                .all(|m| m.get("missive_queue_depth", &[("status", "queued")]) == Some(2.0));
            (age >= 0.3 && counted, (ma, mb))
        })
        .await;
        let (ma, mb) = match seen {
            Ok(v) => v,
            Err(_) => panic!("the oldest waiting age never passed 0.3 s with 2 queued"),
        };
        for m in [&ma, &mb] {
            assert_eq!(
                m.get("missive_queue_depth", &[("status", "queued")]),
                Some(2.0)
            );
            assert_eq!(
                m.value(
                    "missive_notifications_accepted_total",
                    &[("outcome", "created")]
                ),
                1.0
            );
        }
        assert!(mb.value("missive_queue_oldest_waiting_seconds", &[]) > 0.0);
        assert!(rx.count() == 0, "nothing is sent without workers");
        for (stop, task) in [(stop_a, task_a), (stop_b, task_b)] {
            stop.cancel();
            task.await.unwrap().unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_set_metrics_need_it() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[server]\nmetrics_token = \"scrape-me\"").await;
        let url = app.url("/metrics");
        let c = reqwest::Client::new();
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body = r.text().await.unwrap();
        assert!(body.contains("metrics_token"), "{body}");
        assert!(!body.contains("scrape-me"), "{body}");
        let r = c.get(&url).bearer_auth("scrape-you").send().await.unwrap();
        assert_eq!(r.status(), 401);
        // An API key is not the metrics token.
        let r = c.get(&url).bearer_auth(&app.key).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = c.get(&url).bearer_auth("scrape-me").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("missive_queue_depth"));
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_reads_the_last_count_and_never_counts_the_queue() {
    each_backend(|b| async move {
        // Counted at start, then not for an hour: scrapes must show that
        // count, however the queue changes in between.
        let app = spawn_app_with(&b, "[server]\nmetrics_refresh = \"1h\"").await;
        let counted = poll_until(Duration::from_secs(10), || async {
            let m = scrape(&app).await;
            (
                m.get("missive_queue_depth", &[("status", "scheduled")]) == Some(0.0),
                (),
            )
        })
        .await;
        assert!(counted.is_ok(), "the first count never showed");
        let rx = Receiver::start().await;
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"webhook": {"body": "{}"}}, "send_at": tomorrow,
                        "to": [{"webhook_url": format!("{}?a", rx.url)},
                               {"webhook_url": format!("{}?b", rx.url)}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let listed = app.get_json("/v1/deliveries?status=scheduled").await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 2);
        for _ in 0..3 {
            let m = scrape(&app).await;
            assert_eq!(
                m.get("missive_queue_depth", &[("status", "scheduled")]),
                Some(0.0),
                "a scrape counted the queue itself"
            );
            // The counters are live all the same.
            assert_eq!(
                m.value(
                    "missive_notifications_accepted_total",
                    &[("outcome", "created")]
                ),
                1.0
            );
        }
        app.stop().await;
    })
    .await;
}
