//! Flow control end to end: priorities, dead-letter replay, cancelling a
//! whole notification.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_message_overtakes_a_backlog_of_low_priority_marketing() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        // A slow receiver keeps the backlog from draining quickly.
        let bulk =
            Receiver::start_with(vec![], Answer::status(200).delay(Duration::from_millis(50)))
                .await;
        let urgent = Receiver::start().await;
        let to: Vec<Value> = (0..1000)
            .map(|_| json!({"webhook_url": bulk.url}))
            .collect();
        for _ in 0..20 {
            let r = app
                .post("/v1/notifications", &json!({"content": {"webhook": {"body": "{}"}}, "to": to, "category": "marketing", "priority": "low"}))
                .await;
            assert_eq!(r.status(), 202);
        }
        let sent = Instant::now();
        let r = app
            .post("/v1/notifications", &json!({"content": {"webhook": {"body": "{\"code\": 1}"}}, "to": [{"webhook_url": urgent.url}], "category": "auth"}))
            .await;
        assert_eq!(r.status(), 202);
        urgent.wait_for(1, Duration::from_secs(5)).await;
        let took = sent.elapsed();
        let drained = bulk.count();
        assert!(
            drained < 10_000,
            "the auth message waited for {drained} of 20,000 marketing deliveries"
        );
        assert!(took < Duration::from_secs(5), "took {took:?}");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_replayed_in_bulk_and_audited() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start_with(
            vec![
                Answer::status(400),
                Answer::status(400),
                Answer::status(400),
            ],
            Answer::status(200),
        )
        .await;
        let other = Receiver::start_with(vec![], Answer::status(410)).await;
        let mut ids = vec![];
        for _ in 0..3 {
            ids.push(
                app.send_webhook(&rx.url, json!({"n": 1})).await["deliveries"][0]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let stays = app.send_webhook(&other.url, json!({"n": 1})).await["deliveries"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        for id in ids.iter().chain([&stays]) {
            app.wait_for_status(id, "failed").await;
        }
        let bad = app
            .client
            .post(app.url("/v1/deliveries/retry?status=sent"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 422);
        let recipient = crate::webhook::urlencode(&rx.url);
        let r = app
            .client
            .post(app.url(&format!("/v1/deliveries/retry?recipient={recipient}")))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["requeued"], 3);
        for id in &ids {
            let d = app.wait_for_status(id, "sent").await;
            let a = d["attempts"].as_array().unwrap();
            assert_eq!(a.len(), 3, "{d:#}");
            assert_eq!(
                (a[1]["outcome"].as_str(), a[1]["provider"].as_str()),
                (Some("requeued"), Some("operator"))
            );
            assert_eq!(a[2]["outcome"], "ok");
        }
        // The other failed delivery did not match the filter.
        assert_eq!(
            app.get_json(&format!("/v1/deliveries/{stays}")).await["status"],
            "failed"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_notification_can_be_cancelled_before_it_is_sent() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let to: Vec<Value> = (0..5).map(|_| json!({"webhook_url": rx.url})).collect();
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"webhook": {"body": "{}"}}, "to": to, "send_at": later}),
            )
            .await;
        let n: Value = r.json().await.unwrap();
        let id = n["id"].as_str().unwrap();
        let r = app
            .post(&format!("/v1/notifications/{id}/cancel"), &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["cancelled"], 5);
        let shown = app.get_json(&format!("/v1/notifications/{id}")).await;
        assert!(shown["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "cancelled"));
        assert_eq!(
            app.post("/v1/notifications/nope/cancel", &json!({}))
                .await
                .status(),
            404
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_sends_with_one_dedup_key_deliver_once() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let body = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": rx.url}], "dedup_key": "order-1001-shipped"});
        let answers =
            futures::future::join_all((0..50).map(|_| app.post("/v1/notifications", &body))).await;
        let mut statuses = vec![];
        for a in answers {
            assert_eq!(a.status(), 202);
            let v: Value = a.json().await.unwrap();
            statuses.push((
                v["deliveries"][0]["status"].as_str().unwrap().to_string(),
                v["deliveries"][0]["reason"].clone(),
            ));
        }
        let fresh = statuses.iter().filter(|(s, _)| s == "queued").count();
        assert_eq!(fresh, 1, "{statuses:?}");
        assert!(statuses
            .iter()
            .filter(|(s, _)| s == "suppressed")
            .all(|(_, r)| r == "duplicate"));
        rx.wait_for(1, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 1, "exactly one message");
        // The same key to another recipient is not a duplicate.
        let rx2 = Receiver::start().await;
        let r = app.post("/v1/notifications", &json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": rx2.url}], "dedup_key": "order-1001-shipped"})).await;
        assert_eq!(
            r.json::<Value>().await.unwrap()["deliveries"][0]["status"],
            "queued"
        );
        // The log shows why the others were not sent.
        let log = app
            .get_json("/v1/deliveries?status=suppressed&limit=100")
            .await;
        assert_eq!(log["items"].as_array().unwrap().len(), 49);
        assert!(log["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["reason"] == "duplicate"));
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dedup_key_expires_after_its_window() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[flow]\ndedup_window = \"300ms\"").await;
        let rx = Receiver::start().await;
        let body = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": rx.url}], "dedup_key": "k"});
        let first: Value = app
            .post("/v1/notifications", &body)
            .await
            .json()
            .await
            .unwrap();
        let second: Value = app
            .post("/v1/notifications", &body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(first["deliveries"][0]["status"], "queued");
        assert_eq!(second["deliveries"][0]["status"], "suppressed");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let third: Value = app
            .post("/v1/notifications", &body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(third["deliveries"][0]["status"], "queued");
        rx.wait_for(2, Duration::from_secs(10)).await;
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frequency_caps_hold_under_concurrency_and_spare_other_categories() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[flow]\nfrequency_caps = { marketing = \"3/1h\" }").await;
        let rx = Receiver::start().await;
        let send = |category: &'static str| {
            let body = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"id": "u_1", "webhook_url": rx.url}], "category": category});
            let app = &app;
            async move {
                let r = app.post("/v1/notifications", &body).await;
                assert_eq!(r.status(), 202);
                let v: Value = r.json().await.unwrap();
                (
                    v["deliveries"][0]["status"].as_str().unwrap().to_string(),
                    v["deliveries"][0]["reason"].as_str().map(str::to_string),
                )
            }
        };
        let results = futures::future::join_all((0..10).map(|_| send("marketing"))).await;
        let queued = results.iter().filter(|(s, _)| s == "queued").count();
        assert_eq!(queued, 3, "{results:?}");
        assert!(results
            .iter()
            .filter(|(s, _)| s == "suppressed")
            .all(|(_, r)| r.as_deref() == Some("frequency_cap")));
        // Other categories are not capped (auth is exempt unless configured).
        assert_eq!(send("transactional").await.0, "queued");
        assert_eq!(send("auth").await.0, "queued");
        rx.wait_for(5, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 5);
        app.stop().await;
    })
    .await;
}

