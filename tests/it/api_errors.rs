//! Every 4xx of the contract, answered as problem+json naming the field,
//! and nothing accepted when the request is refused.

use serde_json::{json, Value};

use crate::helpers::*;

async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["status"], status);
    assert!(
        p["type"].is_string() && p["title"].is_string() && p["detail"].is_string(),
        "{p:#}"
    );
    p
}

fn fields(p: &Value) -> Vec<String> {
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_is_required_and_scopes_are_enforced() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let c = &app.client;
        // No key, a malformed header, an unknown key: 401.
        problem(c.get(app.url("/v1/deliveries")).send().await.unwrap(), 401).await;
        problem(
            c.get(app.url("/v1/deliveries"))
                .header("authorization", "Basic eDp5")
                .send()
                .await
                .unwrap(),
            401,
        )
        .await;
        problem(
            c.get(app.url("/v1/deliveries"))
                .bearer_auth("msv_nope")
                .send()
                .await
                .unwrap(),
            401,
        )
        .await;

        let store = app.state.store.as_ref();
        let (send_key, _) = missive::service::auth::create_key(store, "sender", "send")
            .await
            .unwrap();
        let (read_key, _) = missive::service::auth::create_key(store, "reader", "read")
            .await
            .unwrap();
        let body = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": "https://example.com/h"}]});
        // A sender can send but not read; a reader can read but not send, retry or edit templates.
        assert_eq!(
            c.post(app.url("/v1/notifications"))
                .bearer_auth(&send_key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status(),
            202
        );
        problem(
            c.get(app.url("/v1/deliveries"))
                .bearer_auth(&send_key)
                .send()
                .await
                .unwrap(),
            403,
        )
        .await;
        problem(
            c.post(app.url("/v1/notifications"))
                .bearer_auth(&read_key)
                .json(&body)
                .send()
                .await
                .unwrap(),
            403,
        )
        .await;
        assert_eq!(
            c.get(app.url("/v1/deliveries"))
                .bearer_auth(&read_key)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        problem(
            c.post(app.url("/v1/deliveries/x/retry"))
                .bearer_auth(&read_key)
                .send()
                .await
                .unwrap(),
            403,
        )
        .await;
        problem(
            c.put(app.url("/v1/templates/t"))
                .bearer_auth(&send_key)
                .json(&json!({"channels": {"sms": {"text": "x"}}}))
                .send()
                .await
                .unwrap(),
            403,
        )
        .await;

        // A revoked key stops working (within the key cache's few seconds;
        // a key never seen before is checked at once).
        let (revoked, row) = missive::service::auth::create_key(store, "gone", "read")
            .await
            .unwrap();
        assert!(store
            .revoke_key(&row.id, missive::util::now_ms())
            .await
            .unwrap());
        problem(
            c.get(app.url("/v1/deliveries"))
                .bearer_auth(&revoked)
                .send()
                .await
                .unwrap(),
            401,
        )
        .await;
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_sends_are_422_naming_the_field_and_queue_nothing() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let ok_to = json!([{"webhook_url": "https://example.com/h"}]);
        let webhook = json!({"webhook": {"body": "{\"n\": {{json n}} }"}});
        let cases: Vec<(Value, &str)> = vec![
            (json!({"to": ok_to}), "template"),
            (json!({"template": "missing", "to": ok_to}), "template"),
            (
                json!({"content": webhook, "template": "x", "to": ok_to}),
                "content",
            ),
            (
                json!({"content": webhook, "to": [], "data": {"n": 1}}),
                "to",
            ),
            (
                json!({"content": webhook, "to": [{"webhook_url": "not a url"}], "data": {"n": 1}}),
                "to[0].webhook_url",
            ),
            (
                json!({"content": webhook, "to": [{"webhook_url": "https://a.example/h"}, {"webhook_url": "ftp://x"}], "data": {"n": 1}}),
                "to[1].webhook_url",
            ),
            (
                json!({"content": webhook, "to": [{"phone": "12345"}], "data": {"n": 1}}),
                "to[0].phone",
            ),
            (
                json!({"content": webhook, "to": [{}], "data": {"n": 1}}),
                "to[0]",
            ),
            (json!({"content": webhook, "to": ok_to}), "data.n"),
            (
                json!({"content": webhook, "to": ok_to, "data": [1]}),
                "data",
            ),
            (
                json!({"content": {"webhook": {"body": "{{#if n}}"}}, "to": ok_to, "data": {"n": 1}}),
                "content.webhook.body",
            ),
            (
                json!({"content": {"webhook": {"body": "not json {{n}}"}}, "to": ok_to, "data": {"n": 1}}),
                "content.webhook.body",
            ),
            (
                json!({"content": {"fax": {"text": "x"}}, "to": ok_to}),
                "content.fax",
            ),
            (
                json!({"content": webhook, "to": ok_to, "data": {"n": 1}, "category": "spam"}),
                "category",
            ),
            (
                json!({"content": webhook, "to": ok_to, "data": {"n": 1}, "priority": "urgent"}),
                "priority",
            ),
            (
                json!({"content": webhook, "to": ok_to, "data": {"n": 1}, "send_at": "tomorrow"}),
                "send_at",
            ),
            (
                json!({"content": webhook, "to": ok_to, "data": {"n": 1}, "channels": ["pigeon"]}),
                "channels[0]",
            ),
            (
                json!({"content": webhook, "to": ok_to, "data": {"n": 1}, "colour": "red"}),
                "colour",
            ),
            (
                json!({"content": webhook, "to": "everyone", "data": {"n": 1}}),
                "to",
            ),
        ];
        for (body, field) in cases {
            let p = problem(app.post("/v1/notifications", &body).await, 422).await;
            assert!(
                fields(&p).iter().any(|f| f == field),
                "expected field {field} for {body}: {p:#}"
            );
        }
        // The missing variable names the recipient too.
        let p = problem(
            app.post(
                "/v1/notifications",
                &json!({"content": webhook, "to": ok_to}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(p["errors"][0]["recipient"], 0);

        // Not JSON, wrong media type.
        let r = app
            .client
            .post(app.url("/v1/notifications"))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body("{oops")
            .send()
            .await
            .unwrap();
        problem(r, 422).await;
        let r = app
            .client
            .post(app.url("/v1/notifications"))
            .bearer_auth(&app.key)
            .body("{}")
            .send()
            .await
            .unwrap();
        problem(r, 415).await;

        let log = app.get_json("/v1/deliveries").await;
        assert!(
            log["items"].as_array().unwrap().is_empty(),
            "nothing was queued"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_things_are_404_and_oversized_bodies_413() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[server]\nmax_body_bytes = 4096").await;
        problem(
            app.get("/v1/deliveries/01234567-0000-7000-8000-000000000000")
                .await,
            404,
        )
        .await;
        problem(app.get("/v1/notifications/nope").await, 404).await;
        problem(app.get("/v1/templates/nope").await, 404).await;
        problem(app.get("/v1/nothing-here").await, 404).await;
        let big = "x".repeat(10_000);
        let r = app
            .post("/v1/notifications", &json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": "https://e.example/h"}], "data": {"pad": big}}))
            .await;
        problem(r, 413).await;
        let p = problem(app.get("/v1/deliveries?status=lost&limit=0").await, 422).await;
        assert_eq!(fields(&p), vec!["status", "limit"]);
        problem(app.get("/v1/deliveries?since=yesterday").await, 422).await;
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_api_rate_limit_is_429_with_retry_after() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[server]\napi_rate_limit = 2").await;
        let mut statuses = vec![];
        let mut retry_after = None;
        for _ in 0..6 {
            let r = app.get("/v1/deliveries").await;
            if r.status() == 429 {
                retry_after = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_string());
                problem(r, 429).await;
                statuses.push(429);
            } else {
                statuses.push(r.status().as_u16());
            }
        }
        assert!(statuses.contains(&429), "{statuses:?}");
        assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let r = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "ready");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_store_versions_and_reject_compile_errors() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let t = json!({"name": "Order shipped", "channels": {"webhook": {"body": "{\"order\": {{json order_id}} }"}, "sms": {"text": "Order {{order_id}} shipped"}},
                       "locales": {"zh-CN": {"sms": {"text": "订单 {{order_id}} 已发货"}}}});
        let r = app.put("/v1/templates/order-shipped", &t).await;
        assert_eq!(r.status(), 201);
        assert_eq!(r.json::<Value>().await.unwrap()["version"], 1);
        // Unchanged: no new version.
        let r = app.put("/v1/templates/order-shipped", &t).await;
        assert_eq!(r.json::<Value>().await.unwrap()["version"], 1);
        let mut t2 = t.clone();
        t2["channels"]["sms"]["text"] = json!("Order {{order_id}} is on its way");
        let r = app.put("/v1/templates/order-shipped", &t2).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["version"], 2);
        let got = app.get_json("/v1/templates/order-shipped").await;
        assert_eq!(got["version"], 2);
        assert_eq!(
            got["locales"]["zh-CN"]["sms"]["text"],
            "订单 {{order_id}} 已发货"
        );

        let p = problem(
            app.put(
                "/v1/templates/bad",
                &json!({"channels": {"sms": {"text": "line one\n{{#each x}}"}}}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(fields(&p), vec!["channels.sms.text"]);
        assert!(
            p["errors"][0]["message"].as_str().unwrap().contains("line"),
            "{p:#}"
        );
        problem(
            app.put(
                "/v1/templates/bad",
                &json!({"channels": {"sms": {"txt": "x"}}}),
            )
            .await,
            422,
        )
        .await;
        problem(
            app.put(
                "/v1/templates/bad%20key",
                &json!({"channels": {"sms": {"text": "x"}}}),
            )
            .await,
            422,
        )
        .await;

        // Sending with it records the version used.
        let rx = Receiver::start().await;
        let r = app
            .post("/v1/notifications", &json!({"template": "order-shipped", "to": [{"webhook_url": rx.url}], "data": {"order_id": 1001}}))
            .await;
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let n = app.get_json(&format!("/v1/notifications/{id}")).await;
        assert_eq!(n["template_version"], 2);
        let got = rx.wait_for(1, std::time::Duration::from_secs(10)).await;
        assert_eq!(
            serde_json::from_str::<Value>(&got[0].body).unwrap(),
            json!({"order": 1001})
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_subjects_addresses_and_ids_that_could_harm_a_recipient_are_422() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let webhook = json!({"webhook": {"body": "{}"}});
        let in_app = |url: &str| json!({"in_app": {"title": "Hi", "action_url": url}});
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"content": in_app("javascript:alert(document.domain)"), "to": [{"id": "u_1"}]}),
                "content.in_app.action_url",
            ),
            (
                json!({"content": in_app("//evil.example/x"), "to": [{"id": "u_1"}]}),
                "content.in_app.action_url",
            ),
            // Checked on the rendered value: data can't smuggle one in.
            (
                json!({"content": in_app("{{link}}"), "to": [{"id": "u_1"}], "data": {"link": "javascript:alert(1)"}}),
                "content.in_app.action_url",
            ),
            (
                json!({"content": {"email": {"subject": "Hi {{name}}", "text": "t"}}, "to": [{"email": "ana@example.com"}], "data": {"name": "Ana\u{b}\u{c}Bcc: x@evil.example"}}),
                "content.email.subject",
            ),
            (
                json!({"content": {"email": {"subject": "Hi {{name}}", "text": "t"}}, "to": [{"email": "ana@example.com"}], "data": {"name": "Ana\r\nBcc: x@evil.example"}}),
                "content.email.subject",
            ),
            (
                json!({"content": webhook, "to": [{"email": "a@b.c,evil@x.example", "webhook_url": "https://e.example/h"}]}),
                "to[0].email",
            ),
            (
                json!({"content": webhook, "to": [{"email": "Ana <ana@example.com>", "webhook_url": "https://e.example/h"}]}),
                "to[0].email",
            ),
            (
                json!({"content": webhook, "to": [{"id": "u_1\r\nX-Injected: 1", "webhook_url": "https://e.example/h"}]}),
                "to[0].id",
            ),
            (
                json!({"content": webhook, "to": [{"id": "u_1\u{b}", "webhook_url": "https://e.example/h"}]}),
                "to[0].id",
            ),
            (json!([{"to": []}]), "body"),
        ];
        for (body, field) in cases {
            let p = problem(app.post("/v1/notifications", &body).await, 422).await;
            assert!(
                fields(&p).iter().any(|f| f == field),
                "expected field {field} for {body}: {p:#}"
            );
        }

        // A stored template whose link renders to a script: 422 at accept.
        let r = app
            .put(
                "/v1/templates/linked",
                &json!({"channels": {"in_app": {"title": "Hi", "action_url": "{{link}}"}}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let p = problem(
            app.post(
                "/v1/notifications",
                &json!({"template": "linked", "to": [{"id": "u_1"}], "data": {"link": "javascript:alert(document.domain)"}}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(fields(&p), vec!["channels.in_app.action_url"], "{p:#}");
        assert_eq!(p["errors"][0]["recipient"], 0);
        // Its preview says the same.
        let p = problem(
            app.post(
                "/v1/templates/linked/preview",
                &json!({"data": {"link": "javascript:alert(document.domain)"}}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(fields(&p), vec!["channels.in_app.action_url"], "{p:#}");
        // The same template with an http(s) link or a path is accepted.
        for link in ["https://shop.example/orders/7", "/orders/7"] {
            let r = app
                .post(
                    "/v1/notifications",
                    &json!({"template": "linked", "to": [{"id": "u_1"}], "data": {"link": link}}),
                )
                .await;
            assert_eq!(r.status(), 202, "{link}");
        }

        let log = app.get_json("/v1/deliveries").await;
        assert_eq!(
            log["items"].as_array().unwrap().len(),
            2,
            "only the two good sends were queued"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipient_routes_refuse_non_object_bodies_and_control_characters_in_ids() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let r = app
            .put(
                "/v1/recipients/u_42",
                &json!({"email": "ana@example.com", "phone": "+8613800000000"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        for body in [
            json!([]),
            json!(["x@y.example"]),
            json!("ana"),
            json!(7),
            json!(null),
        ] {
            let p = problem(app.put("/v1/recipients/u_42", &body).await, 422).await;
            assert_eq!(fields(&p), vec!["body"], "{body}: {p:#}");
        }
        let kept = app.get_json("/v1/recipients/u_42").await;
        assert_eq!(kept["email"], "ana@example.com", "the profile is unchanged");
        assert_eq!(kept["phone"], "+8613800000000");

        let p = problem(
            app.put(
                "/v1/recipients/u_43",
                &json!({"email": "a@b.c,evil@x.example"}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(fields(&p), vec!["email"]);
        let p = problem(
            app.put("/v1/recipients/u_43", &json!({"phone": "+86 138"}))
                .await,
            422,
        )
        .await;
        assert_eq!(fields(&p), vec!["phone"]);

        // CR, LF, VT, FF, NUL, C1 (percent-encoded in the path).
        for id in ["u%0D%0Ax", "u%0Ax", "u%0B", "u%0C", "u%00", "u%C2%85"] {
            let path = format!("/v1/recipients/{id}");
            let p = problem(app.put(&path, &json!({})).await, 422).await;
            assert_eq!(fields(&p), vec!["id"], "PUT {id}");
            problem(app.get(&path).await, 422).await;
            let r = app
                .client
                .delete(app.url(&path))
                .bearer_auth(&app.key)
                .send()
                .await
                .unwrap();
            problem(r, 422).await;
            let r = app.post(&format!("{path}/token"), &json!({})).await;
            problem(r, 422).await;
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_route_points_at_the_apis_own_document() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        for path in ["/v1/nothing-here", "/nope", "/v2/notifications"] {
            let p = problem(app.get(path).await, 404).await;
            let detail = p["detail"].as_str().unwrap();
            assert!(detail.contains("/openapi.json"), "{detail}");
            assert!(!detail.contains(".md"), "{detail}");
        }
        // The document it points at is there.
        assert_eq!(app.get("/openapi.json").await.status(), 200);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_problem_with_several_fields_names_each_in_its_detail() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let p = problem(
            app.post(
                "/v1/templates/shipped/preview",
                &json!({"draft": {"channels": {"sms": {"text": "{{a}}"}, "email": {"subject": "{{b}}", "text": "t"}}}}),
            )
            .await,
            422,
        )
        .await;
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.starts_with("2 fields are not valid: "), "{detail}");
        assert!(
            detail.contains("data.a: ") && detail.contains("data.b: "),
            "{detail}"
        );
        app.stop().await;
    })
    .await;
}
