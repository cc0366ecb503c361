//! The push channel's `fcm` and `apns` providers against local stand-ins:
//! an OAuth token endpoint that verifies the service account's RS256
//! assertion, an FCM HTTP v1 server that checks the bearer token, the
//! project and the message, and an HTTP/2 (h2c) APNs server that verifies
//! the ES256 provider token, the topic and the payload. The keys are made
//! here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256,
};
use serde_json::{json, Value};

use crate::helpers::*;

const PROJECT: &str = "test-project";
const CLIENT_EMAIL: &str = "missive@test-project.iam.gserviceaccount.com";
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const KEY_ID: &str = "ABC123DEFG";
const TEAM_ID: &str = "TEAM123456";
const TOPIC: &str = "com.example.app";

fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// A service account's RSA key, made once per run (2048 bits takes a
/// moment): PKCS#8 PEM and the public key (PKCS#1 DER).
fn rsa_key() -> &'static (String, Vec<u8>) {
    static KEY: OnceLock<(String, Vec<u8>)> = OnceLock::new();
    KEY.get_or_init(|| {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let private = key.to_pkcs8_der().unwrap();
        let public = key.to_public_key().to_pkcs1_der().unwrap();
        (pem(private.as_bytes()), public.as_bytes().to_vec())
    })
}

/// An APNs `.p8` key: PKCS#8 PEM and the public key.
fn p256_key() -> (String, Vec<u8>) {
    let rng = SystemRandom::new();
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref(), &rng).unwrap();
    (pem(der.as_ref()), pair.public_key().as_ref().to_vec())
}

/// A JWT's header and claims once its signature verifies with `verify`.
fn open_jwt(
    token: &str,
    verify: impl FnOnce(&[u8], &[u8]) -> bool,
) -> Result<(Value, Value), String> {
    let (input, sig) = token.rsplit_once('.').ok_or("not a JWT")?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| "signature not base64url")?;
    if !verify(input.as_bytes(), &sig) {
        return Err("the signature does not verify".into());
    }
    let (h, c) = input.split_once('.').ok_or("not a JWT")?;
    let part = |p: &str| -> Result<Value, String> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).map_err(|_| "not base64url")?)
            .map_err(|e| e.to_string())
    };
    Ok((part(h)?, part(c)?))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

// ---- Google's OAuth token endpoint and FCM --------------------------------

/// One request FCM got.
#[derive(Clone, Debug)]
struct FcmGot {
    path: String,
    authorization: String,
    body: Value,
    at: Instant,
}

#[derive(Default)]
struct Google {
    /// The token endpoint's URL (the assertion's audience).
    token_uri: String,
    public_key: Vec<u8>,
    /// Access tokens issued, in order.
    issued: Vec<String>,
    /// Assertions refused, and why.
    refused: Vec<String>,
    /// FCM's answers by device token, in order (status, body, Retry-After);
    /// then 200.
    script: HashMap<String, FcmScript>,
    got: Vec<FcmGot>,
}

type Shared<T> = Arc<Mutex<T>>;

/// FCM's scripted answers to one device: status, body, Retry-After.
type FcmScript = Vec<(u16, Value, Option<&'static str>)>;

/// The OAuth 2.0 JWT-bearer grant, with the assertion checked as Google
/// does: RS256 under the service account's key, `iss`, `scope`, `aud`,
/// `iat` and `exp`.
async fn token_endpoint(
    State(g): State<Shared<Google>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut g = g.lock().unwrap();
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let check = || -> Result<(), String> {
        if headers.get("content-type").and_then(|v| v.to_str().ok())
            != Some("application/x-www-form-urlencoded")
        {
            return Err("not a form".into());
        }
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return Err(format!("grant_type {:?}", form.get("grant_type")));
        }
        let assertion = form.get("assertion").ok_or("no assertion")?;
        let (header, claims) = open_jwt(assertion, |input, sig| {
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &g.public_key)
                .verify(input, sig)
                .is_ok()
        })?;
        if header["alg"] != "RS256" || header["kid"] != "key-1" {
            return Err(format!("header {header}"));
        }
        if claims["iss"] != CLIENT_EMAIL
            || claims["scope"] != SCOPE
            || claims["aud"] != g.token_uri.as_str()
        {
            return Err(format!("claims {claims}"));
        }
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap_or(0),
            claims["exp"].as_i64().unwrap_or(0),
        );
        if (iat - now()).abs() > 60 || exp <= now() || exp - iat > 3600 {
            return Err(format!("times {claims}"));
        }
        Ok(())
    };
    match check() {
        Ok(()) => {
            let token = format!("ya29.test-{}", g.issued.len() + 1);
            g.issued.push(token.clone());
            axum::Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
                .into_response()
        }
        Err(why) => {
            g.refused.push(why);
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})),
            )
                .into_response()
        }
    }
}