/// A delivery in flight (`sending`) is in its recipient's and channel's
/// log, merged in id order with the finished ones and paged across, and
/// counts against a frequency cap like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_in_flight_are_listed_with_the_rest_and_capped() {
    each_backend(|b| async move {
        let app = spawn_app_with(
            &b,
            "[flow]\nfrequency_caps = { marketing = \"1/1h\" }\n[channels.webhook]\ntimeout = \"20s\"",
        )
        .await;
        let quick = Receiver::start().await;
        let slow =
            Receiver::start_with(vec![], Answer::status(200).delay(Duration::from_secs(6))).await;
        let send = |url: &str, category: &str| {
            let body = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"id": "u_1", "webhook_url": url}], "category": category});
            let app = &app;
            async move {
                let r = app.post("/v1/notifications", &body).await;
                assert_eq!(r.status(), 202);
                let v: Value = r.json().await.unwrap();
                v["deliveries"][0].clone()
            }
        };
        // Sent before and after the one in flight, so it sits between
        // finished rows in id order.
        let before = send(&quick.url, "transactional").await;
        quick.wait_for(1, Duration::from_secs(10)).await;
        app.wait_for_status(before["id"].as_str().unwrap(), "sent").await;
        let flying = send(&slow.url, "marketing").await;
        assert_eq!(flying["status"], "queued");
        let flying = flying["id"].as_str().unwrap().to_string();
        slow.wait_for(1, Duration::from_secs(10)).await;
        let after = send(&quick.url, "transactional").await;
        quick.wait_for(2, Duration::from_secs(10)).await;
        app.wait_for_status(after["id"].as_str().unwrap(), "sent").await;
        let row = app.get_json(&format!("/v1/deliveries/{flying}")).await;
        assert_eq!(row["status"], "sending", "{row}");

        let expected = vec![
            after["id"].as_str().unwrap().to_string(),
            flying.clone(),
            before["id"].as_str().unwrap().to_string(),
        ];
        for filter in ["recipient=u_1", "channel=webhook", "recipient=u_1&channel=webhook", ""] {
            let page = app.get_json(&format!("/v1/deliveries?{filter}")).await;
            let ids: Vec<String> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(ids, expected, "?{filter}: {page}");
            // One at a time, following the cursor through the row in flight.
            let mut paged = Vec::new();
            let mut url = format!("/v1/deliveries?{filter}&limit=1");
            loop {
                let page = app.get_json(&url).await;
                let items = page["items"].as_array().unwrap();
                paged.extend(items.iter().map(|d| d["id"].as_str().unwrap().to_string()));
                match page["next_cursor"].as_str() {
                    Some(c) if !items.is_empty() => {
                        url = format!(
                            "/v1/deliveries?{filter}&limit=1&cursor={}",
                            url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
                        )
                    }
                    _ => break,
                }
                assert!(paged.len() <= expected.len(), "?{filter}: {paged:?}");
            }
            assert_eq!(paged, expected, "?{filter}, a page at a time");
        }
        let sending = app.get_json("/v1/deliveries?status=sending&recipient=u_1").await;
        assert_eq!(sending["items"][0]["id"], flying.as_str(), "{sending}");
        let sent = app.get_json("/v1/deliveries?status=sent&recipient=u_1").await;
        assert_eq!(sent["items"].as_array().unwrap().len(), 2, "{sent}");

        // The cap (1 an hour) is taken by the delivery still in flight.
        let capped = send(&quick.url, "marketing").await;
        assert_eq!(capped["status"], "suppressed", "{capped}");
        assert_eq!(capped["reason"], "frequency_cap", "{capped}");
        app.wait_for_status(&flying, "sent").await;
        app.stop().await;
    })
    .await;
}

