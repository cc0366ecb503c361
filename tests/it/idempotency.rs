//! Idempotency-Key: the same key and body within the window replays the
//! first answer (marked as a replay, with each delivery's status now) and
//! queues nothing twice; a different body is a 409.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

async fn send_with_key(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/v1/notifications"))
        .bearer_auth(&app.key)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_and_body_replays_the_first_answer() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let body = json!({"content": {"webhook": {"body": "{\"n\": {{json n}} }"}}, "to": [{"webhook_url": rx.url}], "data": {"n": 1}});
        let first = send_with_key(&app, "order-1001", &body).await;
        assert_eq!(first.status(), 202);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let first: Value = first.json().await.unwrap();

        // The same body with its keys in another order is the same request.
        let reordered = json!({"data": {"n": 1}, "to": [{"webhook_url": rx.url}], "content": {"webhook": {"body": "{\"n\": {{json n}} }"}}});
        let again = send_with_key(&app, "order-1001", &reordered).await;
        assert_eq!(again.status(), 202);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["replayed"], true, "{again}");
        assert_eq!(again["id"], first["id"], "the same notification");
        assert_eq!(
            again["deliveries"][0]["id"], first["deliveries"][0]["id"],
            "the same delivery"
        );
        assert!(
            first.get("replayed").is_none(),
            "a first answer is no replay"
        );

        let other = send_with_key(
            &app,
            "order-1001",
            &json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": rx.url}]}),
        )
        .await;
        assert_eq!(other.status(), 409);
        assert_eq!(other.headers()["content-type"], "application/problem+json");

        rx.wait_for(1, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 1, "queued once");
        let all = app.get_json("/v1/deliveries").await;
        assert_eq!(all["items"].as_array().unwrap().len(), 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_key_queue_once() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let body = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": rx.url}]});
        let answers =
            futures::future::join_all((0..20).map(|_| send_with_key(&app, "same", &body))).await;
        let mut ids = vec![];
        for a in answers {
            assert_eq!(a.status(), 202);
            ids.push(
                a.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "every answer names the one notification");
        rx.wait_for(1, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_scoped_to_the_api_key_and_expire() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[maintenance]\nidempotency_ttl = \"300ms\"").await;
        let rx = Receiver::start().await;
        let body = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": rx.url}]});
        let first: Value = send_with_key(&app, "k", &body).await.json().await.unwrap();

        // Another API key using the same Idempotency-Key is a different request.
        let (other_key, _) =
            missive::service::auth::create_key(app.state.store.as_ref(), "other", "send")
                .await
                .unwrap();
        let r = app
            .client
            .post(app.url("/v1/notifications"))
            .bearer_auth(&other_key)
            .header("Idempotency-Key", "k")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        assert!(r.headers().get("idempotent-replayed").is_none());

        // After the window, the key can be used again.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let later = send_with_key(&app, "k", &body).await;
        assert_eq!(later.status(), 202);
        assert!(later.headers().get("idempotent-replayed").is_none());
        assert_ne!(later.json::<Value>().await.unwrap()["id"], first["id"]);
        let removed = missive::dispatch::maintenance::run_once(
            app.state.store.as_ref(),
            &app.state.config.maintenance,
        )
        .await
        .unwrap();
        assert!(removed.0 >= 1, "expired keys are purged: {removed:?}");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_says_so_and_shows_each_deliverys_status_now() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        // The receiver refuses for good: the delivery fails.
        let rx = Receiver::start_with(
            vec![],
            Answer::status(400).body("{\"error\": \"unknown order\"}"),
        )
        .await;
        let body = json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": rx.url}]});
        let first = send_with_key(&app, "order-7", &body).await;
        assert_eq!(first.status(), 202);
        let first: Value = first.json().await.unwrap();
        assert_eq!(first["deliveries"][0]["status"], "queued");
        let id = first["deliveries"][0]["id"].as_str().unwrap().to_string();
        app.wait_for_status(&id, "failed").await;

        let again = send_with_key(&app, "order-7", &body).await;
        assert_eq!(again.status(), 202);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["replayed"], true, "{again}");
        assert_eq!(again["id"], first["id"]);
        assert_eq!(again["deliveries"][0]["id"], id.as_str());
        assert_eq!(
            again["deliveries"][0]["status"], "failed",
            "the status now, not the first answer's `queued`: {again}"
        );
        assert_eq!(rx.count(), 1, "nothing sent again");
        app.stop().await;
    })
    .await;
}

/// A burst of keyed requests, written together in batches: new keys each
/// used twice at once, keys used before (replayed), and keys used before
/// with another body (409). Each new key makes one notification, and its
/// second request replays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_keys_written_together_keeps_each_keys_answer() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let body = |n: usize| json!({"content": {"webhook": {"body": format!("{{\"n\": {n}}}")}}, "to": [{"webhook_url": rx.url}]});
        let mut earlier = Vec::new();
        for i in 0..10 {
            let r = send_with_key(&app, &format!("old-{i}"), &body(i)).await;
            assert_eq!(r.status(), 202);
            earlier.push(r.json::<Value>().await.unwrap()["id"].clone());
        }
        let mut burst: Vec<(String, Value)> = Vec::new();
        for i in 0..20 {
            burst.push((format!("new-{i}"), body(100 + i)));
            burst.push((format!("new-{i}"), body(100 + i)));
        }
        for i in 0..10 {
            burst.push((format!("old-{i}"), body(i)));
            burst.push((format!("old-{i}"), body(1000 + i)));
        }
        let answers = futures::future::join_all(
            burst
                .iter()
                .map(|(key, body)| send_with_key(&app, key, body)),
        )
        .await;
        let mut got = Vec::new();
        for a in answers {
            let status = a.status().as_u16();
            let replayed = a.headers().get("idempotent-replayed").is_some();
            got.push((status, replayed, a.json::<Value>().await.unwrap()));
        }
        for i in 0..20 {
            let (a, b) = (&got[2 * i], &got[2 * i + 1]);
            assert_eq!((a.0, b.0), (202, 202), "new-{i}: {a:?} {b:?}");
            assert_eq!(a.2["id"], b.2["id"], "new-{i}: one notification");
            assert!(a.1 ^ b.1, "new-{i}: one first answer, one replay");
        }
        for i in 0..10 {
            let (same, other) = (&got[40 + 2 * i], &got[41 + 2 * i]);
            assert_eq!(same.0, 202, "old-{i}: {same:?}");
            assert!(same.1, "old-{i} is replayed");
            assert_eq!(same.2["id"], earlier[i]);
            assert_eq!(other.0, 409, "old-{i} with another body: {other:?}");
        }
        rx.wait_for(30, Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 30, "10 earlier and 20 new notifications");
        app.stop().await;
    })
    .await;
}
