//! The chat channel end to end, one local server per provider speaking
//! enough of its protocol to check what missive sends (the path, the token
//! or key, the signature recomputed here, the body's shape) and to answer
//! as the provider does, errors and rate limits included. Also the `file`
//! default, addresses in profiles, and what a send refuses.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

/// One request the fake provider got.
#[derive(Clone, Debug)]
struct Got {
    path: String,
    /// The query, decoded, in order.
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Value,
    at: Instant,
}

impl Got {
    fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, extra headers, body.
#[derive(Clone, Debug)]
struct Answer(u16, Vec<(&'static str, String)>, String);

fn answer(status: u16, body: Value) -> Answer {
    Answer(status, vec![], body.to_string())
}

#[derive(Default)]
struct FakeState {
    script: Vec<Answer>,
    then: Option<Answer>,
    got: Vec<Got>,
}

/// A local stand-in for a chat provider: records every request, answers
/// from its script, then with `then`.
#[derive(Clone)]
struct Fake {
    base: String,
    state: Arc<Mutex<FakeState>>,
}

async fn handle(
    State(state): State<Arc<Mutex<FakeState>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let mut st = state.lock().unwrap();
    st.got.push(Got {
        path: uri.path().to_string(),
        query,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
    });
    let Answer(status, extra, body) = if st.script.is_empty() {
        st.then.clone().unwrap()
    } else {
        st.script.remove(0)
    };
    let mut r = (StatusCode::from_u16(status).unwrap(), body).into_response();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    for (k, v) in extra {
        r.headers_mut().insert(k, v.parse().unwrap());
    }
    r
}

impl Fake {
    async fn start(script: Vec<Answer>, then: Answer) -> Fake {
        let state = Arc::new(Mutex::new(FakeState {
            script,
            then: Some(then),
            got: vec![],
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake {
            base: format!("http://{addr}"),
            state,
        }
    }

    fn got(&self) -> Vec<Got> {
        self.state.lock().unwrap().got.clone()
    }
}

/// Quick retries, and one provider of `kind` named `name` with `settings`.
fn chat_toml(name: &str, kind: &str, settings: &str) -> String {
    format!(
        "[channels.chat]\nproviders = [\"{name}\"]\nretry_schedule = [\"10ms\", \"10ms\", \"10ms\"]\n\
         [channels.chat.{name}]\ntype = \"{kind}\"\nallow_private = true\nrate_limit = \"\"\n{settings}\n"
    )
}

/// Sends inline chat content to `to`; returns the delivery id.
async fn send_chat(app: &TestApp, chat: Value, to: Value, data: Value) -> String {
    let r = app
        .post(
            "/v1/notifications",
            &json!({"content": {"chat": chat}, "to": [to], "data": data}),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{body:#}");
    assert_eq!(body["deliveries"][0]["channel"], "chat", "{body:#}");
    body["deliveries"][0]["id"].as_str().unwrap().to_string()
}

fn attempts(d: &Value) -> &Vec<Value> {
    d["attempts"].as_array().unwrap()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A retrying delivery's next attempt is at least `secs` away (less a
/// little for the time since it was written).
fn waits_at_least(d: &Value, secs: i64) {
    assert_eq!(d["status"], "retrying", "{d:#}");
    let next = chrono::DateTime::parse_from_rfc3339(d["next_attempt_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!(
        next - now_s() >= secs - 5,
        "next attempt in {} s, expected about {secs} s: {d:#}",
        next - now_s()
    );
}

const SLACK_TOKEN: &str = "xoxb-1234-5678-s3cretSlackToken";

fn slack_ok(channel: &str) -> Answer {
    answer(
        200,
        json!({"ok": true, "channel": channel, "ts": "1733300000.000100", "message": {"text": "x"}}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_posts_the_message_with_its_bot_token_and_blocks() {
    each_backend(|b| async move {
        let slack = Fake::start(vec![], slack_ok("C0123ABCD")).await;
        let toml = chat_toml(
            "slack",
            "slack",
            &format!("token = \"{SLACK_TOKEN}\"\nbase_url = \"{}\"", slack.base),
        );
        let app = spawn_app_with(&b, &toml).await;
        let id = send_chat(
            &app,
            json!({
                "title": "Order {{n}}",
                "text": "Shipped to {{name}}",
                "blocks": "[{\"type\": \"section\", \"text\": {\"type\": \"mrkdwn\", \"text\": {{json name}} }}]",
            }),
            json!({"chat": "slack:C0123ABCD"}),
            json!({"n": 7, "name": "Ana \"A\""}),
        )
        .await;
        let d = app.wait_for_status(&id, "sent").await;
        let got = slack.got();
        assert_eq!(got.len(), 1);
        let g = &got[0];
        assert_eq!(g.path, "/api/chat.postMessage");
        assert_eq!(
            g.headers["authorization"].to_str().unwrap(),
            format!("Bearer {SLACK_TOKEN}")
        );
        assert!(g.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(g.body["channel"], "C0123ABCD");
        assert_eq!(g.body["text"], "*Order 7*\nShipped to Ana \"A\"");
        assert_eq!(
            g.body["blocks"],
            json!([{"type": "section", "text": {"type": "mrkdwn", "text": "Ana \"A\""}}])
        );
        let a = attempts(&d);
        assert_eq!(a.len(), 1, "{d:#}");
        assert_eq!(a[0]["provider"], "slack");
        assert_eq!(a[0]["status_code"], 200);
        let response = a[0]["response"].as_str().unwrap();
        assert!(
            response.starts_with("channel=C0123ABCD ts=1733300000.000100"),
            "{response}"
        );
        assert!(!d.to_string().contains(SLACK_TOKEN), "{d:#}");
        app.stop().await;
    })
    .await;
}

/// `ratelimited` in a 200 and an HTTP 429 both wait the Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_rate_limits_wait_for_retry_after() {
    each_backend(|b| async move {
        let slack = Fake::start(
            vec![
                Answer(
                    429,
                    vec![("retry-after", "1".into())],
                    json!({"ok": false, "error": "ratelimited"}).to_string(),
                ),
                Answer(
                    200,
                    vec![("retry-after", "1".into())],
                    json!({"ok": false, "error": "ratelimited"}).to_string(),
                ),
            ],
            slack_ok("C1"),
        )
        .await;
        let toml = chat_toml(
            "slack",
            "slack",
            &format!("token = \"{SLACK_TOKEN}\"\nbase_url = \"{}\"", slack.base),
        );
        let app = spawn_app_with(&b, &toml).await;
        let id = send_chat(
            &app,
            json!({"text": "hi"}),
            json!({"chat": "slack:C1"}),
            json!({}),
        )
        .await;
        let d = app.wait_for_status(&id, "sent").await;
        let a = attempts(&d);
        assert_eq!(a.len(), 3, "{d:#}");
        for (i, code) in [(0, 429), (1, 200)] {
            assert_eq!(a[i]["outcome"], "transient", "{d:#}");
            assert_eq!(a[i]["status_code"], code, "{d:#}");
            assert!(
                a[i]["error"].as_str().unwrap().contains("ratelimited"),
                "{d:#}"
            );
        }
        assert_eq!(a[2]["outcome"], "ok");
        let got = slack.got();
        assert_eq!(got.len(), 3);
        for w in got.windows(2) {
            let gap = w[1].at - w[0].at;
            assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_errors_in_an_ok_answer_fail_with_slacks_words() {
    each_backend(|b| async move {
        let slack = Fake::start(
            vec![],
            answer(200, json!({"ok": false, "error": "channel_not_found"})),
        )
        .await;
        let toml = chat_toml(
            "slack",
            "slack",
            &format!("token = \"{SLACK_TOKEN}\"\nbase_url = \"{}\"", slack.base),
        );
        let app = spawn_app_with(&b, &toml).await;
        let id = send_chat(
            &app,
            json!({"text": "hi"}),
            json!({"chat": "slack:#nowhere"}),
            json!({}),
        )
        .await;
        let d = app.wait_for_status(&id, "failed").await;
        assert_eq!(d["reason"], "permanent_error");
        let a = attempts(&d);
        assert_eq!(a.len(), 1, "{d:#}");
        assert_eq!(a[0]["outcome"], "permanent");
        assert_eq!(
            a[0]["error"], "Slack error channel_not_found (HTTP 200)",
            "{d:#}"
        );
        assert_eq!(slack.got()[0].body["channel"], "#nowhere");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(slack.got().len(), 1, "nothing more is sent");
        app.stop().await;
    })
    .await;
}

/// A profile's chat address may be an incoming webhook's URL: it is used,
/// and shown with its host only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_incoming_webhook_from_a_profile_is_used_and_kept_out_of_sight() {
    each_backend(|b| async move {
        let hook = Fake::start(
            vec![],
            Answer(
                200,
                vec![("content-type", "text/plain".into())],
                "ok".into(),
            ),
        )
        .await;
        let secret_path = "/services/T000/B000/XXXXs3cretXXXX";
        let app = spawn_app_with(&b, &chat_toml("hook", "slack_webhook", "")).await;
        let r = app
            .put(
                "/v1/recipients/u1",
                &json!({"chat": format!("hook:{}{secret_path}", hook.base)}),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let id = send_chat(
            &app,
            json!({"text": "Deploy {{v}} done", "blocks": "[{\"type\": \"divider\"}]"}),
            json!({"id": "u1"}),
            json!({"v": "1.2"}),
        )
        .await;
        let d = app.wait_for_status(&id, "sent").await;
        let got = hook.got();
        assert_eq!(got[0].path, secret_path);
        assert!(got[0].headers.get("authorization").is_none());
        assert_eq!(
            got[0].body,
            json!({"text": "Deploy 1.2 done", "blocks": [{"type": "divider"}]})
        );
        assert_eq!(d["address"], "hook:http://127.0.0.1/…", "{d:#}");
        assert!(!d.to_string().contains("s3cret"), "{d:#}");

        // Slack words a webhook's failure in a plain-text body.
        hook.state.lock().unwrap().script.push(Answer(
            404,
            vec![("content-type", "text/plain".into())],
            "channel_not_found".into(),
        ));
        let id = send_chat(
            &app,
            json!({"text": "again"}),
            json!({"id": "u1"}),
            json!({}),
        )
        .await;
        let d = app.wait_for_status(&id, "failed").await;
        let a = attempts(&d);
        assert_eq!(a[0]["outcome"], "permanent");
        assert_eq!(a[0]["error"], "Slack answered HTTP 404: channel_not_found");
        assert!(!d.to_string().contains("s3cret"), "{d:#}");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_gets_an_adaptive_card() {
    each_backend(|b| async move {
        let teams = Fake::start(vec![], Answer(202, vec![], String::new())).await;
        let path = "/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=s3cretSig";
        let toml = chat_toml("teams", "teams", &format!("url = \"{}{path}\"", teams.base));
        let app = spawn_app_with(&b, &toml).await;
        let id = send_chat(
            &app,
            json!({"title": "Disk {{host}}", "text": "{{pct}} % used"}),
            json!({"chat": "teams"}),
            json!({"host": "db1", "pct": 93}),
        )
        .await;
        let d = app.wait_for_status(&id, "sent").await;
        let g = &teams.got()[0];
        assert_eq!(g.path, "/workflows/abc/triggers/manual/paths/invoke");
        assert_eq!(g.param("sig"), Some("s3cretSig"));
        assert_eq!(g.body["type"], "message");
        let att = &g.body["attachments"];
        assert_eq!(att.as_array().unwrap().len(), 1);
        assert_eq!(att[0]["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &att[0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert!(card["version"].as_str().unwrap().starts_with("1."));
        assert_eq!(
            card["body"],
            json!([
                {"type": "TextBlock", "text": "Disk db1", "size": "Medium", "weight": "Bolder", "wrap": true},
                {"type": "TextBlock", "text": "93 % used", "wrap": true},
            ])
        );
        assert_eq!(attempts(&d)[0]["status_code"], 202);

        // A refused card is final, and the answer is kept.
        teams.state.lock().unwrap().script.push(answer(
            400,
            json!({"error": {"code": "InvalidRequestContent", "message": "The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}),
        ));
        let id = send_chat(&app, json!({"text": "x"}), json!({"chat": "teams"}), json!({})).await;
        let d = app.wait_for_status(&id, "failed").await;
        let a = attempts(&d);
        assert_eq!(a.len(), 1, "{d:#}");
        assert_eq!(a[0]["error"], "Teams answered HTTP 400");
        assert!(a[0]["response"].as_str().unwrap().contains("InvalidRequestContent"));
        assert!(!d.to_string().contains("s3cretSig"), "{d:#}");
        app.stop().await;
    })
    .await;
}

const FEISHU_SECRET: &str = "feishuS3cretKey";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feishu_messages_are_signed_and_rate_limit_codes_wait() {
    each_backend(|b| async move {
        let feishu = Fake::start(
            vec![],
            answer(200, json!({"code": 0, "data": {}, "msg": "success"})),
        )
        .await;
        let toml = chat_toml(
            "lark",
            "feishu",
            &format!(
                "url = \"{}/open-apis/bot/v2/hook/hook-id-1\"\nsecret = \"{FEISHU_SECRET}\"",
                feishu.base
            ),
        );
        let app = spawn_app_with(&b, &toml).await;
        let id = send_chat(
            &app,
            json!({"text": "构建 {{n}} 通过"}),
            json!({"chat": "lark"}),
            json!({"n": 42}),
        )
        .await;
        app.wait_for_status(&id, "sent").await;
        let g = &feishu.got()[0];
        assert_eq!(g.path, "/open-apis/bot/v2/hook/hook-id-1");
        assert_eq!(g.body["msg_type"], "text");
        assert_eq!(g.body["content"], json!({"text": "构建 42 通过"}));
        let ts = g.body["timestamp"].as_str().expect("timestamp is a string");
        let ts: i64 = ts.parse().unwrap();
        assert!((now_s() - ts).abs() < 60, "{ts}");
        // Feishu's check: HMAC-SHA256 keyed with "timestamp\nsecret" over nothing.
        let expected = b64(&hmac_sha256(
            format!("{ts}\n{FEISHU_SECRET}").as_bytes(),
            b"",
        ));
        assert_eq!(g.body["sign"], expected);

        // A title makes it a rich-text post.
        let id = send_chat(
            &app,
            json!({"title": "T", "text": "body"}),
            json!({"chat": "lark"}),
            json!({}),
        )
        .await;
        app.wait_for_status(&id, "sent").await;
        let g = &feishu.got()[1];
        assert_eq!(g.body["msg_type"], "post");
        assert_eq!(
            g.body["content"]["post"]["zh_cn"],
            json!({"title": "T", "content": [[{"tag": "text", "text": "body"}]]})
        );

        // Too many requests: retried after Feishu's minute.
        feishu.state.lock().unwrap().script.push(answer(
            200,
            json!({"code": 9499, "msg": "too many request", "data": {}}),
        ));
        let id = send_chat(
            &app,
            json!({"text": "x"}),
            json!({"chat": "lark"}),
            json!({}),
        )
        .await;
        let d = app.wait_for_status(&id, "retrying").await;
        waits_at_least(&d, 60);
        let a = attempts(&d);
        assert_eq!(a[0]["outcome"], "transient");
        assert_eq!(
            a[0]["error"],
            "Feishu error 9499: too many request (HTTP 200)"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feishu_refusals_are_final() {
    each_backend(|b| async move {
        let feishu = Fake::start(
            vec![],
            answer(200, json!({"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time", "data": {}})),
        )
        .await;
        let toml = chat_toml(
            "feishu",
            "feishu",
            &format!("url = \"{}/open-apis/bot/v2/hook/h\"\nsecret = \"wrong\"", feishu.base),
        );
        let app = spawn_app_with(&b, &toml).await;
        let id = send_chat(&app, json!({"text": "x"}), json!({"chat": "feishu"}), json!({})).await;
        let d = app.wait_for_status(&id, "failed").await;
        let a = attempts(&d);
        assert_eq!(a.len(), 1, "{d:#}");
        assert_eq!(a[0]["outcome"], "permanent");
        assert!(
            a[0]["error"].as_str().unwrap().starts_with("Feishu error 19021: sign match fail"),
            "{d:#}"
        );
        app.stop().await;
    })
    .await;
}

const DING_SECRET: &str = "SECdingS3cret0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dingtalk_robots_get_a_signed_url_and_too_fast_waits() {
    each_backend(|b| async move {
        let ding = Fake::start(vec![], answer(200, json!({"errcode": 0, "errmsg": "ok"}))).await;
        let toml = chat_toml(
            "ops",
            "dingtalk",
            &format!(
                "url = \"{}/robot/send?access_token=tok3n\"\nsecret = \"{DING_SECRET}\"",
                ding.base
            ),
        );
        let app = spawn_app_with(&b, &toml).await;
        let id = send_chat(&app, json!({"text": "告警: {{m}}"}), json!({"chat": "ops"}), json!({"m": "CPU"}))
            .await;
        let d = app.wait_for_status(&id, "sent").await;
        let g = &ding.got()[0];
        assert_eq!(g.path, "/robot/send");
        assert_eq!(g.param("access_token"), Some("tok3n"));
        let ts: i64 = g.param("timestamp").unwrap().parse().unwrap();
        assert!((now_s() * 1000 - ts).abs() < 60_000, "{ts} is not now in ms");
        // DingTalk's check: base64 of HMAC-SHA256 keyed with the secret
        // over "timestamp\nsecret", sent URL-encoded (decoded here).
        let expected = b64(&hmac_sha256(
            DING_SECRET.as_bytes(),
            format!("{ts}\n{DING_SECRET}").as_bytes(),
        ));
        assert_eq!(g.param("sign"), Some(expected.as_str()));
        assert_eq!(g.body, json!({"msgtype": "text", "text": {"content": "告警: CPU"}}));
        assert_eq!(attempts(&d)[0]["response"], "{\"errcode\":0,\"errmsg\":\"ok\"}");

        // With a title: markdown.
        let id = send_chat(&app, json!({"title": "Deploy", "text": "done"}), json!({"chat": "ops"}), json!({}))
            .await;
        app.wait_for_status(&id, "sent").await;
        assert_eq!(
            ding.got()[1].body,
            json!({"msgtype": "markdown", "markdown": {"title": "Deploy", "text": "#### Deploy\n\ndone"}})
        );

        // "Send too fast": DingTalk holds the robot for ten minutes.
        ding.state.lock().unwrap().script.push(answer(
            200,
            json!({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}),
        ));
        let id = send_chat(&app, json!({"text": "x"}), json!({"chat": "ops"}), json!({})).await;
        let d = app.wait_for_status(&id, "retrying").await;
        waits_at_least(&d, 600);
        assert_eq!(
            attempts(&d)[0]["error"],
            "DingTalk error 130101: send too fast, exceed 20 times per minute (HTTP 200)"
        );
        assert!(!d.to_string().contains("tok3n"), "{d:#}");
        // The robot is paused for every delivery to it meanwhile.
        let waiting = send_chat(&app, json!({"text": "y"}), json!({"chat": "ops"}), json!({})).await;
        let w = poll_until(Duration::from_secs(5), || async {
            let v = app.get_json(&format!("/v1/deliveries/{waiting}")).await;
            (v["reason"] == "provider_paused", v)
        })
        .await
        .unwrap_or_else(|v| panic!("not held back: {v:#}"));
        assert_eq!(w["status"], "scheduled", "{w:#}");
        assert_eq!(ding.got().len(), 3, "nothing sent into the pause");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dingtalk_refusals_are_final_with_its_words() {
    each_backend(|b| async move {
        let ding = Fake::start(
            vec![],
            answer(
                200,
                json!({"errcode": 310000, "errmsg": "keywords not in content"}),
            ),
        )
        .await;
        let toml = chat_toml("dingtalk", "dingtalk", "");
        let app = spawn_app_with(&b, &toml).await;
        // The robot's URL is the address's target.
        let to = json!({"chat": format!("dingtalk:{}/robot/send?access_token=abc", ding.base)});
        let id = send_chat(&app, json!({"text": "x"}), to, json!({})).await;
        let d = app.wait_for_status(&id, "failed").await;
        let a = attempts(&d);
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0]["error"],
            "DingTalk error 310000: keywords not in content (HTTP 200)"
        );
        let g = &ding.got()[0];
        assert_eq!(g.param("access_token"), Some("abc"));
        assert!(g.param("sign").is_none(), "no secret, no signature");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_robots_get_text_or_markdown_and_45009_waits() {
    each_backend(|b| async move {
        let wecom = Fake::start(vec![], answer(200, json!({"errcode": 0, "errmsg": "ok"}))).await;
        let toml = chat_toml(
            "wecom",
            "wecom",
            &format!("url = \"{}/cgi-bin/webhook/send?key=k3y-0001\"", wecom.base),
        );
        let app = spawn_app_with(&b, &toml).await;
        let id = send_chat(
            &app,
            json!({"text": "订单 {{n}} 已发货"}),
            json!({"chat": "wecom"}),
            json!({"n": 1001}),
        )
        .await;
        app.wait_for_status(&id, "sent").await;
        let g = &wecom.got()[0];
        assert_eq!(g.path, "/cgi-bin/webhook/send");
        assert_eq!(g.param("key"), Some("k3y-0001"));
        assert_eq!(
            g.body,
            json!({"msgtype": "text", "text": {"content": "订单 1001 已发货"}})
        );
        let id = send_chat(
            &app,
            json!({"title": "T", "text": "b"}),
            json!({"chat": "wecom"}),
            json!({}),
        )
        .await;
        app.wait_for_status(&id, "sent").await;
        assert_eq!(
            wecom.got()[1].body,
            json!({"msgtype": "markdown", "markdown": {"content": "**T**\nb"}})
        );

        wecom.state.lock().unwrap().script.push(answer(
            200,
            json!({"errcode": 45009, "errmsg": "api freq out of limit"}),
        ));
        let id = send_chat(
            &app,
            json!({"text": "x"}),
            json!({"chat": "wecom"}),
            json!({}),
        )
        .await;
        let d = app.wait_for_status(&id, "retrying").await;
        waits_at_least(&d, 60);
        assert_eq!(
            attempts(&d)[0]["error"],
            "WeCom error 45009: api freq out of limit (HTTP 200)"
        );
        assert!(!d.to_string().contains("k3y-0001"), "{d:#}");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_refusals_are_final() {
    each_backend(|b| async move {
        let wecom = Fake::start(
            vec![],
            answer(200, json!({"errcode": 93000, "errmsg": "invalid webhook url, hint: [1733300000_1], from ip: 127.0.0.1"})),
        )
        .await;
        let toml = chat_toml(
            "wecom",
            "wecom",
            &format!("url = \"{}/cgi-bin/webhook/send?key=bad\"", wecom.base),
        );
        let app = spawn_app_with(&b, &toml).await;
        let id = send_chat(&app, json!({"text": "x"}), json!({"chat": "wecom"}), json!({})).await;
        let d = app.wait_for_status(&id, "failed").await;
        let a = attempts(&d);
        assert_eq!(a.len(), 1);
        assert!(
            a[0]["error"].as_str().unwrap().starts_with("WeCom error 93000: invalid webhook url"),
            "{d:#}"
        );
        app.stop().await;
    })
    .await;
}

const TG_TOKEN: &str = "123456789:AAFs3cretTelegramToken_x-y";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_sends_to_the_chat_and_waits_its_retry_after() {
    each_backend(|b| async move {
        let tg = Fake::start(
            vec![answer(
                429,
                json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}),
            )],
            answer(
                200,
                json!({"ok": true, "result": {"message_id": 77, "chat": {"id": -1001234567890i64}, "text": "x"}}),
            ),
        )
        .await;
        let toml = chat_toml(
            "telegram",
            "telegram",
            &format!(
                "token = \"{TG_TOKEN}\"\nbase_url = \"{}\"\nparse_mode = \"HTML\"",
                tg.base
            ),
        );
        let app = spawn_app_with(&b, &toml).await;
        let id = send_chat(
            &app,
            json!({"title": "<Deploy>", "text": "<i>{{v}}</i> is live"}),
            json!({"chat": "telegram:-1001234567890"}),
            json!({"v": "1.2"}),
        )
        .await;
        let d = app.wait_for_status(&id, "sent").await;
        let got = tg.got();
        assert_eq!(got.len(), 2);
        for g in &got {
            assert_eq!(g.path, format!("/bot{TG_TOKEN}/sendMessage"));
            assert_eq!(
                g.body,
                json!({"chat_id": "-1001234567890", "text": "<b>&lt;Deploy&gt;</b>\n\n<i>1.2</i> is live", "parse_mode": "HTML"})
            );
        }
        let gap = got[1].at - got[0].at;
        assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
        let a = attempts(&d);
        assert_eq!(a[0]["outcome"], "transient");
        assert_eq!(a[0]["status_code"], 429);
        assert_eq!(a[0]["error"], "Telegram error 429: Too Many Requests: retry after 1");
        assert!(a[1]["response"].as_str().unwrap().starts_with("message_id=77"));
        assert!(!d.to_string().contains("s3cretTelegram"), "{d:#}");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_refusals_are_final() {
    each_backend(|b| async move {
        let tg = Fake::start(
            vec![answer(
                400,
                json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}),
            )],
            answer(
                403,
                json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
            ),
        )
        .await;
        let toml = chat_toml(
            "tg",
            "telegram",
            &format!("token = \"{TG_TOKEN}\"\nbase_url = \"{}\"\nchat_id = \"42\"", tg.base),
        );
        let app = spawn_app_with(&b, &toml).await;
        let first = send_chat(&app, json!({"text": "x"}), json!({"chat": "tg:999"}), json!({})).await;
        let d = app.wait_for_status(&first, "failed").await;
        assert_eq!(attempts(&d)[0]["error"], "Telegram error 400: Bad Request: chat not found");
        assert_eq!(tg.got()[0].body["chat_id"], "999");
        // No target: the provider's own chat_id.
        let second = send_chat(&app, json!({"text": "x"}), json!({"chat": "tg"}), json!({})).await;
        let d = app.wait_for_status(&second, "failed").await;
        let a = attempts(&d);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0]["status_code"], 403);
        assert_eq!(a[0]["error"], "Telegram error 403: Forbidden: bot was blocked by the user");
        assert_eq!(tg.got()[1].body["chat_id"], "42");
        app.stop().await;
    })
    .await;
}

/// Slack's limit (a message a second) holds per channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_sends_to_one_channel_are_paced() {
    each_backend(|b| async move {
        let slack = Fake::start(vec![], slack_ok("C1")).await;
        let toml = format!(
            "[channels.chat]\nproviders = [\"slack\"]\n[channels.chat.slack]\ntoken = \"{SLACK_TOKEN}\"\nbase_url = \"{}\"\nallow_private = true\n",
            slack.base
        );
        let app = spawn_app_with(&b, &toml).await;
        let mut ids = Vec::new();
        for _ in 0..2 {
            ids.push(send_chat(&app, json!({"text": "x"}), json!({"chat": "slack:C1"}), json!({})).await);
        }
        ids.push(send_chat(&app, json!({"text": "x"}), json!({"chat": "slack:C2"}), json!({})).await);
        for id in &ids {
            app.wait_for_status(id, "sent").await;
        }
        let got = slack.got();
        let to = |c: &str| -> Vec<Instant> {
            got.iter().filter(|g| g.body["channel"] == c).map(|g| g.at).collect()
        };
        let c1 = to("C1");
        assert_eq!(c1.len(), 2);
        let gap = c1[1].max(c1[0]) - c1[1].min(c1[0]);
        assert!(gap >= Duration::from_millis(800), "two sends to C1 {gap:?} apart");
        // Another channel has its own allowance: it need not wait for C1's.
        let c2 = to("C2")[0];
        assert!(c2 < c1[0].max(c1[1]), "C2 waited behind C1");
        // The wait is counted under the provider's name, whatever the target.
        let m = crate::metrics::scrape(&app).await;
        let waits = m.value(
            "missive_rate_limit_waits_total",
            &[("channel", "chat"), ("provider", "slack"), ("reason", "rate_limit")],
        );
        assert!(waits >= 1.0, "no rate-limit wait counted for slack");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_provider_chat_messages_go_to_the_outbox() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let id = send_chat(
            &app,
            json!({"title": "Hi", "text": "Hello {{name}}"}),
            json!({"chat": "ops:#general"}),
            json!({"name": "Ana"}),
        )
        .await;
        let d = app.wait_for_status(&id, "sent").await;
        assert_eq!(attempts(&d)[0]["provider"], "file");
        let path = app
            .state
            .config
            .data_dir
            .join("outbox")
            .join("chat")
            .join(format!("{id}.json"));
        let written: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(written["to"], "ops:#general");
        assert_eq!(written["title"], "Hi");
        assert_eq!(written["text"], "Hello Ana");
        assert_eq!(written["delivery_id"], id.as_str());
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_chat_addresses_and_blocks_are_refused_naming_the_field() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        for (to, field) in [
            (
                json!({"chat": "https://hooks.slack.com/services/T/B/X"}),
                "to[0].chat",
            ),
            (json!({"chat": "ops:"}), "to[0].chat"),
            (json!({"chat": "bad name"}), "to[0].chat"),
        ] {
            let r = app
                .post(
                    "/v1/notifications",
                    &json!({"content": {"chat": {"text": "x"}}, "to": [to]}),
                )
                .await;
            assert_eq!(r.status(), 422, "{to}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["errors"][0]["field"], field, "{body:#}");
        }
        let r = app
            .put("/v1/recipients/u2", &json!({"chat": "ops:\u{7}"}))
            .await;
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "chat", "{body:#}");

        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"chat": {"text": "x", "blocks": "[{\"text\": {{name}} }]"}},
                        "to": [{"chat": "ops"}], "data": {"name": "Ana"}}),
            )
            .await;
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["field"], "content.chat.blocks",
            "{body:#}"
        );
        app.stop().await;
    })
    .await;
}

/// A recipient may turn chat off like any channel, and the metrics count
/// the channel like the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_opt_outs_hold_and_metrics_count_the_channel() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        for (id, prefs) in [("quiet", json!({"channels": {"chat": false}})), ("keen", json!({}))] {
            let r = app
                .put(&format!("/v1/recipients/{id}"), &json!({"chat": "ops", "preferences": prefs}))
                .await;
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"chat": {"text": "hi"}}, "to": [{"id": "quiet"}, {"id": "keen"}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.unwrap();
        let d = body["deliveries"].as_array().unwrap();
        assert_eq!((d[0]["recipient"].as_str(), d[0]["status"].as_str()), (Some("quiet"), Some("suppressed")));
        let quiet = app.get_json(&format!("/v1/deliveries/{}", d[0]["id"].as_str().unwrap())).await;
        assert_eq!(quiet["reason"], "preference", "{quiet:#}");
        app.wait_for_status(d[1]["id"].as_str().unwrap(), "sent").await;
        let m = crate::metrics::scrape(&app).await;
        let chat = ("channel", "chat");
        assert_eq!(m.value("missive_deliveries_total", &[chat, ("status", "suppressed"), ("template", "inline")]), 1.0);
        assert_eq!(
            m.value("missive_attempts_total", &[chat, ("provider", "file"), ("outcome", "ok")]),
            1.0
        );
        app.stop().await;
    })
    .await;
}

/// A robot nobody answers for: the failures name the host, never the URL
/// with its key, and retries run out as on any channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_failures_name_the_host_and_never_the_key() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, &chat_toml("wecom", "wecom", "")).await;
        let port = free_port();
        let to = json!({"chat": format!("wecom:http://127.0.0.1:{port}/cgi-bin/webhook/send?key=s3cretKey")});
        let id = send_chat(&app, json!({"text": "x"}), to, json!({})).await;
        let d = app.wait_for_status(&id, "failed").await;
        assert_eq!(d["reason"], "retries_exhausted", "{d:#}");
        let a = attempts(&d);
        assert_eq!(a.len(), 4, "{d:#}");
        for at in a {
            assert_eq!(at["outcome"], "transient");
            let e = at["error"].as_str().unwrap();
            assert!(e.starts_with(&format!("127.0.0.1:{port}: ")), "{e}");
        }
        assert!(!d.to_string().contains("s3cretKey"), "{d:#}");
        app.stop().await;
    })
    .await;
}