/// FCM's `messages:send`: a token the endpoint issued (the latest, unless
/// a script answers first), then the scripted answer for the device.
async fn fcm_endpoint(
    State(g): State<Shared<Google>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut g = g.lock().unwrap();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    g.got.push(FcmGot {
        path: uri.path().to_string(),
        authorization: authorization.clone(),
        body: body.clone(),
        at: Instant::now(),
    });
    let known = authorization
        .strip_prefix("Bearer ")
        .is_some_and(|t| g.issued.iter().any(|i| i == t));
    if !known {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "Request had invalid authentication credentials."}})),
        )
            .into_response();
    }
    if uri.path() != format!("/v1/projects/{PROJECT}/messages:send") {
        return (StatusCode::NOT_FOUND, "no such path").into_response();
    }
    let token = body["message"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let answer = match g.script.get_mut(&token) {
        Some(s) if !s.is_empty() => Some(s.remove(0)),
        _ => None,
    };
    match answer {
        Some((status, body, retry_after)) => {
            let mut r = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
            if let Some(ra) = retry_after {
                r.headers_mut().insert("retry-after", ra.parse().unwrap());
            }
            r
        }
        None => axum::Json(json!({"name": format!("projects/{PROJECT}/messages/{}", g.got.len())}))
            .into_response(),
    }
}

struct Firebase {
    state: Shared<Google>,
    base: String,
    credentials: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Firebase {
    async fn start(script: Vec<(&str, FcmScript)>) -> Firebase {
        let (private_pem, public) = rsa_key().clone();
        let state = Arc::new(Mutex::new(Google {
            public_key: public,
            script: script
                .into_iter()
                .map(|(t, s)| (t.to_string(), s))
                .collect(),
            ..Google::default()
        }));
        let base = serve(
            axum::Router::new()
                .route("/token", axum::routing::post(token_endpoint))
                .fallback(fcm_endpoint)
                .with_state(state.clone()),
        )
        .await;
        let token_uri = format!("{base}/token");
        state.lock().unwrap().token_uri = token_uri.clone();
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("service-account.json");
        let file = json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "key-1",
            "private_key": private_pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "1",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        });
        std::fs::write(&credentials, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
        Firebase {
            state,
            base,
            credentials,
            _dir: dir,
        }
    }

    fn toml(&self) -> String {
        format!(
            "[channels.push.fcm]\ncredentials_file = \"{}\"\nbase_url = \"{}\"\nallow_private = true\n",
            self.credentials.display(),
            self.base
        )
    }

    fn issued(&self) -> usize {
        self.state.lock().unwrap().issued.len()
    }

    fn got(&self, token: &str) -> Vec<FcmGot> {
        let g = self.state.lock().unwrap();
        g.got
            .iter()
            .filter(|x| x.body["message"]["token"] == token)
            .cloned()
            .collect()
    }

    fn refused(&self) -> Vec<String> {
        self.state.lock().unwrap().refused.clone()
    }
}

fn fcm_error(code: u16, status: &str, error_code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status,
        "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}]}})
}

// ---- APNs over HTTP/2 -----------------------------------------------------

#[derive(Clone, Debug)]
struct ApnsGot {
    path: String,
    version: Version,
    headers: HeaderMap,
    /// The provider token's claims, when it verified; else why not.
    jwt: Result<(Value, Value), String>,
    body: Value,
}

