//! Status events to registered endpoints, end to end on both backends:
//! real receivers on 127.0.0.1 that check each request's Standard Webhooks
//! signature with the secret the endpoint was given (computed here from
//! the specification, not with missive's code); retries on a failing
//! receiver; both signatures during a rotation's grace and the old one
//! refused after it; an endpoint disabled after failing for its period,
//! logged and counted, then enabled and replayed; no rows at all without a
//! subscribed endpoint; bad input named by field.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::metrics::scrape;

/// Registers an endpoint for `types` at `url`; returns (id, secret).
async fn register(app: &TestApp, url: &str, types: Value) -> (String, String) {
    let r = app
        .post("/v1/endpoints", &json!({"url": url, "event_types": types}))
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{body}");
    (body["id"].as_str().unwrap().to_string(), secret)
}

/// Sends one webhook notification to a receiver that takes it; returns
/// (notification id, delivery id).
async fn send_one(app: &TestApp, target: &Receiver) -> (String, String) {
    let accepted = app.send_webhook(&target.url, json!({"n": 1})).await;
    (
        accepted["id"].as_str().unwrap().to_string(),
        accepted["deliveries"][0]["id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

fn body(r: &Received) -> Value {
    serde_json::from_str(&r.body).unwrap()
}

/// Rows in `endpoint_messages`, read straight from the database.
async fn message_rows(app: &TestApp) -> i64 {
    use sqlx::Connection;
    match &app.db.backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}/missive.db", app.db.dir.path().display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_scalar("SELECT COUNT(*) FROM endpoint_messages")
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        Backend::Postgres(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM \"{}\".endpoint_messages",
                app.db.schema
            )))
            .fetch_one(&mut c)
            .await
            .unwrap()
        }
    }
}

