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
            .put("/v1/recipients/u_p/devices", &json!({"kind": "apns", "token": "a1b2", "platform": ""}))
            .await;
        assert_eq!(fields(r).await, ["platform"]);
        // An APNs token is hex: it goes into the request's path.
        let r = app
            .put("/v1/recipients/u_p/devices", &json!({"kind": "apns", "token": "../x?y"}))
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(fields(r).await, ["token"]);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_registers_itself_with_its_recipient_token() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[inbox]\ncors_origins = [\"https://shop.example\"]\n").await;
        for id in ["u_b", "u_other"] {
            app.put(&format!("/v1/recipients/{id}"), &json!({})).await;
        }
        let t: Value = app
            .post("/v1/recipients/u_b/token", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        let token = t["token"].as_str().unwrap().to_string();
        // The page's preflight, from the configured origin.
        let r = app
            .client
            .request(
                reqwest::Method::OPTIONS,
                app.url("/v1/recipients/u_b/devices"),
            )
            .header("Origin", "https://shop.example")
            .header("Access-Control-Request-Method", "PUT")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://shop.example"
        );
        assert!(r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PUT"));
        let put = |id: &str| {
            app.client
                .put(app.url(&format!("/v1/recipients/{id}/devices")))
                .bearer_auth(&token)
                .header("Origin", "https://shop.example")
                .json(&subscription("https://push.example/browser"))
                .send()
        };
        let r = put("u_b").await.unwrap();
        assert_eq!(r.status(), 201);
        let device: Value = r.json().await.unwrap();
        // Its own recipient only.
        assert_eq!(put("u_other").await.unwrap().status(), 403);
        let list = |id: &str| {
            app.client
                .get(app.url(&format!("/v1/recipients/{id}/devices")))
                .bearer_auth(&token)
                .send()
        };
        let mine: Value = list("u_b").await.unwrap().json().await.unwrap();
        assert_eq!(mine["devices"][0]["id"], device["id"]);
        assert_eq!(list("u_other").await.unwrap().status(), 403);
        let path = format!(
            "/v1/recipients/u_b/devices/{}",
            device["id"].as_str().unwrap()
        );
        assert_eq!(delete(&app, &path, &token).await, 204);
        // A revoked token registers nothing.
        let r = app
            .client
            .delete(app.url("/v1/recipients/u_b/token"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(put("u_b").await.unwrap().status(), 401);
        app.stop().await;
    })
    .await;
}

// ---- Web Push against a local push service --------------------------------