/// Posts a send; its first delivery's status and reason.
async fn first_outcome(app: &TestApp, body: &Value) -> (String, Option<String>) {
    let v: Value = app
        .post("/v1/notifications", body)
        .await
        .json()
        .await
        .unwrap();
    (
        v["deliveries"][0]["status"].as_str().unwrap().to_string(),
        v["deliveries"][0]["reason"].as_str().map(str::to_string),
    )
}

/// The most requests a receiver saw in any one-second window.
pub fn busiest_second(rx: &Receiver) -> usize {
    let mut at: Vec<Instant> = rx.received().iter().map(|r| r.at).collect();
    at.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..at.len() {
        while at[end] - at[start] >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_rate_limit_deliveries_wait_and_none_is_dropped() {
    each_backend(|b| async move {
        let app = spawn_app_with(
            &b,
            "[channels.webhook]\nrate_limit = \"20/s\"\nrate_burst = 5",
        )
        .await;
        let rx = Receiver::start().await;
        let to: Vec<Value> = (0..60).map(|_| json!({"webhook_url": rx.url})).collect();
        let started = Instant::now();
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"webhook": {"body": "{}"}}, "to": to}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        // Some wait, visibly.
        let d = accepted["deliveries"][59]["id"].as_str().unwrap();
        let waiting = poll_until(Duration::from_secs(5), || async {
            let v = app.get_json(&format!("/v1/deliveries/{d}")).await;
            (v["reason"] == "rate_limited" || v["status"] == "sent", v)
        })
        .await
        .unwrap();
        assert!(waiting["reason"] == "rate_limited" || waiting["status"] == "sent");
        rx.wait_for(60, Duration::from_secs(20)).await;
        let took = started.elapsed();
        // 5 at once, then 20 a second: about 2.75 s for 60.
        assert!(took >= Duration::from_millis(2_300), "60 sent in {took:?}");
        let peak = busiest_second(&rx);
        assert!(
            peak <= 25,
            "{peak} in one second; the limit is 20/s with a burst of 5"
        );
        for d in accepted["deliveries"].as_array().unwrap() {
            app.wait_for_status(d["id"].as_str().unwrap(), "sent").await;
        }
        // Beyond the burst, nearly every one was held back at least once.
        let waits = crate::metrics::scrape(&app).await.value(
            "missive_rate_limit_waits_total",
            &[
                ("channel", "webhook"),
                ("provider", ""),
                ("reason", "rate_limit"),
            ],
        );
        assert!(waits >= 50.0, "{waits} rate-limit waits counted");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_can_dedup_by_content_and_cap_themselves() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let bad = app
            .put("/v1/templates/t", &json!({"channels": {"webhook": {"body": "{}"}}, "settings": {"dedup_window": "soon", "frequency_cap": "lots"}}))
            .await;
        assert_eq!(bad.status(), 422);
        let p: Value = bad.json().await.unwrap();
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            vec!["settings.dedup_window", "settings.frequency_cap"]
        );

        let t = json!({"channels": {"webhook": {"body": "{\"n\": {{json n}} }"}}, "settings": {"content_dedup": true, "dedup_window": "1h"}});
        assert_eq!(app.put("/v1/templates/same", &t).await.status(), 201);
        assert_eq!(
            app.get_json("/v1/templates/same").await["settings"]["content_dedup"],
            true
        );
        let send = |template: &'static str, n: i64| {
            let body = json!({"template": template, "to": [{"id": "u_1", "webhook_url": rx.url}], "data": {"n": n}});
            let app = &app;
            async move { first_outcome(app, &body).await }
        };
        assert_eq!(send("same", 1).await.0, "queued");
        assert_eq!(
            send("same", 1).await,
            ("suppressed".to_string(), Some("duplicate".to_string()))
        );
        assert_eq!(
            send("same", 2).await.0,
            "queued",
            "different content is not a duplicate"
        );

        let capped = json!({"channels": {"webhook": {"body": "{\"n\": {{json n}} }"}}, "settings": {"frequency_cap": "1/1h"}});
        assert_eq!(app.put("/v1/templates/capped", &capped).await.status(), 201);
        assert_eq!(send("capped", 1).await.0, "queued");
        assert_eq!(
            send("capped", 2).await,
            ("suppressed".to_string(), Some("frequency_cap".to_string()))
        );
        assert_eq!(
            send("same", 3).await.0,
            "queued",
            "another template's sends are not counted"
        );
        rx.wait_for(4, Duration::from_secs(10)).await;
        app.stop().await;
    })
    .await;
}

