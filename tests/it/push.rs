//! The push channel: a recipient's devices (`/v1/recipients/{id}/devices`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::helpers::*;

/// A browser-like subscription body for `endpoint`, with made-up keys.
fn subscription(endpoint: &str) -> Value {
    let mut key = [9u8; 65];
    key[0] = 4;
    json!({"kind": "webpush", "endpoint": endpoint,
           "keys": {"p256dh": URL_SAFE_NO_PAD.encode(key), "auth": URL_SAFE_NO_PAD.encode([1u8; 16])},
           "expirationTime": null})
}

async fn fields(r: reqwest::Response) -> Vec<String> {
    let p: Value = r.json().await.unwrap();
    let mut f: Vec<String> = p["errors"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    f.sort();
    f
}

async fn delete(app: &TestApp, path: &str, key: &str) -> u16 {
    app.client
        .delete(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_are_added_replaced_listed_bounded_and_deleted() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        // The recipient must be stored first.
        let r = app
            .put("/v1/recipients/u_p/devices", &subscription("https://push.example/a"))
            .await;
        assert_eq!(r.status(), 404);
        assert_eq!(app.get("/v1/recipients/u_p/devices").await.status(), 404);
        app.put("/v1/recipients/u_p", &json!({})).await;

        let r = app
            .put("/v1/recipients/u_p/devices", &subscription("https://push.example/a"))
            .await;
        assert_eq!(r.status(), 201);
        let a: Value = r.json().await.unwrap();
        assert!(a["id"].as_str().unwrap().starts_with("dev_"), "{a}");
        assert_eq!(a["kind"], "webpush");
        assert!(a.get("auth").is_none(), "the auth secret is never shown: {a}");
        // The same endpoint again replaces it.
        let r = app
            .put("/v1/recipients/u_p/devices", &subscription("https://push.example/a"))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["id"], a["id"]);
        let fcm = json!({"kind": "fcm", "token": "fcm-token-1", "platform": "android", "app": "com.example"});
        assert_eq!(app.put("/v1/recipients/u_p/devices", &fcm).await.status(), 201);
        let list = app.get_json("/v1/recipients/u_p/devices").await;
        let devices = list["devices"].as_array().unwrap();
        assert_eq!(devices.len(), 2, "{list}");
        assert_eq!(devices[0]["id"], a["id"]);
        assert_eq!(devices[1]["token"], "fcm-token-1");
        assert_eq!(devices[1]["platform"], "android");

        // Validation names the fields.
        let bad = json!({"kind": "webpush", "endpoint": "not a url",
                         "keys": {"p256dh": "short", "auth": "x"}});
        let r = app.put("/v1/recipients/u_p/devices", &bad).await;
        assert_eq!(r.status(), 422);
        assert_eq!(fields(r).await, ["endpoint", "keys.auth", "keys.p256dh"]);
        let r = app
            .put("/v1/recipients/u_p/devices", &json!({"kind": "webpush"}))
            .await;
        assert_eq!(fields(r).await, ["endpoint", "keys"]);
        let r = app
            .put("/v1/recipients/u_p/devices", &json!({"kind": "sms", "token": "x"}))
            .await;
        assert_eq!(fields(r).await, ["kind"]);
        let long = format!("https://push.example/{}", "x".repeat(2100));
        let r = app.put("/v1/recipients/u_p/devices", &subscription(&long)).await;
        assert_eq!(fields(r).await, ["endpoint"]);
        let r = app
            .put("/v1/recipients/u_p/devices", &json!({"kind": "apns", "token": "t", "platform": ""}))
            .await;
        assert_eq!(fields(r).await, ["platform"]);

        // At most 20 devices; replacing one is still allowed at the bound.
        for i in 0..18 {
            let url = format!("https://push.example/n{i}");
            assert_eq!(app.put("/v1/recipients/u_p/devices", &subscription(&url)).await.status(), 201);
        }
        let r = app
            .put("/v1/recipients/u_p/devices", &subscription("https://push.example/one-too-many"))
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(fields(r).await, ["endpoint"]);
        let r = app
            .put("/v1/recipients/u_p/devices", &subscription("https://push.example/a"))
            .await;
        assert_eq!(r.status(), 200);

        // Delete one; then deleting the recipient deletes the rest.
        let id = a["id"].as_str().unwrap();
        let path = format!("/v1/recipients/u_p/devices/{id}");
        assert_eq!(delete(&app, &path, &app.key).await, 204);
        assert_eq!(delete(&app, &path, &app.key).await, 404);
        let list = app.get_json("/v1/recipients/u_p/devices").await;
        assert_eq!(list["devices"].as_array().unwrap().len(), 19);
        assert_eq!(delete(&app, "/v1/recipients/u_p", &app.key).await, 204);
        app.put("/v1/recipients/u_p", &json!({})).await;
        let list = app.get_json("/v1/recipients/u_p/devices").await;
        assert_eq!(list["devices"], json!([]), "{list}");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_take_the_scopes_of_recipient_profiles() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        app.put("/v1/recipients/u_s", &json!({})).await;
        let (read, _) =
            missive::service::auth::create_key(app.state.store.as_ref(), "read", "read")
                .await
                .unwrap();
        let put = |key: String| {
            app.client
                .put(app.url("/v1/recipients/u_s/devices"))
                .bearer_auth(key)
                .json(&subscription("https://push.example/s"))
                .send()
        };
        assert_eq!(put(read.clone()).await.unwrap().status(), 403);
        assert_eq!(put(String::new()).await.unwrap().status(), 401);
        assert_eq!(put(app.key.clone()).await.unwrap().status(), 201);
        let r = app
            .client
            .get(app.url("/v1/recipients/u_s/devices"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            delete(&app, "/v1/recipients/u_s/devices/dev_x", &read).await,
            403
        );
        app.stop().await;
    })
    .await;
}