async fn patch(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(&app.key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_send_makes_signed_sent_and_completed_events_and_replay_resends() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let hooks = Receiver::start().await;
        let target = Receiver::start().await;
        let (id, secret) = register(
            &app,
            &hooks.url,
            json!(["delivery.sent", "notification.completed"]),
        )
        .await;
        let (notification, delivery) = send_one(&app, &target).await;
        let got = hooks.wait_for(2, Duration::from_secs(20)).await;
        let mut types: Vec<String> = got
            .iter()
            .map(|r| body(r)["type"].as_str().unwrap().to_string())
            .collect();
        types.sort();
        assert_eq!(types, ["delivery.sent", "notification.completed"]);
        for r in &got {
            assert!(
                verify_signature(&secret, r),
                "signed with the endpoint's secret"
            );
            assert!(!verify_signature(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                r
            ));
            let b = body(r);
            assert_eq!(b["data"]["notification_id"], notification.as_str());
            if b["type"] == "delivery.sent" {
                assert_eq!(b["data"]["delivery_id"], delivery.as_str());
                assert_eq!(b["data"]["status"], "sent");
                assert_eq!(b["data"]["channel"], "webhook");
            }
        }
        // The secret is never shown again: only its start.
        let shown = app.get_json(&format!("/v1/endpoints/{id}")).await;
        assert!(shown.get("secret").is_none(), "{shown}");
        assert!(secret.starts_with(
            shown["secret_prefix"]
                .as_str()
                .unwrap()
                .trim_end_matches('…')
        ));
        let listed = app.get("/v1/endpoints").await.text().await.unwrap();
        assert!(!listed.contains(&secret[6..]), "{listed}");

        // Each attempt is in the endpoint's log, and counted.
        let attempts = poll_until(Duration::from_secs(10), || async {
            let a = app.get_json(&format!("/v1/endpoints/{id}/attempts")).await;
            (a["items"].as_array().unwrap().len() >= 2, a)
        })
        .await
        .unwrap_or_else(|a| panic!("attempts never recorded: {a}"));
        let items = attempts["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{attempts}");
        assert!(items
            .iter()
            .all(|a| a["outcome"] == "ok" && a["status_code"] == 200));
        let m = scrape(&app).await;
        assert_eq!(
            m.value("missive_event_attempts_total", &[("outcome", "ok")]),
            2.0
        );

        // The console lists the endpoint and its attempts, without the secret.
        let console = crate::console::ConsoleClient::new(&app);
        console.sign_in(&app.key).await;
        let (status, page) = console.page("/console/endpoints").await;
        assert_eq!(status, 200);
        assert!(page.contains(&hooks.url) && page.contains(&id), "{page}");
        assert!(page.contains("notification.completed"));
        assert!(!page.contains(&secret[6..]));
        assert!(
            page.matches("badge s-sent").count() >= 3,
            "enabled, and two ok attempts"
        );

        // Replaying one message sends it again, with the same id.
        let messages = app.get_json(&format!("/v1/endpoints/{id}/messages")).await;
        let sent = messages["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["type"] == "delivery.sent")
            .unwrap()
            .clone();
        assert_eq!(sent["state"], "succeeded");
        let mid = sent["id"].as_str().unwrap();
        let r = app
            .post(
                &format!("/v1/endpoints/{id}/replay"),
                &json!({"message_id": mid}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let again = hooks.wait_for(3, Duration::from_secs(20)).await;
        let last = again.last().unwrap();
        assert_eq!(last.headers["webhook-id"].to_str().unwrap(), mid);
        assert!(verify_signature(&secret, last));
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_until_it_takes_the_event() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let hooks = Receiver::start_with(
            vec![Answer::status(500), Answer::status(503)],
            Answer::status(200),
        )
        .await;
        let target = Receiver::start().await;
        let (id, secret) = register(&app, &hooks.url, json!(["delivery.sent"])).await;
        send_one(&app, &target).await;
        let got = hooks.wait_for(3, Duration::from_secs(20)).await;
        let first = got[0].headers["webhook-id"].to_str().unwrap().to_string();
        assert!(got
            .iter()
            .all(|r| r.headers["webhook-id"] == first.as_str()));
        assert!(got.iter().all(|r| verify_signature(&secret, r)));
        assert!(
            got.iter().all(|r| r.body == got[0].body),
            "the same body on every attempt"
        );
        let done = poll_until(Duration::from_secs(10), || async {
            let m = app.get_json(&format!("/v1/endpoints/{id}/messages")).await;
            (m["items"][0]["state"] == "succeeded", m)
        })
        .await;
        let m = done.unwrap_or_else(|m| panic!("never succeeded: {m}"));
        assert_eq!(m["items"][0]["attempts"], 3);
        let log = app.get_json(&format!("/v1/endpoints/{id}/attempts")).await;
        let outcomes: Vec<&str> = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(outcomes, ["ok", "failed", "failed"], "{log}");
        // A success ends the endpoint's failing run.
        let e = app.get_json(&format!("/v1/endpoints/{id}")).await;
        assert_eq!(e["failing_since"], Value::Null);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_rotation_signs_with_both_secrets_during_its_grace_only() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[events]\nsecret_grace = \"2s\"").await;
        let hooks = Receiver::start().await;
        let target = Receiver::start().await;
        let (id, old) = register(&app, &hooks.url, json!(["delivery.sent"])).await;
        let r = app
            .post(&format!("/v1/endpoints/{id}/rotate-secret"), &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        let rotated: Value = r.json().await.unwrap();
        let new = rotated["secret"].as_str().unwrap().to_string();
        assert_ne!(new, old);
        assert!(rotated["previous_secret_until"].is_string(), "{rotated}");

        send_one(&app, &target).await;
        let got = hooks.wait_for(1, Duration::from_secs(20)).await;
        assert!(verify_signature(&new, &got[0]), "the new secret signs");
        assert!(
            verify_signature(&old, &got[0]),
            "the old one too, during the grace"
        );
        assert_eq!(
            got[0].headers["webhook-signature"]
                .to_str()
                .unwrap()
                .split(' ')
                .count(),
            2
        );

        tokio::time::sleep(Duration::from_millis(2100)).await;
        send_one(&app, &target).await;
        let got = hooks.wait_for(2, Duration::from_secs(20)).await;
        assert!(verify_signature(&new, &got[1]));
        assert!(
            !verify_signature(&old, &got[1]),
            "the old secret no longer signs"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_endpoint_failing_for_its_period_is_disabled_then_enabled_and_replayed() {
    each_backend(|b| async move {
        let app = spawn_app_with(
            &b,
            "[events]\ndisable_after = \"1s\"\n[channels.webhook]\nretry_schedule = [\"300ms\", \"300ms\", \"300ms\", \"300ms\", \"300ms\", \"300ms\"]",
        )
        .await;
        let down = Receiver::start_with(vec![], Answer::status(500)).await;
        let target = Receiver::start().await;
        let (id, secret) = register(&app, &down.url, json!(["delivery.sent"])).await;
        send_one(&app, &target).await;
        let disabled = poll_until(Duration::from_secs(20), || async {
            let e = app.get_json(&format!("/v1/endpoints/{id}")).await;
            (e["enabled"] == false, e)
        })
        .await
        .unwrap_or_else(|e| panic!("never disabled: {e}"));
        assert!(disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("disable_after"));
        let log = app.get_json(&format!("/v1/endpoints/{id}/attempts")).await;
        let items = log["items"].as_array().unwrap();
        assert_eq!(items[0]["outcome"], "disabled", "{log}");
        assert!(items[1..].iter().all(|a| a["outcome"] == "failed"));
        assert_eq!(scrape(&app).await.value("missive_endpoints_disabled_total", &[]), 1.0);
        let tried = down.count();
        assert!(tried >= 2, "{tried}");
        let msgs = app.get_json(&format!("/v1/endpoints/{id}/messages")).await;
        assert_eq!(msgs["items"][0]["state"], "failed", "{msgs}");

        // Disabled: later events are not even written for it.
        let before = message_rows(&app).await;
        let (_, d) = send_one(&app, &target).await;
        app.wait_for_status(&d, "sent").await;
        assert_eq!(message_rows(&app).await, before);

        // Moved to a working receiver and enabled, the failed message is
        // replayed there.
        let up = Receiver::start().await;
        let r = patch(
            &app,
            &format!("/v1/endpoints/{id}"),
            &json!({"url": up.url, "enabled": true}),
        )
        .await;
        assert_eq!(r.status(), 200);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["enabled"], true);
        assert_eq!(e["failing_since"], Value::Null);
        let r = app
            .post(
                &format!("/v1/endpoints/{id}/replay"),
                &json!({"since": "2000-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let replayed: Value = r.json().await.unwrap();
        assert_eq!(replayed["replayed"], 1);
        let got = up.wait_for(1, Duration::from_secs(20)).await;
        assert!(verify_signature(&secret, &got[0]));
        assert_eq!(body(&got[0])["type"], "delivery.sent");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn without_a_subscribed_endpoint_no_event_row_is_written() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let target = Receiver::start().await;
        let (_, d) = send_one(&app, &target).await;
        app.wait_for_status(&d, "sent").await;
        assert_eq!(message_rows(&app).await, 0);

        // An endpoint for other types: still nothing written.
        let hooks = Receiver::start().await;
        register(&app, &hooks.url, json!(["delivery.failed"])).await;
        let (_, d) = send_one(&app, &target).await;
        app.wait_for_status(&d, "sent").await;
        assert_eq!(message_rows(&app).await, 0);

        // Disabled endpoints hear nothing either.
        let (id, _) = register(&app, &hooks.url, json!(["delivery.sent"])).await;
        let r = patch(
            &app,
            &format!("/v1/endpoints/{id}"),
            &json!({"enabled": false}),
        )
        .await;
        assert_eq!(r.status(), 200);
        let (_, d) = send_one(&app, &target).await;
        app.wait_for_status(&d, "sent").await;
        assert_eq!(message_rows(&app).await, 0);
        assert_eq!(hooks.count(), 0);

        // Deleting an endpoint: 204, then 404.
        let r = app
            .client
            .delete(app.url(&format!("/v1/endpoints/{id}")))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(app.get(&format!("/v1/endpoints/{id}")).await.status(), 404);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_lost_claim_writes_no_event() {
    // The outcome of an attempt whose claim was lost (its lease ended and
    // another worker took the delivery) changes nothing, so it must send
    // nothing: the event is written by the outcome's own statement, only
    // where that statement changes the delivery.
    each_backend(|b| async move {
        use missive::store::{AttemptRow, Completion};
        let app = spawn_app(&b).await;
        let hooks = Receiver::start().await;
        register(
            &app,
            &hooks.url,
            json!(["delivery.sent", "delivery.failed"]),
        )
        .await;
        // A delivery waiting a day: no worker touches it.
        let r = app
            .post(
                "/v1/notifications",
                &json!({
                    "content": {"webhook": {"body": "{\"n\": 1}"}},
                    "to": [{"webhook_url": "http://127.0.0.1:9/never"}],
                    "send_at": "2099-01-01T00:00:00Z",
                }),
            )
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        let d = accepted["deliveries"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let now = missive::util::now_ms();
        app.state
            .store
            .complete(
                &[Completion {
                    delivery_id: d.clone(),
                    claim_token: "not-the-claim".into(),
                    status: "sent",
                    reason: None,
                    due_at: None,
                    attempt: AttemptRow {
                        delivery_id: d.clone(),
                        number: 1,
                        provider: "webhook".into(),
                        started_at: now,
                        duration_ms: 1,
                        outcome: "ok".into(),
                        status_code: Some(200),
                        response: None,
                        error: None,
                    },
                    template: None,
                    channel: "webhook".into(),
                    accepted_at: now,
                    trace: None,
                }],
                now,
            )
            .await
            .unwrap();
        let still = app.get_json(&format!("/v1/deliveries/{d}")).await;
        assert_eq!(still["status"], "scheduled");
        assert_eq!(message_rows(&app).await, 0);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(hooks.count(), 0);
        app.stop().await;
    })
    .await;
}

/// The problem+json answer's first field.
async fn field_of(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 422);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
    let p: Value = r.json().await.unwrap();
    p["errors"][0]["field"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn bad_input_is_named_by_field() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let hooks = Receiver::start().await;
        let cases = [
            (json!({"url": "ftp://example.com/x"}), "url"),
            (json!({}), "url"),
            (json!({"url": "https://u:p@example.com/x"}), "url"),
            (
                json!({"url": format!("https://example.com/{}", "a".repeat(3000))}),
                "url",
            ),
            (
                json!({"url": hooks.url, "event_types": ["delivery.sent", "nope"]}),
                "event_types[1]",
            ),
            (json!({"url": hooks.url, "event_types": []}), "event_types"),
            (
                json!({"url": hooks.url, "secret": "whsec_c2hvcnQ="}),
                "secret",
            ),
            (
                json!({"url": hooks.url, "description": "d".repeat(2000)}),
                "description",
            ),
            (json!({"url": hooks.url, "colour": "red"}), "colour"),
        ];
        for (body, field) in cases {
            let r = app.post("/v1/endpoints", &body).await;
            assert_eq!(field_of(r).await, field, "{body}");
        }
        assert_eq!(app.get_json("/v1/endpoints").await["items"], json!([]));

        let (id, _) = register(&app, &hooks.url, Value::Null).await;
        let e = app.get_json(&format!("/v1/endpoints/{id}")).await;
        assert_eq!(e["event_types"], Value::Null, "every type");
        let r = patch(
            &app,
            &format!("/v1/endpoints/{id}"),
            &json!({"url": "nope"}),
        )
        .await;
        assert_eq!(field_of(r).await, "url");
        let r = app
            .post(&format!("/v1/endpoints/{id}/replay"), &json!({}))
            .await;
        assert_eq!(field_of(r).await, "message_id");
        let r = app
            .post(
                &format!("/v1/endpoints/{id}/replay"),
                &json!({"since": "yesterday"}),
            )
            .await;
        assert_eq!(field_of(r).await, "since");
        let r = app
            .post(
                &format!("/v1/endpoints/{id}/rotate-secret"),
                &json!({"secret": "x"}),
            )
            .await;
        assert_eq!(field_of(r).await, "secret");
        let r = app
            .get(&format!("/v1/endpoints/{id}/messages?limit=0"))
            .await;
        assert_eq!(field_of(r).await, "limit");
        let r = app
            .get(&format!("/v1/endpoints/{id}/messages?state=lost"))
            .await;
        assert_eq!(field_of(r).await, "state");
        let r = app
            .post("/v1/endpoints/nope/replay", &json!({"message_id": "m"}))
            .await;
        assert_eq!(r.status(), 404);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_url_on_a_private_address_is_refused_unless_allowed() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[channels.webhook]\nallow_private = false").await;
        let r = app
            .post("/v1/endpoints", &json!({"url": "http://127.0.0.1:9/hook"}))
            .await;
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], "url");
        assert!(
            p["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("channels.webhook.allow_private"),
            "{p}"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn receipts_and_in_app_reads_make_their_events() {
    use crate::receipts::{email_config, post_events, SG_SECRET};
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let app = spawn_app_with(&b, &email_config(server.port)).await;
        let hooks = Receiver::start().await;
        let (_, secret) = register(
            &app,
            &hooks.url,
            json!(["delivery.delivered", "delivery.bounced", "delivery.read"]),
        )
        .await;
        // A provider's receipts: delivered, then bounced for another.
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"email": {"subject": "Hi", "text": "Hello"}},
                        "to": [{"email": "ana@example.com"}, {"email": "bo@example.com"}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        let ana = accepted["deliveries"][0]["id"].as_str().unwrap().to_string();
        let bo = accepted["deliveries"][1]["id"].as_str().unwrap().to_string();
        app.wait_for_status(&ana, "sent").await;
        app.wait_for_status(&bo, "sent").await;
        let r = post_events(
            &app,
            "sendgrid",
            Some(("missive", SG_SECRET)),
            &json!([
                {"event": "delivered", "missive_delivery": ana},
                {"event": "bounce", "type": "bounce", "reason": "550 no such user", "missive_delivery": bo},
            ]),
        )
        .await;
        assert_eq!(r.status(), 200);
        let got = hooks.wait_for(2, Duration::from_secs(20)).await;
        let mut seen: Vec<(String, String)> = got
            .iter()
            .map(|r| {
                assert!(verify_signature(&secret, r));
                let b = body(r);
                (
                    b["type"].as_str().unwrap().to_string(),
                    b["data"]["delivery_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("delivery.bounced".to_string(), bo.clone()),
                ("delivery.delivered".to_string(), ana.clone())
            ]
        );

        // An in-app message read by its recipient.
        let r = app.put("/v1/recipients/u_1", &json!({})).await;
        assert!(r.status().is_success());
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"in_app": {"title": "Hi", "body": "Shipped"}}, "to": [{"id": "u_1"}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        let d = accepted["deliveries"][0]["id"].as_str().unwrap().to_string();
        app.wait_for_status(&d, "sent").await;
        let inbox = app.get_json("/v1/recipients/u_1/inbox").await;
        let m = inbox["items"][0]["id"].as_str().unwrap().to_string();
        let r = app
            .post(&format!("/v1/recipients/u_1/inbox/{m}/read"), &json!({}))
            .await;
        assert!(r.status().is_success());
        let got = hooks.wait_for(3, Duration::from_secs(20)).await;
        let read = body(&got[2]);
        assert_eq!(read["type"], "delivery.read");
        assert_eq!(read["data"]["delivery_id"], d.as_str());
        // Reading it again is no change, and no event.
        app.post(&format!("/v1/recipients/u_1/inbox/{m}/read"), &json!({}))
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(hooks.count(), 3);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_outcome_rolled_back_sends_no_event_until_it_is_written() {
    // The outcome's transaction fails (a trigger refuses its attempt row):
    // its event is rolled back with it and nothing is sent. Once the
    // outcome can be written, it is, and its event with it.
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let hooks = Receiver::start().await;
        let target = Receiver::start().await;
        let (_, secret) = register(&app, &hooks.url, json!(["delivery.sent"])).await;
        app.db.refuse_attempt_rows().await;
        let (_, d) = send_one(&app, &target).await;
        target.wait_for(1, Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = app.get_json(&format!("/v1/deliveries/{d}")).await;
        assert_eq!(now["status"], "sending", "the outcome is not written");
        assert_eq!(message_rows(&app).await, 0);
        assert_eq!(hooks.count(), 0);

        app.db.allow_attempt_rows().await;
        app.wait_for_status(&d, "sent").await;
        let got = hooks.wait_for(1, Duration::from_secs(20)).await;
        assert!(verify_signature(&secret, &got[0]));
        assert_eq!(body(&got[0])["data"]["delivery_id"], d.as_str());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn reading_endpoints_needs_read_and_changing_them_admin() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let hooks = Receiver::start().await;
        let (id, _) = register(&app, &hooks.url, Value::Null).await;
        for (scopes, read, change) in [
            ("read", 200, 403),
            ("send", 403, 403),
            ("templates", 403, 403),
        ] {
            let key = crate::authz::make_key(&app, scopes).await;
            let get = |path: String| {
                let key = key.clone();
                let app = &app;
                async move {
                    app.client
                        .get(app.url(&path))
                        .bearer_auth(&key)
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                }
            };
            assert_eq!(get("/v1/endpoints".into()).await, read, "{scopes}");
            assert_eq!(
                get(format!("/v1/endpoints/{id}/attempts")).await,
                read,
                "{scopes}"
            );
            for (path, body) in [
                ("/v1/endpoints".to_string(), json!({"url": hooks.url})),
                (format!("/v1/endpoints/{id}/rotate-secret"), json!({})),
                (
                    format!("/v1/endpoints/{id}/replay"),
                    json!({"since": "2000-01-01T00:00:00Z"}),
                ),
            ] {
                let r = app
                    .client
                    .post(app.url(&path))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), change, "{scopes} {path}");
            }
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn cancelling_the_last_waiting_delivery_completes_its_notification() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let hooks = Receiver::start().await;
        let target = Receiver::start().await;
        let (_, secret) = register(&app, &hooks.url, json!(["notification.completed"])).await;
        let r = app
            .post(
                "/v1/notifications",
                &json!({
                    "content": {"webhook": {"body": "{\"n\": 1}"}},
                    "to": [{"webhook_url": target.url}],
                    "send_at": "2099-01-01T00:00:00Z",
                }),
            )
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        let n = accepted["id"].as_str().unwrap().to_string();
        let d = accepted["deliveries"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(hooks.count(), 0, "a waiting delivery completes nothing");
        let r = app
            .post(&format!("/v1/deliveries/{d}/cancel"), &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        let got = hooks.wait_for(1, Duration::from_secs(20)).await;
        assert!(verify_signature(&secret, &got[0]));
        let b = body(&got[0]);
        assert_eq!(b["type"], "notification.completed");
        assert_eq!(b["data"]["notification_id"], n.as_str());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_notification_finished_as_it_is_accepted_completes_at_once() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let hooks = Receiver::start().await;
        let (_, secret) = register(&app, &hooks.url, json!(["notification.completed"])).await;
        // A recipient opted out of webhooks: the one delivery is suppressed
        // when the send is accepted, so no worker will ever finish it.
        let r = app
            .put(
                "/v1/recipients/quiet",
                &json!({"webhook_url": "https://erp.example.com/h",
                        "preferences": {"channels": {"webhook": false}}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"webhook": {"body": "{\"n\": 1}"}}, "to": [{"id": "quiet"}]}),
            )
            .await;
        let accepted: Value = r.json().await.unwrap();
        assert_eq!(
            accepted["deliveries"][0]["status"], "suppressed",
            "{accepted:#}"
        );
        let got = hooks.wait_for(1, Duration::from_secs(20)).await;
        assert!(verify_signature(&secret, &got[0]));
        let b = body(&got[0]);
        assert_eq!(b["type"], "notification.completed");
        assert_eq!(b["data"]["notification_id"], accepted["id"]);
        // Once.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(hooks.count(), 1);
        app.stop().await;
    })
    .await;
}
