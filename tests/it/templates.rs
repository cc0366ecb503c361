//! Templates end to end: versions, rollback, archive, preview, locale
//! fallback with Chinese and Portuguese text, and the shipped examples.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

async fn problem_fields(r: reqwest::Response, status: u16) -> Vec<(String, String)> {
    assert_eq!(r.status(), status);
    let p: Value = r.json().await.unwrap();
    p["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap().to_string(),
                        e["message"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_rollback_and_archive() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let v1 = json!({"name": "Welcome", "channels": {"webhook": {"body": "{\"v\": 1, \"name\": {{json name}} }"}}});
        let v2 = json!({"name": "Welcome", "channels": {"webhook": {"body": "{\"v\": 2, \"name\": {{json name}} }"}}});
        assert_eq!(app.put("/v1/templates/welcome", &v1).await.status(), 201);
        assert_eq!(
            app.put("/v1/templates/welcome", &v2)
                .await
                .json::<Value>()
                .await
                .unwrap()["version"],
            2
        );
        assert_eq!(
            app.put("/v1/templates/welcome", &v2)
                .await
                .json::<Value>()
                .await
                .unwrap()["version"],
            2,
            "unchanged: no new version"
        );

        let list = app.get_json("/v1/templates").await;
        assert_eq!(list["items"][0]["key"], "welcome");
        assert_eq!(list["items"][0]["current_version"], 2);
        let versions = app.get_json("/v1/templates/welcome/versions").await;
        let nums: Vec<i64> = versions["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_i64().unwrap())
            .collect();
        assert_eq!(nums, vec![2, 1]);
        let old = app.get_json("/v1/templates/welcome/versions/1").await;
        assert_eq!(
            old["channels"]["webhook"]["body"],
            "{\"v\": 1, \"name\": {{json name}} }"
        );
        assert_eq!(
            app.get("/v1/templates/welcome/versions/9").await.status(),
            404
        );

        // Roll back to version 1: sends use it and record it.
        let r = app
            .post("/v1/templates/welcome/versions/1/activate", &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["version"], 1);
        let rx = Receiver::start().await;
        let r = app.post("/v1/notifications", &json!({"template": "welcome", "to": [{"webhook_url": rx.url}], "data": {"name": "Ana"}})).await;
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let got = rx.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(
            serde_json::from_str::<Value>(&got[0].body).unwrap(),
            json!({"v": 1, "name": "Ana"})
        );
        assert_eq!(
            app.get_json(&format!("/v1/notifications/{id}")).await["template_version"],
            1
        );

        // Archived: readable, but sending with it is a 422.
        assert_eq!(
            app.client
                .delete(app.url("/v1/templates/welcome"))
                .bearer_auth(&app.key)
                .send()
                .await
                .unwrap()
                .status(),
            204
        );
        assert!(!app.get_json("/v1/templates/welcome").await["archived_at"].is_null());
        let fields = problem_fields(
            app.post("/v1/notifications", &json!({"template": "welcome", "to": [{"webhook_url": rx.url}], "data": {"name": "Ana"}})).await,
            422,
        )
        .await;
        assert_eq!(fields[0].0, "template");
        assert!(fields[0].1.contains("archived"));
        assert_eq!(
            app.client
                .delete(app.url("/v1/templates/nope"))
                .bearer_auth(&app.key)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_renders_every_part_or_says_why_not() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let t = json!({
            "channels": {
                "email": {"subject": "Olá {{name}}", "html": "<p>{{name}}</p>", "text": "{{name}}"},
                "sms": {"text": "Order {{id}} shipped"},
                "webhook": {"body": "{\"id\": {{id}} }"}
            },
            "locales": {"zh": {"sms": {"text": "订单 {{id}} 已发货"}}}
        });
        assert_eq!(app.put("/v1/templates/t", &t).await.status(), 201);
        let p = app
            .post(
                "/v1/templates/t/preview",
                &json!({"data": {"name": "João <3", "id": 7}}),
            )
            .await;
        assert_eq!(p.status(), 200);
        let p: Value = p.json().await.unwrap();
        assert_eq!(p["channels"]["email"]["subject"], "Olá João <3");
        assert_eq!(p["channels"]["email"]["html"], "<p>João &lt;3</p>");
        assert_eq!(p["channels"]["sms"]["text"], "Order 7 shipped");
        // zh-TW falls back to zh; pt-BR to the default.
        let p: Value = app
            .post(
                "/v1/templates/t/preview",
                &json!({"data": {"name": "x", "id": 7}, "locale": "zh-TW"}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(p["channels"]["sms"]["text"], "订单 7 已发货");
        assert_eq!(p["channels"]["email"]["subject"], "Olá x");
        // A missing variable names it; a webhook body that is not JSON says so.
        let fields = problem_fields(
            app.post("/v1/templates/t/preview", &json!({"data": {"id": 7}}))
                .await,
            422,
        )
        .await;
        assert!(fields.iter().any(|(f, _)| f == "data.name"), "{fields:?}");
        let fields = problem_fields(
            app.post(
                "/v1/templates/t/preview",
                &json!({"data": {"name": "x", "id": "seven"}}),
            )
            .await,
            422,
        )
        .await;
        assert!(
            fields
                .iter()
                .any(|(f, m)| f == "channels.webhook.body" && m.contains("JSON")),
            "{fields:?}"
        );
        // An older version can be previewed.
        app.put(
            "/v1/templates/t",
            &json!({"channels": {"sms": {"text": "v2 {{id}}"}}}),
        )
        .await;
        let p: Value = app
            .post(
                "/v1/templates/t/preview",
                &json!({"data": {"id": 1, "name": "x"}, "version": 1, "locale": "zh-CN"}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(p["channels"]["sms"]["text"], "订单 1 已发货");
        assert_eq!(
            app.post("/v1/templates/nope/preview", &json!({}))
                .await
                .status(),
            404
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recipients_locale_and_timezone_choose_the_content() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let t = json!({
            "channels": {"webhook": {"body": "{\"text\": {{json (date at \"datetime\")}} }"}},
            "locales": {"zh-CN": {"webhook": {"body": "{\"text\": \"发货时间 {{date at \"datetime\"}}\"}"}}}
        });
        assert_eq!(app.put("/v1/templates/shipped", &t).await.status(), 201);
        let r = app
            .put(
                "/v1/recipients/u_cn",
                &json!({"webhook_url": rx.url, "locale": "zh-CN", "timezone": "Asia/Shanghai"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let r = app
            .put(
                "/v1/recipients/u_us",
                &json!({"webhook_url": rx.url, "locale": "en-US", "timezone": "America/New_York"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let r = app
            .post("/v1/notifications", &json!({"template": "shipped", "to": [{"id": "u_cn"}, {"id": "u_us"}], "data": {"at": "2026-03-08T14:30:00Z"}}))
            .await;
        assert_eq!(r.status(), 202);
        let got = rx.wait_for(2, Duration::from_secs(10)).await;
        let mut texts: Vec<String> = got
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        texts.sort();
        assert_eq!(
            texts,
            vec![
                "Mar 8, 2026 10:30 AM".to_string(),
                "发货时间 2026-03-08 22:30".to_string()
            ]
        );
        // The request's locale wins over the recipient's.
        let r = app
            .post("/v1/notifications", &json!({"template": "shipped", "to": [{"id": "u_cn"}], "locale": "en", "data": {"at": "2026-03-08T14:30:00Z"}}))
            .await;
        assert_eq!(r.status(), 202);
        let got = rx.wait_for(3, Duration::from_secs(10)).await;
        assert_eq!(
            serde_json::from_str::<Value>(&got[2].body).unwrap()["text"],
            "Mar 8, 2026 10:30 PM"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_example_templates_import_and_render() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let templates = missive::render::files::read_dir(&dir).unwrap();
        assert_eq!(
            templates.keys().cloned().collect::<Vec<_>>(),
            vec!["login-code", "order-shipped", "password-reset"]
        );
        for (key, content) in &templates {
            let (v, new) = missive::service::templates::save(
                app.state.store.as_ref(),
                &app.state.renderer,
                key,
                key,
                content,
            )
            .await
            .unwrap();
            assert_eq!((v, new), (1, true));
            for part in ["email", "sms", "webhook", "in_app"] {
                assert!(content.channels.contains_key(part), "{key} has {part}");
                assert!(
                    content.locales["zh-CN"].contains_key(part) || part == "webhook",
                    "{key} has zh-CN {part}"
                );
            }
        }
        let data = json!({"order_id": 1001, "name": "Ana", "shipped_at": "2026-11-23T09:00:00Z", "total": 1234.5,
                          "currency": "BRL", "tracking_url": "https://t.example/1001", "code": "424242",
                          "reset_url": "https://shop.example/reset?t=abc"});
        for key in templates.keys() {
            for locale in ["en-US", "zh-CN", "pt-BR"] {
                let r = app
                    .post(
                        &format!("/v1/templates/{key}/preview"),
                        &json!({"data": data, "locale": locale, "timezone": "Asia/Shanghai"}),
                    )
                    .await;
                assert_eq!(
                    r.status(),
                    200,
                    "{key} {locale}: {}",
                    r.text().await.unwrap()
                );
            }
        }
        let p: Value = app
            .post(
                "/v1/templates/order-shipped/preview",
                &json!({"data": data, "locale": "zh-CN", "timezone": "Asia/Shanghai"}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            p["channels"]["sms"]["text"],
            "订单 1001 已于 2026年11月23日 发货。物流：https://t.example/1001"
        );
        assert_eq!(p["channels"]["email"]["subject"], "您的订单 1001 已发货");
        let p: Value = app
            .post(
                "/v1/templates/order-shipped/preview",
                &json!({"data": data, "locale": "pt-BR"}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert!(
            p["channels"]["email"]["text"]
                .as_str()
                .unwrap()
                .contains("1.234,50 BRL"),
            "{p:#}"
        );
        // Importing again changes nothing.
        for (key, content) in &templates {
            assert_eq!(
                missive::service::templates::save(
                    app.state.store.as_ref(),
                    &app.state.renderer,
                    key,
                    key,
                    content
                )
                .await
                .unwrap(),
                (1, false)
            );
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_and_recipients_saved_while_sends_are_written_are_never_refused() {
    each_backend(|b| async move {
        // Saving a template reads its versions and then writes. Sends and
        // their outcomes are committed beside it the whole time; each save
        // must wait its turn, never be refused with 503.
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let sends = async {
            for round in 0..20 {
                futures::future::join_all(
                    (0..10).map(|n| app.send_webhook(&rx.url, json!({"n": round * 10 + n}))),
                )
                .await;
            }
        };
        let saves = async {
            let mut refused = Vec::new();
            for i in 0..40 {
                let t = json!({"channels": {"webhook": {"body": format!("{{\"v\": {i}}}")}}});
                let r = app.put(&format!("/v1/templates/t{}", i % 4), &t).await;
                if !r.status().is_success() {
                    refused.push(format!("template {i}: {}", r.status()));
                }
                let profile = json!({"email": format!("u{i}@example.com")});
                let r = app
                    .put(&format!("/v1/recipients/u_{}", i % 4), &profile)
                    .await;
                if !r.status().is_success() {
                    refused.push(format!("recipient {i}: {}", r.status()));
                }
            }
            refused
        };
        let ((), refused) = tokio::join!(sends, saves);
        assert!(refused.is_empty(), "refused: {refused:?}");
        assert_eq!(
            app.get_json("/v1/templates/t0").await["version"],
            10,
            "every save of t0 made a version"
        );
        rx.wait_for(200, Duration::from_secs(30)).await;
        app.stop().await;
    })
    .await;
}
