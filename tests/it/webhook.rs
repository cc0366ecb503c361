//! Webhook delivery end to end: signing, outcomes, retries, Retry-After,
//! timeouts, the private-address guard, cancel and manual retry.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

fn secret(app: &TestApp) -> String {
    app.state.config.webhook.signing_secret.clone()
}

fn delivery_id(accepted: &Value) -> String {
    accepted["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_the_rendered_body_signed_per_standard_webhooks() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let accepted = app
            .send_webhook(&rx.url, json!({"n": "Ana \"the\" <b>"}))
            .await;
        let id = delivery_id(&accepted);
        let got = rx.wait_for(1, Duration::from_secs(10)).await;
        let r = &got[0];
        assert_eq!(r.headers["webhook-id"], id.as_str());
        assert_eq!(r.headers["content-type"], "application/json");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body, json!({"n": "Ana \"the\" <b>"}));
        assert!(verify_signature(&secret(&app), r), "signature must verify");
        let ts: i64 = r.headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((ts - chrono::Utc::now().timestamp()).abs() < 30);

        let d = app.wait_for_status(&id, "sent").await;
        assert_eq!(d["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(d["attempts"][0]["outcome"], "ok");
        assert_eq!(d["attempts"][0]["status_code"], 200);
        assert_eq!(d["content"]["body"], r.body.as_str());
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_body_part_an_envelope_is_sent() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let r = app
            .put(
                "/v1/templates/welcome",
                &json!({"channels": {"sms": {"text": "Hi {{name}}"}}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let r = app
            .post(
                "/v1/notifications",
                &json!({"template": "welcome", "to": [{"id": "u_1", "webhook_url": rx.url}],
                        "channels": ["webhook"], "data": {"name": "Ana"}}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        let got = rx.wait_for(1, Duration::from_secs(10)).await;
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(body["notification_id"], accepted["id"]);
        assert_eq!(body["template"], "welcome");
        assert_eq!(body["recipient"]["id"], "u_1");
        assert_eq!(body["data"], json!({"name": "Ana"}));
        assert!(verify_signature(&secret(&app), &got[0]));
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_until_sent_with_every_attempt_recorded() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start_with(
            vec![
                Answer::status(503).body("busy"),
                Answer::status(503).body("still busy"),
            ],
            Answer::status(200).body("thanks"),
        )
        .await;
        let id = delivery_id(&app.send_webhook(&rx.url, json!({"n": 1})).await);
        let d = app.wait_for_status(&id, "sent").await;
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 3, "{d:#}");
        assert_eq!(
            attempts
                .iter()
                .map(|a| a["number"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(attempts[0]["outcome"], "transient");
        assert_eq!(attempts[0]["status_code"], 503);
        assert_eq!(attempts[0]["response"], "busy");
        assert_eq!(attempts[1]["response"], "still busy");
        assert_eq!(attempts[2]["outcome"], "ok");
        assert_eq!(attempts[2]["response"], "thanks");
        // The same webhook-id on every try, so receivers can dedupe.
        let got = rx.received();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|r| r.headers["webhook-id"] == id.as_str()));
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_error_fails_at_once() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start_with(vec![], Answer::status(400).body("bad payload")).await;
        let id = delivery_id(&app.send_webhook(&rx.url, json!({"n": 1})).await);
        let d = app.wait_for_status(&id, "failed").await;
        assert_eq!(d["reason"], "permanent_error");
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0]["outcome"], "permanent");
        assert_eq!(attempts[0]["status_code"], 400);
        assert_eq!(attempts[0]["response"], "bad payload");
        // Nothing more is sent.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_run_out_into_failed() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start_with(vec![], Answer::status(500)).await;
        let id = delivery_id(&app.send_webhook(&rx.url, json!({"n": 1})).await);
        let d = app.wait_for_status(&id, "failed").await;
        assert_eq!(d["reason"], "retries_exhausted");
        // The test schedule has three retries: four attempts in all.
        assert_eq!(d["attempts"].as_array().unwrap().len(), 4);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_is_a_recorded_transient_timeout() {
    each_backend(|b| async move {
        let app = spawn_app_with(
            &b,
            "[channels.webhook]\ntimeout = \"300ms\"\nretry_schedule = [\"50ms\"]",
        )
        .await;
        let rx = Receiver::start_with(
            vec![Answer::status(200).delay(Duration::from_secs(5))],
            Answer::status(200),
        )
        .await;
        let id = delivery_id(&app.send_webhook(&rx.url, json!({"n": 1})).await);
        let d = app.wait_for_status(&id, "sent").await;
        let a = d["attempts"].as_array().unwrap();
        assert_eq!(a.len(), 2, "{d:#}");
        assert_eq!(a[0]["outcome"], "transient");
        assert!(
            a[0]["error"].as_str().unwrap().contains("timed out"),
            "{:#}",
            a[0]
        );
        assert!(a[0]["status_code"].is_null());
        let ms = a[0]["duration_ms"].as_i64().unwrap();
        assert!((250..2000).contains(&ms), "took {ms} ms");
        app.stop().await;
    })
    .await;
}

/// A receiver that answers `200` with a `Content-Length` of 100, sends
/// seven bytes of it and then nothing, holding the connection open.
async fn stalling_receiver() -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                .await;
            held.push(sock);
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_whose_body_stalls_keeps_its_status_and_records_the_timeout() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[channels.webhook]\ntimeout = \"300ms\"").await;
        let (url, task) = stalling_receiver().await;
        let id = delivery_id(&app.send_webhook(&url, json!({"n": 1})).await);
        // The receiver said 200: the delivery is sent, not sent again.
        let d = app.wait_for_status(&id, "sent").await;
        let a = d["attempts"].as_array().unwrap();
        assert_eq!(a.len(), 1, "{d:#}");
        assert_eq!(a[0]["outcome"], "ok");
        assert_eq!(a[0]["status_code"], 200);
        let err = a[0]["error"].as_str().unwrap_or_default();
        assert!(
            err.contains("reading the answer") && err.contains("timed out"),
            "{:#}",
            a[0]
        );
        let ms = a[0]["duration_ms"].as_i64().unwrap();
        assert!((250..2000).contains(&ms), "took {ms} ms");
        task.abort();
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_respected() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start_with(
            vec![Answer::status(429).header("retry-after", "1")],
            Answer::status(200),
        )
        .await;
        let id = delivery_id(&app.send_webhook(&rx.url, json!({"n": 1})).await);
        let d = app.wait_for_status(&id, "sent").await;
        assert_eq!(d["attempts"][0]["status_code"], 429);
        assert_eq!(d["attempts"][0]["outcome"], "transient");
        let got = rx.received();
        assert_eq!(got.len(), 2);
        let gap = got[1].at - got[0].at;
        // The schedule says 10 ms; the receiver asked for 1 s.
        assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
        let pauses = crate::metrics::scrape(&app).await.value(
            "missive_rate_limit_waits_total",
            &[
                ("channel", "webhook"),
                ("provider", "webhook"),
                ("reason", "provider_pause"),
            ],
        );
        assert_eq!(pauses, 1.0);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_unless_allowed() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[channels.webhook]\nallow_private = false").await;
        let rx = Receiver::start().await;
        let id = delivery_id(&app.send_webhook(&rx.url, json!({"n": 1})).await);
        let d = app.wait_for_status(&id, "failed").await;
        let err = d["attempts"][0]["error"].as_str().unwrap();
        assert!(err.contains("allow_private"), "{err}");
        assert_eq!(d["attempts"][0]["outcome"], "permanent");
        // A name that resolves to loopback is refused too.
        let by_name = rx.url.replace("127.0.0.1", "localhost");
        let id = delivery_id(&app.send_webhook(&by_name, json!({"n": 1})).await);
        let d = app.wait_for_status(&id, "failed").await;
        assert!(d["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("allow_private"));
        assert_eq!(rx.count(), 0, "nothing may reach a private address");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_scheduled_delivery_and_retry_requeues_a_failed_one() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start_with(vec![Answer::status(400)], Answer::status(200)).await;

        // Scheduled for later: cancellable, never sent.
        let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let r = app
            .post("/v1/notifications", &json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": rx.url}], "send_at": later}))
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        assert_eq!(accepted["deliveries"][0]["status"], "scheduled");
        let scheduled = delivery_id(&accepted);
        let r = app
            .post(&format!("/v1/deliveries/{scheduled}/cancel"), &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "cancelled");
        // Cancelling twice is a conflict; retrying a cancelled one too.
        assert_eq!(
            app.post(&format!("/v1/deliveries/{scheduled}/cancel"), &json!({}))
                .await
                .status(),
            409
        );
        assert_eq!(
            app.post(&format!("/v1/deliveries/{scheduled}/retry"), &json!({}))
                .await
                .status(),
            409
        );
        assert_eq!(
            app.post("/v1/deliveries/nope/cancel", &json!({}))
                .await
                .status(),
            404
        );

        // Fails permanently first, then a manual retry sends it.
        let id = delivery_id(&app.send_webhook(&rx.url, json!({"n": 1})).await);
        app.wait_for_status(&id, "failed").await;
        let r = app
            .post(&format!("/v1/deliveries/{id}/retry"), &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        let d = app.wait_for_status(&id, "sent").await;
        // The 400, the retry's audit entry, the 200.
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 3, "{d:#}");
        assert_eq!(attempts[0]["status_code"], 400);
        assert_eq!(attempts[1]["provider"], "operator");
        assert_eq!(attempts[1]["outcome"], "requeued");
        assert!(
            attempts[1]["error"]
                .as_str()
                .unwrap()
                .starts_with("re-queued by POST /v1/deliveries/{id}/retry (API key "),
            "{d:#}"
        );
        assert_eq!(attempts[2]["outcome"], "ok");
        assert_eq!(rx.count(), 2, "the cancelled delivery was never sent");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_filters_and_pages_newest_first() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let ok = Receiver::start().await;
        let bad = Receiver::start_with(vec![], Answer::status(404)).await;
        let mut sent = vec![];
        for i in 0..5 {
            sent.push(delivery_id(
                &app.send_webhook(&ok.url, json!({"n": i})).await,
            ));
        }
        let failed = delivery_id(&app.send_webhook(&bad.url, json!({"n": 9})).await);
        app.wait_for_status(&failed, "failed").await;
        for id in &sent {
            app.wait_for_status(id, "sent").await;
        }
        let page1 = app.get_json("/v1/deliveries?status=sent&limit=3").await;
        let ids: Vec<&str> = page1["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            vec![sent[4].as_str(), sent[3].as_str(), sent[2].as_str()]
        );
        let cursor = page1["next_cursor"].as_str().unwrap();
        let page2 = app
            .get_json(&format!(
                "/v1/deliveries?status=sent&limit=3&cursor={cursor}"
            ))
            .await;
        let ids: Vec<&str> = page2["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![sent[1].as_str(), sent[0].as_str()]);
        assert!(page2["next_cursor"].is_null());

        let f = app.get_json("/v1/deliveries?status=failed").await;
        assert_eq!(f["items"].as_array().unwrap().len(), 1);
        assert_eq!(f["items"][0]["id"], failed.as_str());
        let by_recipient = app
            .get_json(&format!("/v1/deliveries?recipient={}", urlencode(&bad.url)))
            .await;
        assert_eq!(by_recipient["items"].as_array().unwrap().len(), 1);
        let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let none = app
            .get_json(&format!("/v1/deliveries?since={}", urlencode(&future)))
            .await;
        assert!(none["items"].as_array().unwrap().is_empty());
        let all = app
            .get_json(&format!(
                "/v1/deliveries?channel=webhook&until={}",
                urlencode(&future)
            ))
            .await;
        assert_eq!(all["items"].as_array().unwrap().len(), 6);

        // The notification shows its deliveries.
        let n = app.get_json(&format!("/v1/deliveries/{failed}")).await["notification_id"]
            .as_str()
            .unwrap()
            .to_string();
        let n = app.get_json(&format!("/v1/notifications/{n}")).await;
        assert_eq!(n["deliveries"][0]["id"], failed.as_str());
        assert_eq!(n["data"], json!({"n": 9}));
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_recipients_fans_out_to_one_delivery_each() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let to: Vec<Value> = (0..250).map(|_| json!({"webhook_url": rx.url})).collect();
        let r = app
            .post("/v1/notifications", &json!({"content": {"webhook": {"body": "{\"n\": {{json n}} }"}}, "to": to, "data": {"n": 5}}))
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        assert_eq!(accepted["deliveries"].as_array().unwrap().len(), 250);
        let got = rx.wait_for(250, Duration::from_secs(20)).await;
        let mut ids: Vec<String> = got
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 250);
        app.stop().await;
    })
    .await;
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