#[derive(Default)]
struct Apple {
    public_key: Vec<u8>,
    /// Answers by device token (status, reason); then 200.
    script: HashMap<String, Vec<(u16, &'static str)>>,
    got: Vec<ApnsGot>,
}

async fn apns_endpoint(
    State(a): State<Shared<Apple>>,
    version: Version,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut a = a.lock().unwrap();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bearer "))
        .unwrap_or_default()
        .to_string();
    let key = a.public_key.clone();
    let jwt = open_jwt(&bearer, |input, sig| {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key)
            .verify(input, sig)
            .is_ok()
    });
    a.got.push(ApnsGot {
        path: uri.path().to_string(),
        version,
        headers: headers.clone(),
        jwt: jwt.clone(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let reason = |status: u16, reason: &str| {
        (
            StatusCode::from_u16(status).unwrap(),
            axum::Json(json!({"reason": reason})),
        )
            .into_response()
    };
    if jwt.is_err() {
        return reason(403, "InvalidProviderToken");
    }
    if headers.get("apns-topic").and_then(|v| v.to_str().ok()) != Some(TOPIC) {
        return reason(400, "DeviceTokenNotForTopic");
    }
    let token = uri
        .path()
        .strip_prefix("/3/device/")
        .unwrap_or_default()
        .to_string();
    match a.script.get_mut(&token) {
        Some(s) if !s.is_empty() => {
            let (status, r) = s.remove(0);
            reason(status, r)
        }
        _ => {
            let mut r = StatusCode::OK.into_response();
            r.headers_mut()
                .insert("apns-id", format!("ID-{}", a.got.len()).parse().unwrap());
            r
        }
    }
}

struct ApnsServer {
    state: Shared<Apple>,
    base: String,
    key_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl ApnsServer {
    /// APNs speaks HTTP/2 only: this one takes h2c with prior knowledge.
    async fn start(script: Vec<(&str, Vec<(u16, &'static str)>)>) -> ApnsServer {
        let (private_pem, public) = p256_key();
        let state = Arc::new(Mutex::new(Apple {
            public_key: public,
            script: script
                .into_iter()
                .map(|(t, s)| (t.to_string(), s))
                .collect(),
            got: vec![],
        }));
        let app = axum::Router::new()
            .fallback(apns_endpoint)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
                });
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("AuthKey_ABC123DEFG.p8");
        std::fs::write(&key_file, private_pem).unwrap();
        ApnsServer {
            state,
            base: format!("http://{addr}"),
            key_file,
            _dir: dir,
        }
    }

    fn toml(&self, extra: &str) -> String {
        format!(
            "[channels.push.apns]\nkey_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nteam_id = \"{TEAM_ID}\"\n\
             topic = \"{TOPIC}\"\nbase_url = \"{}\"\nallow_private = true\n{extra}",
            self.key_file.display(),
            self.base
        )
    }

    fn got(&self, token: &str) -> Vec<ApnsGot> {
        let a = self.state.lock().unwrap();
        a.got
            .iter()
            .filter(|g| g.path == format!("/3/device/{token}"))
            .cloned()
            .collect()
    }
}

/// Checks a request APNs got: HTTP/2, a provider token that verifies with
/// `kid`, `iss` and a recent `iat`, and the headers; returns the token.
fn check_apns(g: &ApnsGot) -> String {
    assert_eq!(g.version, Version::HTTP_2);
    let (header, claims) = g
        .jwt
        .clone()
        .expect("the provider token verifies with the key");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], KEY_ID);
    assert_eq!(claims["iss"], TEAM_ID);
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - now()).abs() < 120, "iat {iat}");
    assert_eq!(g.headers["apns-topic"], TOPIC);
    assert_eq!(g.headers["apns-push-type"], "alert");
    assert_eq!(g.headers["apns-priority"], "10");
    let exp: i64 = g.headers["apns-expiration"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The default expiration: a day.
    assert!((exp - (now() + 86400)).abs() < 120, "apns-expiration {exp}");
    g.headers["authorization"].to_str().unwrap().to_string()
}

// ---- the tests ------------------------------------------------------------

fn providers_toml(providers: &str, extra: &str) -> String {
    format!(
        "[channels.push]\nproviders = [{providers}]\ntimeout = \"5s\"\nretry_schedule = [\"10ms\", \"10ms\", \"10ms\"]\n{extra}"
    )
}

async fn send_push(app: &TestApp, to: &str) -> String {
    let r = app
        .post(
            "/v1/notifications",
            &json!({"content": {"push": {"title": "Hello {{name}}", "body": "Your order shipped",
                     "image": "https://shop.example/i/7.png", "badge": "3", "sound": "chime.caf",
                     "data": "{\"order\": {{json order}}, \"kind\": \"shipping\"}",
                     "action_url": "https://shop.example/o/7"}},
                    "to": [{"id": to}], "data": {"name": "Ana", "order": 7}}),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{body:#}");
    body["deliveries"][0]["id"].as_str().unwrap().to_string()
}

async fn add_device(app: &TestApp, to: &str, device: Value) -> String {
    let r = app
        .put(&format!("/v1/recipients/{to}/devices"), &device)
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn device_ids(app: &TestApp, to: &str) -> Vec<String> {
    let list = app.get_json(&format!("/v1/recipients/{to}/devices")).await;
    list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

fn hex_token(n: u8) -> String {
    hex::encode([n; 32])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_and_apns_devices_each_go_to_their_provider() {
    each_backend(|b| async move {
        let google = Firebase::start(vec![]).await;
        let apple = ApnsServer::start(vec![]).await;
        let toml = providers_toml(
            "\"fcm\", \"apns\"",
            &format!("{}{}", google.toml(), apple.toml("apps = [\"com.example.app\"]\n")),
        );
        let app = spawn_app_with(&b, &toml).await;
        app.put("/v1/recipients/u_m", &json!({})).await;
        let android = add_device(&app, "u_m", json!({"kind": "fcm", "token": "fcm-android-1", "platform": "android"})).await;
        let iphone = add_device(&app, "u_m", json!({"kind": "apns", "token": hex_token(1), "platform": "ios", "app": TOPIC})).await;
        let other = add_device(&app, "u_m", json!({"kind": "apns", "token": hex_token(2), "app": "com.example.other"})).await;

        let first = send_push(&app, "u_m").await;
        let d = app.wait_for_status(&first, "sent").await;
        let response = d["attempts"][0]["response"].as_str().unwrap();
        assert!(response.starts_with("2 of 2 devices took it"), "{response}");
        assert!(response.contains(&format!("{android} (fcm): HTTP 200 projects/{PROJECT}/messages/")), "{response}");
        assert!(response.contains(&format!("{iphone} (apns): HTTP 200 apns-id ID-")), "{response}");
        assert!(
            response.contains(&format!("{other} (apns): skipped, no apns provider here takes app \"com.example.other\"")),
            "{response}"
        );
        assert!(!response.contains("ya29") && !response.contains("bearer"), "no token in the log: {response}");
        assert!(apple.got(&hex_token(2)).is_empty());

        // FCM: the bearer token the endpoint issued, the project's path,
        // the message with its platform parts.
        let got = google.got("fcm-android-1");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].path, format!("/v1/projects/{PROJECT}/messages:send"));
        assert_eq!(got[0].authorization, "Bearer ya29.test-1");
        let m = &got[0].body["message"];
        assert_eq!(m["notification"], json!({"title": "Hello Ana", "body": "Your order shipped", "image": "https://shop.example/i/7.png"}));
        assert_eq!(m["data"]["order"], "7");
        assert_eq!(m["data"]["kind"], "shipping");
        assert_eq!(m["data"]["action_url"], "https://shop.example/o/7");
        assert!(m["data"]["notification_id"].is_string(), "{m}");
        assert_eq!(m["android"]["notification"], json!({"sound": "chime.caf", "notification_count": 3}));
        assert_eq!(m["apns"]["payload"]["aps"], json!({"badge": 3, "sound": "chime.caf"}));
        assert_eq!(m["webpush"]["fcm_options"]["link"], "https://shop.example/o/7");

        // APNs: HTTP/2, a verified provider token, the payload.
        let got = apple.got(&hex_token(1));
        assert_eq!(got.len(), 1);
        let jwt = check_apns(&got[0]);
        let p = &got[0].body;
        assert_eq!(
            p["aps"],
            json!({"alert": {"title": "Hello Ana", "body": "Your order shipped"}, "badge": 3, "sound": "chime.caf", "mutable-content": 1})
        );
        assert_eq!(p["order"], 7);
        assert_eq!(p["kind"], "shipping");
        assert_eq!(p["action_url"], "https://shop.example/o/7");

        // A second send: the access token and the provider token are reused.
        let second = send_push(&app, "u_m").await;
        app.wait_for_status(&second, "sent").await;
        assert_eq!(google.issued(), 1, "one access token for both sends");
        assert_eq!(google.got("fcm-android-1")[1].authorization, "Bearer ya29.test-1");
        let got = apple.got(&hex_token(1));
        assert_eq!(got.len(), 2);
        assert_eq!(check_apns(&got[1]), jwt, "one provider token for both sends");
        assert!(google.refused().is_empty(), "{:?}", google.refused());

        // The console: the recipient's devices (tokens cut short), and each
        // device's answer in the attempt.
        let console = crate::console::ConsoleClient::new(&app);
        console.sign_in(&app.key).await;
        let (status, html) = console.page("/console/recipients?id=u_m").await;
        assert_eq!(status, 200);
        for want in [&android, &iphone, &other, "fcm-android-…", "com.example.other", "ios"] {
            assert!(html.contains(want), "{want}: {html}");
        }
        assert!(!html.contains(&hex_token(1)), "tokens are cut short: {html}");
        let (_, html) = console.page(&format!("/console/deliveries/{first}")).await;
        assert!(html.contains(&format!("{android} (fcm): HTTP 200")), "{html}");
        assert!(html.contains(&format!("{iphone} (apns): HTTP 200 apns-id")), "{html}");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_removes_unregistered_tokens_and_retries_when_busy() {
    each_backend(|b| async move {
        let google = Firebase::start(vec![
            ("gone", vec![(404, fcm_error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."), None)]),
            ("bad", vec![(400, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"), None)]),
            ("busy", vec![(429, fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded."), Some("1"))]),
            ("down", vec![(503, fcm_error(503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."), None)]),
            ("renew", vec![(401, fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Request had invalid authentication credentials."), None)]),
        ])
        .await;
        let app = spawn_app_with(&b, &providers_toml("\"fcm\"", &google.toml())).await;
        app.put("/v1/recipients/u_f", &json!({})).await;
        let gone = add_device(&app, "u_f", json!({"kind": "fcm", "token": "gone"})).await;
        let bad = add_device(&app, "u_f", json!({"kind": "fcm", "token": "bad"})).await;
        let busy = add_device(&app, "u_f", json!({"kind": "fcm", "token": "busy"})).await;
        let down = add_device(&app, "u_f", json!({"kind": "fcm", "token": "down"})).await;

        let id = send_push(&app, "u_f").await;
        let d = app.wait_for_status(&id, "sent").await;
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 2, "{d:#}");
        let first = attempts[0]["response"].as_str().unwrap();
        assert!(first.starts_with("0 of 4 devices took it"), "{first}");
        assert!(
            first.contains(&format!("{gone} (fcm): HTTP 404 UNREGISTERED: Requested entity was not found. (token gone: device removed)")),
            "{first}"
        );
        assert!(first.contains(&format!("{bad} (fcm): HTTP 400 INVALID_ARGUMENT")), "{first}");
        assert!(first.contains(&format!("{busy} (fcm): HTTP 429 QUOTA_EXCEEDED")), "{first}");
        assert!(first.contains(&format!("{down} (fcm): HTTP 503 UNAVAILABLE")), "{first}");
        assert_eq!(first.matches("token gone: device removed").count(), 2, "{first}");
        let second = attempts[1]["response"].as_str().unwrap();
        assert!(second.starts_with("2 of 2 devices took it"), "{second}");
        // The gone tokens are removed and not sent to again; the busy one
        // waited its Retry-After.
        let mut left = device_ids(&app, "u_f").await;
        left.sort();
        let mut want = vec![busy.clone(), down.clone()];
        want.sort();
        assert_eq!(left, want);
        assert_eq!(google.got("gone").len(), 1);
        assert_eq!(google.got("bad").len(), 1);
        let busy_got = google.got("busy");
        assert_eq!(busy_got.len(), 2);
        let waited = busy_got[1].at - busy_got[0].at;
        assert!(waited >= Duration::from_millis(900), "retried after {waited:?}");

        // A 401 gets a new access token once, then the send goes through.
        app.put("/v1/recipients/u_r", &json!({})).await;
        add_device(&app, "u_r", json!({"kind": "fcm", "token": "renew"})).await;
        let before = google.issued();
        let id = send_push(&app, "u_r").await;
        let d = app.wait_for_status(&id, "sent").await;
        assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{d:#}");
        assert_eq!(google.issued(), before + 1, "one new token after the 401");
        let renew = google.got("renew");
        assert_eq!(renew.len(), 2);
        assert_ne!(renew[0].authorization, renew[1].authorization);
        assert!(google.refused().is_empty(), "{:?}", google.refused());
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apns_removes_gone_tokens_retries_when_busy_and_renews_an_expired_token() {
    each_backend(|b| async move {
        let apple = ApnsServer::start(vec![
            (&hex_token(10), vec![(410, "Unregistered")]),
            (&hex_token(11), vec![(400, "BadDeviceToken")]),
            (&hex_token(12), vec![(429, "TooManyRequests")]),
            (&hex_token(13), vec![(503, "ServiceUnavailable")]),
            (&hex_token(14), vec![(403, "ExpiredProviderToken")]),
        ])
        .await;
        let app = spawn_app_with(&b, &providers_toml("\"apns\"", &apple.toml(""))).await;
        app.put("/v1/recipients/u_a", &json!({})).await;
        let gone = add_device(&app, "u_a", json!({"kind": "apns", "token": hex_token(10)})).await;
        let bad = add_device(&app, "u_a", json!({"kind": "apns", "token": hex_token(11)})).await;
        let busy = add_device(&app, "u_a", json!({"kind": "apns", "token": hex_token(12)})).await;
        let down = add_device(&app, "u_a", json!({"kind": "apns", "token": hex_token(13)})).await;

        let id = send_push(&app, "u_a").await;
        let d = app.wait_for_status(&id, "sent").await;
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 2, "{d:#}");
        let first = attempts[0]["response"].as_str().unwrap();
        assert!(first.starts_with("0 of 4 devices took it"), "{first}");
        assert!(
            first.contains(&format!(
                "{gone} (apns): HTTP 410 Unregistered (token gone: device removed)"
            )),
            "{first}"
        );
        assert!(
            first.contains(&format!(
                "{bad} (apns): HTTP 400 BadDeviceToken (token gone: device removed)"
            )),
            "{first}"
        );
        assert!(
            first.contains(&format!("{busy} (apns): HTTP 429 TooManyRequests")),
            "{first}"
        );
        assert!(
            first.contains(&format!("{down} (apns): HTTP 503 ServiceUnavailable")),
            "{first}"
        );
        assert!(attempts[1]["response"]
            .as_str()
            .unwrap()
            .starts_with("2 of 2 devices took it"));
        let mut left = device_ids(&app, "u_a").await;
        left.sort();
        let mut want = vec![busy, down];
        want.sort();
        assert_eq!(left, want);
        assert_eq!(apple.got(&hex_token(10)).len(), 1);
        assert_eq!(apple.got(&hex_token(12)).len(), 2);
        for g in apple.got(&hex_token(12)) {
            check_apns(&g);
        }

        // ExpiredProviderToken: a new JWT, and the request again.
        app.put("/v1/recipients/u_e", &json!({})).await;
        add_device(&app, "u_e", json!({"kind": "apns", "token": hex_token(14)})).await;
        let id = send_push(&app, "u_e").await;
        let d = app.wait_for_status(&id, "sent").await;
        assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{d:#}");
        let got = apple.got(&hex_token(14));
        assert_eq!(got.len(), 2);
        assert_ne!(
            check_apns(&got[0]),
            check_apns(&got[1]),
            "a new provider token"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_files_are_checked_at_start_and_never_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let secret =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW5vdC1hLWtleQ==\n-----END PRIVATE KEY-----\n";
    let p8 = dir.path().join("bad.p8");
    std::fs::write(&p8, secret).unwrap();
    let sa = dir.path().join("sa.json");
    std::fs::write(
        &sa,
        json!({"type": "service_account", "project_id": "p", "private_key": secret,
                               "client_email": "a@b", "token_uri": "https://oauth2.example/token"})
        .to_string(),
    )
    .unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 70 * 1024]).unwrap();
    let build = |toml: String| async move {
        let db = TestDb::new(&Backend::Sqlite);
        let cfg = missive::config::Config::from_toml(&test_toml(&db, &toml)).unwrap();
        match missive::app::App::build(cfg, missive::app::Role::Serve).await {
            Ok(_) => panic!("expected an error for {toml}"),
            Err(e) => format!("{e:#}"),
        }
    };
    let e = build(providers_toml(
        "\"apns\"",
        &format!("[channels.push.apns]\nkey_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nteam_id = \"{TEAM_ID}\"\ntopic = \"{TOPIC}\"\n", p8.display()),
    ))
    .await;
    assert!(e.contains("channels.push.apns.key_file"), "{e}");
    assert!(!e.contains("c2VjcmV0"), "{e}");
    let e = build(providers_toml(
        "\"fcm\"",
        &format!(
            "[channels.push.fcm]\ncredentials_file = \"{}\"\n",
            sa.display()
        ),
    ))
    .await;
    assert!(e.contains("channels.push.fcm.credentials_file"), "{e}");
    assert!(!e.contains("c2VjcmV0"), "{e}");
    let e = build(providers_toml(
        "\"fcm\"",
        &format!(
            "[channels.push.fcm]\ncredentials_file = \"{}\"\n",
            big.display()
        ),
    ))
    .await;
    assert!(e.contains("larger than"), "{e}");
    // Every setting is a known one.
    let e = match missive::config::Config::from_toml("[channels.push.apns]\nkey_fil = \"x\"\n") {
        Ok(_) => panic!("a misspelt setting is refused"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("key_fil"), "{e}");
    // A plain-http base URL only with allow_private.
    let apple = ApnsServer::start(vec![]).await;
    let toml = apple.toml("").replace("allow_private = true\n", "");
    let e = build(providers_toml("\"apns\"", &toml)).await;
    assert!(e.contains("channels.push.apns.base_url"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_takes_the_devices_no_other_provider_does() {
    each_backend(|b| async move {
        let apple = ApnsServer::start(vec![]).await;
        let app = spawn_app_with(&b, &providers_toml("\"apns\", \"file\"", &apple.toml(""))).await;
        app.put("/v1/recipients/u_o", &json!({})).await;
        let phone = add_device(&app, "u_o", json!({"kind": "apns", "token": hex_token(3)})).await;
        let android = add_device(&app, "u_o", json!({"kind": "fcm", "token": "fcm-x"})).await;
        let id = send_push(&app, "u_o").await;
        let d = app.wait_for_status(&id, "sent").await;
        let response = d["attempts"][0]["response"].as_str().unwrap();
        assert!(response.starts_with("2 of 2 devices took it"), "{response}");
        assert!(
            response.contains(&format!("{phone} (apns): HTTP 200")),
            "{response}"
        );
        assert!(response.contains("file (1 devices): "), "{response}");
        assert_eq!(apple.got(&hex_token(3)).len(), 1);
        let file = app
            .state
            .config
            .data_dir
            .join("outbox/push")
            .join(format!("{id}.json"));
        let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(written["devices"], json!([android]), "{written:#}");
        app.stop().await;
    })
    .await;
}