mod webpush {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, ECDH_P256};
    use ring::rand::{SecureRandom, SystemRandom};
    use serde_json::{json, Value};
    use sha2::Sha256;

    use crate::helpers::*;

    /// One request the push service got.
    #[derive(Clone, Debug)]
    struct Got {
        path: String,
        headers: HeaderMap,
        body: Vec<u8>,
        at: Instant,
    }

    #[derive(Default)]
    struct ServiceState {
        /// Answers by path, in order; then 201.
        script: HashMap<String, Vec<(u16, Option<&'static str>)>>,
        got: Vec<Got>,
    }

    /// A local stand-in for a browser vendor's push service.
    #[derive(Clone)]
    struct PushService {
        base: String,
        state: Arc<Mutex<ServiceState>>,
    }

    async fn handle(
        State(state): State<Arc<Mutex<ServiceState>>>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let mut st = state.lock().unwrap();
        let path = uri.path().to_string();
        st.got.push(Got {
            path: path.clone(),
            headers,
            body: body.to_vec(),
            at: Instant::now(),
        });
        let (status, retry_after) = match st.script.get_mut(&path) {
            Some(s) if !s.is_empty() => s.remove(0),
            _ => (201, None),
        };
        let mut r = (StatusCode::from_u16(status).unwrap(), "").into_response();
        if let Some(ra) = retry_after {
            r.headers_mut().insert("retry-after", ra.parse().unwrap());
        }
        r
    }

    type Answers = Vec<(u16, Option<&'static str>)>;

    impl PushService {
        /// Per path, the answers in turn: (status, Retry-After).
        async fn start(script: Vec<(&str, Answers)>) -> PushService {
            let state = Arc::new(Mutex::new(ServiceState {
                script: script
                    .into_iter()
                    .map(|(p, s)| (p.to_string(), s))
                    .collect(),
                got: vec![],
            }));
            let app = axum::Router::new()
                .fallback(handle)
                .with_state(state.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            PushService {
                base: format!("http://{addr}"),
                state,
            }
        }

        fn got(&self, path: &str) -> Vec<Got> {
            let st = self.state.lock().unwrap();
            st.got.iter().filter(|g| g.path == path).cloned().collect()
        }
    }

    /// What a browser keeps of its subscription: its P-256 key pair (ring's
    /// keys are for one agreement: one message is read per subscription)
    /// and its auth secret.
    struct Browser {
        private: Option<EphemeralPrivateKey>,
        public: Vec<u8>,
        auth: [u8; 16],
    }

    impl Browser {
        fn new() -> Browser {
            let rng = SystemRandom::new();
            let private = EphemeralPrivateKey::generate(&ECDH_P256, &rng).unwrap();
            let public = private.compute_public_key().unwrap().as_ref().to_vec();
            let mut auth = [0u8; 16];
            rng.fill(&mut auth).unwrap();
            Browser {
                private: Some(private),
                public,
                auth,
            }
        }

        /// `PushSubscription.toJSON()`, with the kind missive wants.
        fn subscription(&self, endpoint: &str) -> Value {
            json!({"kind": "webpush", "endpoint": endpoint, "expirationTime": null,
                   "keys": {"p256dh": URL_SAFE_NO_PAD.encode(&self.public), "auth": URL_SAFE_NO_PAD.encode(self.auth)}})
        }

        /// Decrypts an `aes128gcm` body as the browser does (RFC 8291).
        fn decrypt(&mut self, body: &[u8]) -> Value {
            use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
            let hmac = |key: &[u8], parts: &[&[u8]]| -> Vec<u8> {
                let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
                for p in parts {
                    m.update(p);
                }
                m.finalize().into_bytes().to_vec()
            };
            let salt = &body[..16];
            let rs = u32::from_be_bytes(body[16..20].try_into().unwrap());
            assert!(rs >= 18, "record size {rs}");
            assert_eq!(body[20], 65, "key id length");
            let as_public = &body[21..86];
            let secret = agree_ephemeral(
                self.private.take().expect("one message per subscription"),
                &UnparsedPublicKey::new(&ECDH_P256, as_public),
                |s| s.to_vec(),
            )
            .unwrap();
            let prk_key = hmac(&self.auth, &[&secret]);
            let ikm = hmac(
                &prk_key,
                &[b"WebPush: info\0", &self.public, as_public, &[1]],
            );
            let prk = hmac(salt, &[&ikm]);
            let cek = hmac(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
            let nonce = hmac(&prk, &[b"Content-Encoding: nonce\0", &[1]]);
            let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek[..16]).unwrap());
            let mut record = body[86..].to_vec();
            let plain = key
                .open_in_place(
                    Nonce::try_assume_unique_for_key(&nonce[..12]).unwrap(),
                    Aad::empty(),
                    &mut record,
                )
                .expect("the payload decrypts with the subscription's key");
            let end = plain.iter().rposition(|&b| b != 0).unwrap();
            assert_eq!(plain[end], 2, "the last record's delimiter");
            serde_json::from_slice(&plain[..end]).unwrap()
        }
    }

    fn push_toml(extra: &str) -> String {
        format!(
            "[channels.push]\nproviders = [\"webpush\"]\nretry_schedule = [\"10ms\", \"10ms\", \"10ms\"]\n\
             [channels.push.webpush]\nsubject = \"mailto:ops@example.com\"\nallow_private = true\nttl = \"2h\"\n{extra}"
        )
    }

    /// Checks the request's VAPID Authorization against the served public
    /// key; returns the JWT's claims.
    fn check_vapid(g: &Got, public_key: &str, origin: &str) -> Value {
        use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
        let auth = g.headers["authorization"].to_str().unwrap();
        let (t, k) = auth
            .strip_prefix("vapid t=")
            .and_then(|a| a.split_once(", k="))
            .unwrap_or_else(|| panic!("not a VAPID authorization: {auth}"));
        assert_eq!(k, public_key);
        let (signed, sig) = t.rsplit_once('.').unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, URL_SAFE_NO_PAD.decode(k).unwrap())
            .verify(signed.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .expect("the JWT's ES256 signature verifies with the served key");
        let (header, claims) = signed.split_once('.').unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["aud"], origin);
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        let exp = claims["exp"].as_i64().unwrap();
        let now = chrono::Utc::now().timestamp();
        assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}, now {now}");
        assert_eq!(g.headers["content-encoding"], "aes128gcm");
        assert_eq!(g.headers["ttl"], "7200");
        claims
    }

    async fn send_push(app: &TestApp, to: &str) -> String {
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"push": {"title": "Hello {{name}}", "body": "Your order shipped",
                         "data": "{\"order\": {{json order}}}", "action_url": "https://shop.example/o/7"}},
                        "to": [{"id": to}], "data": {"name": "Ana", "order": 7}}),
            )
            .await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 202, "{body:#}");
        assert_eq!(body["deliveries"][0]["channel"], "push", "{body:#}");
        body["deliveries"][0]["id"].as_str().unwrap().to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn web_push_is_signed_with_vapid_and_only_the_browser_can_read_it() {
        each_backend(|b| async move {
            let service = PushService::start(vec![]).await;
            let app = spawn_app_with(&b, &push_toml("")).await;
            // The key is served to anyone.
            let r = app
                .client
                .get(app.url("/v1/push/vapid-public-key"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let key = r.json::<Value>().await.unwrap()["public_key"]
                .as_str()
                .unwrap()
                .to_string();
            assert_eq!(URL_SAFE_NO_PAD.decode(&key).unwrap().len(), 65);
            // Generated on first start, kept under the data dir, 0600.
            let file = app.state.config.data_dir.join("vapid-private-key");
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&file).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", file.display());
            }

            app.put("/v1/recipients/u_w", &json!({})).await;
            let mut laptop = Browser::new();
            let mut phone = Browser::new();
            for (browser, path) in [(&laptop, "/sub/laptop"), (&phone, "/sub/phone")] {
                let s = browser.subscription(&format!("{}{path}", service.base));
                assert_eq!(
                    app.put("/v1/recipients/u_w/devices", &s).await.status(),
                    201
                );
            }
            let id = send_push(&app, "u_w").await;
            let d = app.wait_for_status(&id, "sent").await;
            for (browser, path) in [(&mut laptop, "/sub/laptop"), (&mut phone, "/sub/phone")] {
                let got = service.got(path);
                assert_eq!(got.len(), 1, "{path}");
                check_vapid(&got[0], &key, &service.base);
                let payload = browser.decrypt(&got[0].body);
                assert_eq!(payload["title"], "Hello Ana");
                assert_eq!(payload["body"], "Your order shipped");
                assert_eq!(payload["data"], json!({"order": 7}));
                assert_eq!(payload["action_url"], "https://shop.example/o/7");
            }
            let response = d["attempts"][0]["response"].as_str().unwrap();
            assert!(response.starts_with("2 of 2 devices took it"), "{response}");
            assert_eq!(response.matches("HTTP 201").count(), 2, "{response}");
            assert!(
                !response.contains("/sub/"),
                "endpoints are not repeated: {response}"
            );
            app.stop().await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_gone_subscription_is_removed_and_a_429_waits_its_retry_after() {
        each_backend(|b| async move {
            let service = PushService::start(vec![
                ("/sub/old", vec![(410, None)]),
                ("/sub/busy", vec![(429, Some("1"))]),
            ])
            .await;
            let app = spawn_app_with(&b, &push_toml("")).await;
            app.put("/v1/recipients/u_g", &json!({})).await;
            let old = Browser::new();
            let mut busy = Browser::new();
            let r = app
                .put(
                    "/v1/recipients/u_g/devices",
                    &old.subscription(&format!("{}/sub/old", service.base)),
                )
                .await;
            let old_id = r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            app.put(
                "/v1/recipients/u_g/devices",
                &busy.subscription(&format!("{}/sub/busy", service.base)),
            )
            .await;

            let id = send_push(&app, "u_g").await;
            let d = app.wait_for_status(&id, "sent").await;
            let attempts = d["attempts"].as_array().unwrap();
            assert_eq!(attempts.len(), 2, "{d:#}");
            let first = attempts[0]["response"].as_str().unwrap();
            assert!(
                first.contains(&format!("{old_id} (127.0.0.1): HTTP 410")),
                "{first}"
            );
            assert!(
                first.contains("subscription gone: device removed"),
                "{first}"
            );
            assert!(first.contains("HTTP 429"), "{first}");
            assert!(attempts[1]["response"]
                .as_str()
                .unwrap()
                .starts_with("1 of 1 devices took it"));
            // The gone device is removed, and not sent to again.
            let list = app.get_json("/v1/recipients/u_g/devices").await;
            let ids: Vec<&str> = list["devices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap())
                .collect();
            assert!(!ids.contains(&old_id.as_str()) && ids.len() == 1, "{list}");
            assert_eq!(service.got("/sub/old").len(), 1);
            // The busy one was tried again after its Retry-After, not the
            // 10 ms schedule.
            let busy_got = service.got("/sub/busy");
            assert_eq!(busy_got.len(), 2);
            let waited = busy_got[1].at - busy_got[0].at;
            assert!(
                waited >= Duration::from_millis(900),
                "retried after {waited:?}"
            );
            assert_eq!(busy.decrypt(&busy_got[1].body)["title"], "Hello Ana");
            app.stop().await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_no_configuration_push_goes_to_the_outbox() {
        each_backend(|b| async move {
            let app = spawn_app(&b).await;
            let r = app
                .client
                .get(app.url("/v1/push/vapid-public-key"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
            app.put("/v1/recipients/u_o", &json!({})).await;
            let id = send_push(&app, "u_o").await;
            app.wait_for_status(&id, "sent").await;
            let file = app
                .state
                .config
                .data_dir
                .join("outbox/push")
                .join(format!("{id}.json"));
            let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            assert_eq!(written["to"], "u_o");
            assert_eq!(written["payload"]["title"], "Hello Ana");
            app.stop().await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_endpoint_on_a_private_address_is_refused_unless_allowed() {
        each_backend(|b| async move {
            let service = PushService::start(vec![]).await;
            let toml = "[channels.push]\nproviders = [\"webpush\"]\nretry_schedule = [\"10ms\"]\n\
                        [channels.push.webpush]\nsubject = \"mailto:ops@example.com\"\n";
            let app = spawn_app_with(&b, toml).await;
            app.put("/v1/recipients/u_x", &json!({})).await;
            let s = Browser::new().subscription(&format!("{}/sub/x", service.base));
            app.put("/v1/recipients/u_x/devices", &s).await;
            let id = send_push(&app, "u_x").await;
            let d = app.wait_for_status(&id, "failed").await;
            let error = d["attempts"][0]["error"].as_str().unwrap_or_default();
            assert!(error.contains("allow_private"), "{d:#}");
            assert!(service.got("/sub/x").is_empty(), "nothing reached the endpoint");
            // A template whose data is not JSON is refused when sent.
            let r = app
                .post(
                    "/v1/notifications",
                    &json!({"content": {"push": {"title": "t", "data": "{not json"}}, "to": [{"id": "u_x"}]}),
                )
                .await;
            assert_eq!(r.status(), 422);
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["errors"][0]["field"], "content.push.data", "{p:#}");
            app.stop().await;
        })
        .await;
    }
}