/// A cap counts the deliveries it applied to: one set on a template
/// counts that template's sends from when it was set, not the ones made
/// while it had none; and a category's cap counts its template-capped
/// sends too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_counts_from_when_it_was_set() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[flow]\nfrequency_caps = { marketing = \"3/1h\" }").await;
        let rx = Receiver::start().await;
        let send = |template: &'static str, category: &'static str| {
            let body = json!({"template": template, "to": [{"id": "u_1", "webhook_url": rx.url}], "category": category});
            let app = &app;
            async move { first_outcome(app, &body).await }
        };
        let body = json!({"webhook": {"body": "{}"}});
        let uncapped = json!({"channels": body});
        assert_eq!(app.put("/v1/templates/t", &uncapped).await.status(), 201);
        for _ in 0..3 {
            assert_eq!(send("t", "transactional").await.0, "queued");
        }
        let capped = json!({"channels": body, "settings": {"frequency_cap": "2/1h"}});
        assert_eq!(app.put("/v1/templates/t", &capped).await.status(), 200);
        assert_eq!(send("t", "transactional").await.0, "queued");
        assert_eq!(send("t", "transactional").await.0, "queued");
        let over = ("suppressed".to_string(), Some("frequency_cap".to_string()));
        assert_eq!(send("t", "transactional").await, over);

        // The category's cap (3 an hour) counts the template-capped sends
        // in it as well as its own.
        assert_eq!(send("t", "marketing").await.0, "queued");
        assert_eq!(app.put("/v1/templates/m", &uncapped).await.status(), 201);
        assert_eq!(send("m", "marketing").await.0, "queued");
        assert_eq!(send("m", "marketing").await.0, "queued");
        assert_eq!(send("m", "marketing").await, over);
        rx.wait_for(8, Duration::from_secs(10)).await;
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_the_workers_have_no_room_for_wait_in_the_queue_and_all_go_out() {
    each_backend(|b| async move {
        // One send at a time and room for two more in memory: most of what
        // is accepted at once must wait in the table and be claimed there.
        let app = spawn_app_with(&b, "[worker]\nconcurrency = 1\nbatch_size = 2").await;
        let rx = Receiver::start_with(
            vec![],
            Answer::status(200).delay(Duration::from_millis(100)),
        )
        .await;
        let answers =
            futures::future::join_all((0..20).map(|n| app.send_webhook(&rx.url, json!({"n": n}))))
                .await;
        let accepted: std::collections::HashSet<String> = answers
            .iter()
            .map(|a| a["deliveries"][0]["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(accepted.len(), 20);
        let queued = app.get_json("/v1/deliveries?status=queued&limit=100").await;
        let waiting = queued["items"].as_array().unwrap().len();
        assert!(
            waiting >= 10,
            "{b:?}: only {waiting} of 20 wait in the queue with room for 3 in the workers"
        );
        // Every one goes out, once.
        let got = rx.wait_for(20, Duration::from_secs(30)).await;
        let ids: std::collections::HashSet<String> = got
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, accepted, "{b:?}");
        for id in &accepted {
            app.wait_for_status(id, "sent").await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 20, "{b:?}: a delivery was sent twice");
        app.stop().await;
    })
    .await;
}
