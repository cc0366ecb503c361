//! SMS delivery end to end: a local server speaking Twilio's Messages API
//! (basic auth, form fields, its answers and error JSON), the generic `http`
//! gateway, the `file` default, and start-up checks of provider settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::*;

pub(crate) const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const TOKEN: &str = "tw-secret-auth-token-1234";
pub(crate) const FROM: &str = "+15005550006";
pub(crate) const PHONE: &str = "+8613800000000";

/// How the fake Twilio answers one request.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    Created,
    TooMany { retry_after: &'static str },
    InvalidNumber,
    ServerError,
}

/// One request the fake Twilio got.
#[derive(Clone, Debug)]
pub(crate) struct TwilioRequest {
    account_sid: String,
    /// (user, password) from basic auth.
    auth: Option<(String, String)>,
    content_type: String,
    pub(crate) form: HashMap<String, String>,
    at: Instant,
    /// The sid answered with, on success.
    sid: Option<String>,
}

#[derive(Default)]
struct TwilioState {
    script: Vec<Reply>,
    requests: Vec<TwilioRequest>,
}

/// A local stand-in for `https://api.twilio.com`.
#[derive(Clone)]
pub(crate) struct FakeTwilio {
    base_url: String,
    state: Arc<Mutex<TwilioState>>,
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let b = base64::engine::general_purpose::STANDARD
        .decode(v.strip_prefix("Basic ")?)
        .ok()?;
    let s = String::from_utf8(b).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn twilio_json(status: u16, v: Value) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap(), v.to_string()).into_response();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

