//! Recipient profiles: validation, storage, and their use when sending.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_are_validated_stored_and_deleted() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let profile = json!({
            "email": "ana@example.com", "phone": "+8613800000000", "webhook_url": "https://erp.example.com/h",
            "locale": "zh-CN", "timezone": "Asia/Shanghai",
            "preferences": {"channels": {"sms": false}, "categories": {"marketing": false}},
            "quiet_hours": {"start": "22:00", "end": "08:00"}
        });
        assert_eq!(app.put("/v1/recipients/u_42", &profile).await.status(), 201);
        assert_eq!(app.put("/v1/recipients/u_42", &profile).await.status(), 200);
        let got = app.get_json("/v1/recipients/u_42").await;
        assert_eq!(got["phone"], "+8613800000000");
        assert_eq!(got["preferences"]["channels"]["sms"], false);
        assert_eq!(got["quiet_hours"]["start"], "22:00");

        let bad = json!({"phone": "12345", "timezone": "Mars/Olympus", "email": "nope", "quiet_hours": {"start": "25:00", "end": "08:00"},
                         "preferences": {"channels": {"fax": true}, "categories": {"spam": false}}});
        let r = app.put("/v1/recipients/u_bad", &bad).await;
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        let mut fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            vec![
                "email",
                "phone",
                "preferences.categories.spam",
                "preferences.channels.fax",
                "quiet_hours.start",
                "timezone"
            ]
        );
        assert_eq!(app.get("/v1/recipients/u_bad").await.status(), 404);

        let del = |id: &str| {
            app.client
                .delete(app.url(&format!("/v1/recipients/{id}")))
                .bearer_auth(&app.key)
                .send()
        };
        assert_eq!(del("u_42").await.unwrap().status(), 204);
        assert_eq!(del("u_42").await.unwrap().status(), 404);
        assert_eq!(app.get("/v1/recipients/u_42").await.status(), 404);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_profile_supplies_addresses_and_inline_fields_override_it() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let stored = Receiver::start().await;
        let inline = Receiver::start().await;
        app.put("/v1/recipients/u_1", &json!({"webhook_url": stored.url}))
            .await;
        app.put("/v1/recipients/u_2", &json!({"webhook_url": stored.url}))
            .await;
        app.put("/v1/recipients/u_bare", &json!({})).await;
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"webhook": {"body": "{}"}}, "to": [{"id": "u_1"}, {"id": "u_2", "webhook_url": inline.url}, {"id": "u_bare"}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let a: Value = r.json().await.unwrap();
        let d = a["deliveries"].as_array().unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0]["recipient"], "u_1");
        // A stored profile without the channel's address is suppressed.
        assert_eq!(d[2]["status"], "suppressed");
        assert_eq!(d[2]["reason"], "no_address");
        stored.wait_for(1, Duration::from_secs(10)).await;
        inline.wait_for(1, Duration::from_secs(10)).await;
        let log = app.get_json("/v1/deliveries?recipient=u_2").await;
        assert_eq!(log["items"][0]["address"], inline.url.as_str());

        // Nobody reachable at all: 422, nothing queued.
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"webhook": {"body": "{}"}}, "to": [{"id": "u_bare"}]}),
            )
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(r.json::<Value>().await.unwrap()["errors"][0]["field"], "to");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_suppress_and_quiet_hours_delay_except_for_auth() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        // Quiet all day long, whatever the hour: 00:00 to 23:59.
        app.put(
            "/v1/recipients/u_q",
            &json!({"webhook_url": rx.url, "timezone": "Asia/Shanghai", "quiet_hours": {"start": "00:00", "end": "23:59"},
                    "preferences": {"categories": {"marketing": false}, "channels": {}}}),
        )
        .await;
        app.put("/v1/recipients/u_w", &json!({"webhook_url": rx.url, "timezone": "Asia/Shanghai", "quiet_hours": {"start": "00:00", "end": "23:59"}}))
            .await;
        let a = &app;
        let send = |to: &str, category: &str, priority: &str| {
            let body = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"id": to}], "category": category, "priority": priority});
            async move {
                let r = a.post("/v1/notifications", &body).await;
                assert_eq!(r.status(), 202);
                r.json::<Value>().await.unwrap()["deliveries"][0].clone()
            }
        };
        // Opted out of marketing: suppressed, visible with its reason.
        let d = send("u_q", "marketing", "normal").await;
        assert_eq!(
            (d["status"].as_str(), d["reason"].as_str()),
            (Some("suppressed"), Some("preference"))
        );
        // Low priority inside quiet hours: scheduled for the window's end.
        let d = send("u_w", "transactional", "low").await;
        assert_eq!(d["status"], "scheduled");
        let shown = app
            .get_json(&format!("/v1/deliveries/{}", d["id"].as_str().unwrap()))
            .await;
        assert_eq!(shown["reason"], "quiet_hours");
        let until =
            chrono::DateTime::parse_from_rfc3339(shown["next_attempt_at"].as_str().unwrap())
                .unwrap();
        assert!(until > chrono::Utc::now(), "waits: {shown:#}");
        // auth and high go now, preferences or not.
        let d = send("u_q", "auth", "low").await;
        assert_eq!(d["status"], "queued");
        let d = send("u_w", "transactional", "high").await;
        assert_eq!(d["status"], "queued");
        rx.wait_for(2, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 2, "only the auth and high ones were sent");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_with_no_stored_profile_is_422_unless_addresses_or_the_inbox_are_given() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let r = app
            .put(
                "/v1/templates/everywhere",
                &json!({"channels": {
                    "email": {"subject": "Hi", "text": "Hi"},
                    "sms": {"text": "Hi"},
                    "webhook": {"body": "{}"},
                    "in_app": {"title": "Hi"}}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        app.put("/v1/recipients/u_1", &json!({"webhook_url": rx.url}))
            .await;

        // Nobody stored as u_nobody: refused, naming the entry, and nothing
        // is queued for anyone in the request.
        let r = app
            .post(
                "/v1/notifications",
                &json!({"template": "everywhere", "to": [{"id": "u_1"}, {"id": "u_nobody"}]}),
            )
            .await;
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], "to[1].id", "{p:#}");
        assert_eq!(p["errors"][0]["recipient"], 1);
        let m = p["errors"][0]["message"].as_str().unwrap();
        assert!(
            m.contains("PUT /v1/recipients/u_nobody") && m.contains("in_app"),
            "says how to fix it: {m}"
        );
        let log = app.get_json("/v1/deliveries").await;
        assert!(log["items"].as_array().unwrap().is_empty());

        // Addresses given inline stand alone.
        let r = app
            .post(
                "/v1/notifications",
                &json!({"template": "everywhere", "to": [{"id": "u_nobody", "webhook_url": rx.url}], "channels": ["webhook"]}),
            )
            .await;
        assert_eq!(r.status(), 202);

        // The inbox needs only an id: asked for by name, it is accepted.
        let r = app
            .post(
                "/v1/notifications",
                &json!({"template": "everywhere", "to": [{"id": "u_nobody"}], "channels": ["in_app"]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let a: Value = r.json().await.unwrap();
        let d = a["deliveries"].as_array().unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["channel"], "in_app");
        assert_eq!(d[0]["status"], "queued");

        // Content for the inbox only needs no `channels` either.
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"in_app": {"title": "Hi"}}, "to": [{"id": "u_nobody"}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        rx.wait_for(1, Duration::from_secs(10)).await;
        app.stop().await;
    })
    .await;
}