async fn messages(
    State(state): State<Arc<Mutex<TwilioState>>>,
    Path(account_sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let auth = basic_auth(&headers);
    let mut st = state.lock().unwrap();
    st.requests.push(TwilioRequest {
        account_sid: account_sid.clone(),
        auth: auth.clone(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        form: form.clone(),
        at: Instant::now(),
        sid: None,
    });
    if auth != Some((SID.to_string(), TOKEN.to_string())) || account_sid != SID {
        return twilio_json(
            401,
            json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}),
        );
    }
    let reply = if st.script.is_empty() {
        Reply::Created
    } else {
        st.script.remove(0)
    };
    match reply {
        Reply::Created => {
            let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
            st.requests.last_mut().unwrap().sid = Some(sid.clone());
            twilio_json(
                201,
                json!({
                    "account_sid": SID,
                    "api_version": "2010-04-01",
                    "body": form.get("Body"),
                    "from": form.get("From"),
                    "messaging_service_sid": form.get("MessagingServiceSid"),
                    "sid": sid,
                    "status": "queued",
                    "to": form.get("To"),
                    "uri": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json"),
                }),
            )
        }
        Reply::TooMany { retry_after } => {
            let mut r = twilio_json(
                429,
                json!({"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}),
            );
            r.headers_mut()
                .insert("retry-after", retry_after.parse().unwrap());
            r
        }
        Reply::InvalidNumber => twilio_json(
            400,
            json!({"code": 21211, "message": "The 'To' number is not a valid phone number.",
                   "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}),
        ),
        Reply::ServerError => twilio_json(
            500,
            json!({"code": 20500, "message": "Internal Server Error", "status": 500}),
        ),
    }
}

impl FakeTwilio {
    pub(crate) async fn start(script: Vec<Reply>) -> FakeTwilio {
        let state = Arc::new(Mutex::new(TwilioState {
            script,
            requests: vec![],
        }));
        let app = axum::Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(messages))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeTwilio {
            base_url: format!("http://{addr}"),
            state,
        }
    }

    pub(crate) fn requests(&self) -> Vec<TwilioRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Config using this server, with `sender` (`from = ...` or
    /// `messaging_service_sid = ...`) and `token`.
    pub(crate) fn toml(&self, sender: &str, token: &str) -> String {
        format!(
            "[channels.sms]\nproviders = [\"twilio\"]\nretry_schedule = [\"10ms\", \"10ms\"]\n\
             [channels.sms.twilio]\naccount_sid = \"{SID}\"\nauth_token = \"{token}\"\n{sender}\nbase_url = \"{}\"\nallow_private = true\n",
            self.base_url
        )
    }
}

pub(crate) fn with_from() -> String {
    format!("from = \"{FROM}\"")
}

/// Sends one notification with inline SMS content; returns the delivery id.
pub(crate) async fn send_sms(app: &TestApp, text: &str, data: Value) -> String {
    let r = app
        .post(
            "/v1/notifications",
            &json!({"content": {"sms": {"text": text}}, "to": [{"phone": PHONE}], "data": data}),
        )
        .await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let accepted: Value = r.json().await.unwrap();
    assert_eq!(accepted["deliveries"][0]["channel"], "sms");
    accepted["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn attempts(d: &Value) -> &Vec<Value> {
    d["attempts"].as_array().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_accepts_and_the_sid_is_recorded() {
    each_backend(|b| async move {
        let tw = FakeTwilio::start(vec![]).await;
        let app = spawn_app_with(&b, &tw.toml(&with_from(), TOKEN)).await;
        let id = send_sms(&app, "Code {{code}}", json!({"code": "123456"})).await;
        let d = app.wait_for_status(&id, "sent").await;

        let got = tw.requests();
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(r.account_sid, SID);
        assert_eq!(r.auth, Some((SID.to_string(), TOKEN.to_string())));
        assert!(
            r.content_type
                .starts_with("application/x-www-form-urlencoded"),
            "{}",
            r.content_type
        );
        assert_eq!(r.form.get("To").map(String::as_str), Some(PHONE));
        assert_eq!(r.form.get("Body").map(String::as_str), Some("Code 123456"));
        assert_eq!(r.form.get("From").map(String::as_str), Some(FROM));
        assert!(!r.form.contains_key("MessagingServiceSid"));
        assert_eq!(r.form.len(), 3, "{:?}", r.form);

        let a = attempts(&d);
        assert_eq!(a.len(), 1, "{d:#}");
        assert_eq!(a[0]["outcome"], "ok");
        assert_eq!(a[0]["provider"], "twilio");
        assert_eq!(a[0]["status_code"], 201);
        let sid = r.sid.clone().unwrap();
        let response = a[0]["response"].as_str().unwrap();
        assert!(
            response.starts_with(&format!("sid={sid} status=queued")),
            "{response}"
        );
        assert!(response.contains("\"status\":\"queued\""), "{response}");
        assert_eq!(d["content"]["text"], "Code 123456");
        assert!(
            !d.to_string().contains(TOKEN),
            "the auth token leaked into the delivery: {d:#}"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_text_arrives_intact() {
    each_backend(|b| async move {
        let tw = FakeTwilio::start(vec![]).await;
        let app = spawn_app_with(&b, &tw.toml(&with_from(), TOKEN)).await;
        let id = send_sms(
            &app,
            "验证码 {{code}}，5分钟内有效 & 勿泄露",
            json!({"code": "123456"}),
        )
        .await;
        app.wait_for_status(&id, "sent").await;
        let got = tw.requests();
        assert_eq!(got[0].form["Body"], "验证码 123456，5分钟内有效 & 勿泄露");
        assert_eq!(got[0].form["To"], PHONE);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messaging_service_replaces_the_from_number() {
    each_backend(|b| async move {
        let tw = FakeTwilio::start(vec![]).await;
        let mg = "MG0123456789abcdef0123456789abcdef";
        let app = spawn_app_with(
            &b,
            &tw.toml(&format!("messaging_service_sid = \"{mg}\""), TOKEN),
        )
        .await;
        let id = send_sms(&app, "Code {{code}}", json!({"code": "1"})).await;
        app.wait_for_status(&id, "sent").await;
        let got = tw.requests();
        assert_eq!(
            got[0].form.get("MessagingServiceSid").map(String::as_str),
            Some(mg)
        );
        assert!(!got[0].form.contains_key("From"), "{:?}", got[0].form);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_for_retry_after() {
    each_backend(|b| async move {
        let tw = FakeTwilio::start(vec![Reply::TooMany { retry_after: "1" }]).await;
        let app = spawn_app_with(&b, &tw.toml(&with_from(), TOKEN)).await;
        let id = send_sms(&app, "Code {{code}}", json!({"code": "123456"})).await;
        let d = app.wait_for_status(&id, "sent").await;
        let a = attempts(&d);
        assert_eq!(a.len(), 2, "{d:#}");
        assert_eq!(a[0]["outcome"], "transient");
        assert_eq!(a[0]["status_code"], 429);
        assert!(a[0]["error"].as_str().unwrap().contains("20429"), "{d:#}");
        assert_eq!(a[1]["outcome"], "ok");
        assert_eq!(a[1]["status_code"], 201);
        let got = tw.requests();
        assert_eq!(got.len(), 2);
        let gap = got[1].at - got[0].at;
        // Retry-After: 1, with 10 ms scheduled: at least the second asked for.
        assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
        app.stop().await;
    })
    .await;
}

/// With its only provider paused by a 429, a channel's other deliveries
/// wait for the pause to end (`scheduled`, `provider_paused`) instead of
/// calling the provider that asked to be left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_holds_back_the_other_deliveries_too() {
    each_backend(|b| async move {
        let tw = FakeTwilio::start(vec![Reply::TooMany { retry_after: "3" }]).await;
        let app = spawn_app_with(&b, &tw.toml(&with_from(), TOKEN)).await;
        let first = send_sms(&app, "Code {{code}}", json!({"code": "1"})).await;
        // Its attempt is written after the 429 paused the provider.
        app.wait_for_status(&first, "retrying").await;
        assert_eq!(tw.requests().len(), 1);
        let second = send_sms(&app, "Code {{code}}", json!({"code": "2"})).await;
        let waiting = poll_until(Duration::from_secs(5), || async {
            let v = app.get_json(&format!("/v1/deliveries/{second}")).await;
            (v["reason"] == "provider_paused" || v["status"] == "sent", v)
        })
        .await
        .unwrap();
        assert_eq!(waiting["status"], "scheduled", "{waiting:#}");
        assert_eq!(waiting["reason"], "provider_paused", "{waiting:#}");
        assert!(waiting["next_attempt_at"].is_string(), "{waiting:#}");
        app.wait_for_status(&first, "sent").await;
        app.wait_for_status(&second, "sent").await;
        let got = tw.requests();
        assert_eq!(got.len(), 3, "one 429, then one send each");
        for r in &got[1..] {
            let gap = r.at - got[0].at;
            assert!(
                gap >= Duration::from_millis(2_900),
                "called {gap:?} into a 3 s pause"
            );
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_retried() {
    each_backend(|b| async move {
        let tw = FakeTwilio::start(vec![Reply::ServerError]).await;
        let app = spawn_app_with(&b, &tw.toml(&with_from(), TOKEN)).await;
        let id = send_sms(&app, "Code {{code}}", json!({"code": "123456"})).await;
        let d = app.wait_for_status(&id, "sent").await;
        let a = attempts(&d);
        assert_eq!(a.len(), 2, "{d:#}");
        assert_eq!(a[0]["outcome"], "transient");
        assert_eq!(a[0]["status_code"], 500);
        assert_eq!(a[1]["outcome"], "ok");
        assert_eq!(tw.requests().len(), 2);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_number_fails_at_once_with_twilios_error() {
    each_backend(|b| async move {
        let tw = FakeTwilio::start(vec![
            Reply::InvalidNumber,
            Reply::InvalidNumber,
            Reply::InvalidNumber,
        ])
        .await;
        let app = spawn_app_with(&b, &tw.toml(&with_from(), TOKEN)).await;
        let id = send_sms(&app, "Code {{code}}", json!({"code": "123456"})).await;
        let d = app.wait_for_status(&id, "failed").await;
        assert_eq!(d["reason"], "permanent_error");
        let a = attempts(&d);
        assert_eq!(a.len(), 1, "{d:#}");
        assert_eq!(a[0]["outcome"], "permanent");
        assert_eq!(a[0]["status_code"], 400);
        let error = a[0]["error"].as_str().unwrap();
        assert!(
            error.contains("21211") && error.contains("not a valid phone number"),
            "{error}"
        );
        assert!(a[0]["response"].as_str().unwrap().contains("21211"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(tw.requests().len(), 1, "nothing more is sent");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_auth_token_fails_without_leaking_it() {
    each_backend(|b| async move {
        let tw = FakeTwilio::start(vec![]).await;
        let wrong = "not-the-right-token-5678";
        let app = spawn_app_with(&b, &tw.toml(&with_from(), wrong)).await;
        let id = send_sms(&app, "Code {{code}}", json!({"code": "123456"})).await;
        let d = app.wait_for_status(&id, "failed").await;
        assert_eq!(d["reason"], "permanent_error");
        let a = attempts(&d);
        assert_eq!(a.len(), 1, "{d:#}");
        assert_eq!(a[0]["outcome"], "permanent");
        assert_eq!(a[0]["status_code"], 401);
        assert!(a[0]["error"].as_str().unwrap().contains("20003"), "{d:#}");
        assert_eq!(
            tw.requests()[0].auth,
            Some((SID.to_string(), wrong.to_string()))
        );
        assert!(
            !d.to_string().contains(wrong),
            "the auth token leaked: {d:#}"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_provider_is_transient_until_retries_run_out() {
    each_backend(|b| async move {
        // A port nothing listens on.
        let port = free_port();
        let tw = FakeTwilio {
            base_url: format!("http://127.0.0.1:{port}"),
            state: Arc::default(),
        };
        let app = spawn_app_with(&b, &tw.toml(&with_from(), TOKEN)).await;
        let id = send_sms(&app, "Code {{code}}", json!({"code": "1"})).await;
        let d = app.wait_for_status(&id, "failed").await;
        assert_eq!(d["reason"], "retries_exhausted");
        let a = attempts(&d);
        assert_eq!(a.len(), 3, "{d:#}");
        assert!(
            a.iter()
                .all(|a| a["outcome"] == "transient" && a["status_code"].is_null()),
            "{d:#}"
        );
        assert!(
            !d.to_string().contains(TOKEN),
            "the auth token leaked: {d:#}"
        );
        app.stop().await;
    })
    .await;
}

/// One request the gateway got.
#[derive(Clone, Debug)]
struct GatewayRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_provider_sends_the_rendered_request_and_retries() {
    each_backend(|b| async move {
        // A gateway answering 503, then 200.
        let seen: Arc<Mutex<Vec<GatewayRequest>>> = Arc::default();
        let s = seen.clone();
        let gateway = axum::Router::new().route(
            "/sms",
            any(
                move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                    let s = s.clone();
                    async move {
                        let mut seen = s.lock().unwrap();
                        seen.push(GatewayRequest {
                            method,
                            uri,
                            headers,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        if seen.len() == 1 {
                            (StatusCode::SERVICE_UNAVAILABLE, "busy".to_string())
                        } else {
                            (
                                StatusCode::OK,
                                "{\"accepted\": true, \"id\": 42}".to_string(),
                            )
                        }
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, gateway).await.unwrap() });

        let toml = format!(
            "[channels.sms]\nproviders = [\"gw\"]\nretry_schedule = [\"10ms\", \"10ms\"]\n\
             [channels.sms.gw]\ntype = \"http\"\nallow_private = true\nmethod = \"PUT\"\nurl = \"http://{addr}/sms?to={{{{to}}}}\"\n\
             content_type = \"application/json; charset=utf-8\"\n\
             body = '{{\"to\": {{{{json to}}}}, \"text\": {{{{json text}}}}, \"ref\": {{{{json delivery_id}}}} }}'\n\
             headers = {{ Authorization = \"Bearer gw-key\", X-Tenant = \"acme\" }}\n"
        );
        let app = spawn_app_with(&b, &toml).await;
        let id = send_sms(&app, "Code {{code}} \"quoted\"", json!({"code": "123456"})).await;
        let d = app.wait_for_status(&id, "sent").await;

        let got = seen.lock().unwrap().clone();
        assert_eq!(got.len(), 2);
        for r in &got {
            assert_eq!(r.method, Method::PUT);
            assert_eq!(r.uri.query(), Some("to=%2B8613800000000"));
            assert_eq!(r.headers["authorization"], "Bearer gw-key");
            assert_eq!(r.headers["x-tenant"], "acme");
            assert_eq!(r.headers["content-type"], "application/json; charset=utf-8");
            let body: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(
                body,
                json!({"to": PHONE, "text": "Code 123456 \"quoted\"", "ref": id})
            );
        }
        let a = attempts(&d);
        assert_eq!(a.len(), 2, "{d:#}");
        assert_eq!(a[0]["provider"], "gw");
        assert_eq!(a[0]["outcome"], "transient");
        assert_eq!(a[0]["status_code"], 503);
        assert_eq!(a[0]["response"], "busy");
        assert_eq!(a[1]["outcome"], "ok");
        assert_eq!(a[1]["status_code"], 200);
        assert_eq!(a[1]["response"], "{\"accepted\": true, \"id\": 42}");
        assert!(
            !d.to_string().contains("gw-key"),
            "a header secret leaked: {d:#}"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_file_provider_writes_json() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let id = send_sms(&app, "验证码 {{code}}", json!({"code": "123456"})).await;
        let d = app.wait_for_status(&id, "sent").await;
        let a = attempts(&d);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0]["provider"], "file");
        assert_eq!(a[0]["outcome"], "ok");
        let path = app
            .db
            .dir
            .path()
            .join("outbox")
            .join("sms")
            .join(format!("{id}.json"));
        let written: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(written["to"], PHONE);
        assert_eq!(written["text"], "验证码 123456");
        assert_eq!(written["delivery_id"], id.as_str());
        assert_eq!(written["notification_id"], d["notification_id"]);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_fails_naming_the_bad_provider_setting() {
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let toml = test_toml(
            &db,
            &format!("[channels.sms]\nproviders = [\"twilio\"]\n[channels.sms.twilio]\naccount_sid = \"{SID}\"\nfrom = \"{FROM}\"\n"),
        );
        let cfg = missive::Config::from_toml(&toml).unwrap();
        let e = match missive::App::build(cfg, missive::Role::Serve).await {
            Ok(_) => panic!("a twilio provider without auth_token must not start"),
            Err(e) => format!("{e:#}"),
        };
        assert!(e.contains("channels.sms.twilio.auth_token"), "{e}");

        // Other bad settings, checked by building the channels alone.
        let cases = [
            (format!("[channels.sms]\nproviders = [\"twilio\"]\n[channels.sms.twilio]\naccount_sid = \"{SID}\"\nauth_token = \"t\"\n"), "channels.sms.twilio.from"),
            ("[channels.sms]\nproviders = [\"http\"]\n".to_string(), "channels.sms.http.url"),
            ("[channels.sms]\nproviders = [\"http\"]\n[channels.sms.http]\nurl = \"http://gw/sms\"\nmethod = \"DELETE\"\n".to_string(), "channels.sms.http.method"),
            ("[channels.sms]\nproviders = [\"http\"]\n[channels.sms.http]\nurl = \"http://gw/sms\"\nbody = \"{{#each to}\"\n".to_string(), "channels.sms.http.body"),
            ("[channels.sms]\nproviders = [\"http\"]\n[channels.sms.http]\nurl = \"http://gw/sms\"\nbody = \"{{number}}\"\n".to_string(), "channels.sms.http.body"),
        ];
        for (extra, key) in cases {
            let mut cfg = missive::Config::from_toml(&test_toml(&db, &extra)).unwrap();
            // App::build fills the webhook secret in; do it by hand here.
            cfg.webhook.signing_secret = missive::channels::webhook::generate_secret();
            match missive::channels(&cfg) {
                Ok(_) => panic!("expected an error naming {key} for\n{extra}"),
                Err(e) => assert!(format!("{e:#}").contains(key), "{e:#} should name {key}"),
            }
        }
    })
    .await;
}

/// Two Twilio accounts in failover order: a transient failure of the first
/// moves the next attempt to the second; after `breaker_threshold` failures
/// the first's breaker opens and new deliveries go straight to the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_hands_over_to_the_next_and_its_breaker_opens() {
    each_backend(|b| async move {
        let primary = FakeTwilio::start(vec![Reply::ServerError; 10]).await;
        let backup = FakeTwilio::start(vec![]).await;
        let toml = format!(
            "[channels.sms]\nproviders = [\"primary\", \"backup\"]\nretry_schedule = [\"10ms\", \"10ms\"]\n\
             breaker_threshold = 2\nbreaker_cool_down = \"1h\"\n\
             [channels.sms.primary]\ntype = \"twilio\"\naccount_sid = \"{SID}\"\nauth_token = \"{TOKEN}\"\nfrom = \"{FROM}\"\nbase_url = \"{}\"\nallow_private = true\n\
             [channels.sms.backup]\ntype = \"twilio\"\naccount_sid = \"{SID}\"\nauth_token = \"{TOKEN}\"\nfrom = \"{FROM}\"\nbase_url = \"{}\"\nallow_private = true\n",
            primary.base_url, backup.base_url
        );
        let app = spawn_app_with(&b, &toml).await;

        let first = send_sms(&app, "one", json!({})).await;
        let d = app.wait_for_status(&first, "sent").await;
        let providers: Vec<&str> = attempts(&d)
            .iter()
            .map(|a| a["provider"].as_str().unwrap())
            .collect();
        assert_eq!(providers, vec!["primary", "backup"], "{d:#}");
        assert_eq!(attempts(&d)[0]["status_code"], 500);

        // A second failure on the primary opens its breaker...
        let second = send_sms(&app, "two", json!({})).await;
        app.wait_for_status(&second, "sent").await;
        assert_eq!(primary.requests().len(), 2);
        // ...so the third goes to the backup on its first attempt.
        let third = send_sms(&app, "three", json!({})).await;
        let d = app.wait_for_status(&third, "sent").await;
        let providers: Vec<&str> = attempts(&d)
            .iter()
            .map(|a| a["provider"].as_str().unwrap())
            .collect();
        assert_eq!(providers, vec!["backup"]);
        assert_eq!(
            primary.requests().len(),
            2,
            "the open breaker keeps traffic off the primary"
        );
        assert_eq!(backup.requests().len(), 3);
        let states = app.get_json("/v1/providers").await;
        let sms: Vec<(&str, &str)> = states["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["channel"] == "sms")
            .map(|p| {
                (
                    p["provider"].as_str().unwrap(),
                    p["state"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(sms, vec![("primary", "open"), ("backup", "closed")]);
        app.stop().await;
    })
    .await;
}

/// A provider's own rate limit: deliveries wait for it, none is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_own_rate_limit_paces_its_sends() {
    each_backend(|b| async move {
        let twilio = FakeTwilio::start(vec![]).await;
        let toml = format!(
            "{}rate_limit = \"5/s\"\nrate_burst = 1\n",
            twilio.toml(&with_from(), TOKEN)
        );
        let app = spawn_app_with(&b, &toml).await;
        let started = Instant::now();
        let to: Vec<Value> = (0..11).map(|_| json!({"phone": PHONE})).collect();
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"sms": {"text": "hi"}}, "to": to}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        for d in accepted["deliveries"].as_array().unwrap() {
            app.wait_for_status(d["id"].as_str().unwrap(), "sent").await;
        }
        let took = started.elapsed();
        // One at once, then five a second: ten more take about two seconds.
        assert!(took >= Duration::from_millis(1_700), "11 sent in {took:?}");
        let mut at: Vec<Instant> = twilio.requests().iter().map(|r| r.at).collect();
        at.sort();
        assert_eq!(at.len(), 11);
        for w in at.windows(7) {
            assert!(
                w[6] - w[0] >= Duration::from_millis(900),
                "7 sends within {:?}",
                w[6] - w[0]
            );
        }
        app.stop().await;
    })
    .await;
}
