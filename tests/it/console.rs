//! The web console over HTTP: sign-in and sign-out, the session cookie,
//! CSRF on every changing form and on cookie-authenticated API calls,
//! read-only keys, and the pages answering with what is in the store.
//! (tests/it/browser.rs drives the same pages in a real browser.)

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// A browser-like client: keeps cookies, doesn't follow redirects.
pub struct ConsoleClient {
    pub http: reqwest::Client,
    pub base: String,
}

impl ConsoleClient {
    pub fn new(app: &TestApp) -> ConsoleClient {
        ConsoleClient {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
        }
    }

    pub async fn sign_in(&self, key: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/console/login", self.base))
            .form(&[("key", key), ("next", "/console/deliveries")])
            .send()
            .await
            .unwrap()
    }

    pub async fn page(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The CSRF token the page's forms carry.
    pub async fn csrf(&self) -> String {
        let (_, html) = self.page("/console").await;
        let at = html
            .find("name=\"csrf-token\" content=\"")
            .expect("signed in")
            + 27;
        html[at..at + html[at..].find('"').unwrap()].to_string()
    }

    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn make_key(app: &TestApp, scopes: &str) -> String {
    let (key, _) = missive::service::auth::create_key(app.state.store.as_ref(), "t", scopes)
        .await
        .unwrap();
    key
}

/// A delivery that waits an hour (send_at), so it stays cancellable.
async fn scheduled_delivery(app: &TestApp) -> String {
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let r = app
        .post(
            "/v1/notifications",
            &json!({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": "http://127.0.0.1:9/x"}], "send_at": at}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    v["deliveries"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_a_strict_httponly_session_and_signing_out_ends_it() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let c = ConsoleClient::new(&app);

        let (status, _) = c.page("/console/deliveries?status=failed").await;
        assert_eq!(status, 303, "signed-out visitors go to the sign-in page");

        let r = c.sign_in("msv_not-a-key").await;
        assert_eq!(r.status(), 401);
        assert!(r.text().await.unwrap().contains("not valid"));
        let sender = make_key(&app, "send").await;
        let r = c.sign_in(&sender).await;
        assert_eq!(r.status(), 401, "a send-only key opens no console");

        let r = c.sign_in(&app.key).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/console/deliveries");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(cookie.starts_with("missive_session="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        assert!(!cookie.contains(&app.key), "the cookie is not the key");

        for page in [
            "/console",
            "/console/deliveries",
            "/console/templates",
            "/console/workflows",
            "/console/recipients",
            "/console/keys",
        ] {
            let (status, html) = c.page(page).await;
            assert_eq!(status, 200, "{page}");
            assert!(html.contains("Sign out"), "{page}");
        }
        let (_, css) = c.page("/console/assets/console.css").await;
        assert!(
            css.contains("missive console"),
            "assets are served from the binary"
        );

        let csrf = c.csrf().await;
        let r = c.submit("/console/logout", &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), 303);
        let (status, _) = c.page("/console").await;
        assert_eq!(status, 303, "signed out");

        // The old cookie no longer opens anything either.
        let old = cookie.split(';').next().unwrap().to_string();
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(app.url("/console"))
            .header("cookie", old)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_changing_form_needs_the_sessions_csrf_token() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let id = scheduled_delivery(&app).await;
        let c = ConsoleClient::new(&app);
        c.sign_in(&app.key).await;
        let csrf = c.csrf().await;
        let cancel = format!("/console/deliveries/{id}/cancel");

        let r = c.submit(&cancel, &[]).await;
        assert_eq!(r.status(), 403, "no token");
        let r = c.submit(&cancel, &[("csrf", "forged")]).await;
        assert_eq!(r.status(), 403, "wrong token");
        let r = c
            .http
            .post(app.url(&cancel))
            .header("origin", "https://evil.example")
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "another site's page");
        let d = app.get_json(&format!("/v1/deliveries/{id}")).await;
        assert_eq!(d["status"], "scheduled", "nothing changed");

        let r = c.submit(&cancel, &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), 303);
        let d = app.get_json(&format!("/v1/deliveries/{id}")).await;
        assert_eq!(d["status"], "cancelled");
        let (_, html) = c.page(&location(&r)).await;
        assert!(html.contains("Cancelled."), "the page says what happened");

        // The API by cookie: reads need no token; changes do.
        let id2 = scheduled_delivery(&app).await;
        let (status, body) = c.page(&format!("/v1/deliveries/{id2}")).await;
        assert_eq!(status, 200, "{body}");
        let api_cancel = app.url(&format!("/v1/deliveries/{id2}/cancel"));
        let r = c.http.post(&api_cancel).send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let r = c
            .http
            .post(&api_cancel)
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_key_sees_the_log_but_changes_nothing() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let id = scheduled_delivery(&app).await;
        let reader = make_key(&app, "read").await;
        let c = ConsoleClient::new(&app);
        assert_eq!(c.sign_in(&reader).await.status(), 303);
        let (status, html) = c.page(&format!("/console/deliveries/{id}")).await;
        assert_eq!(status, 200);
        assert!(html.contains(&id) && html.contains("scheduled"));
        assert!(!html.contains("id=\"cancel\""), "no buttons it can't use");
        assert!(!html.contains("/console/keys"), "no keys page in the menu");

        let csrf = c.csrf().await;
        let r = c
            .submit(
                &format!("/console/deliveries/{id}/cancel"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 403);
        let (status, _) = c.page("/console/keys").await;
        assert_eq!(status, 403);
        let d = app.get_json(&format!("/v1/deliveries/{id}")).await;
        assert_eq!(d["status"], "scheduled");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_created_shown_once_and_revoked_and_a_revoked_keys_session_ends() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let c = ConsoleClient::new(&app);
        c.sign_in(&app.key).await;
        let csrf = c.csrf().await;
        let r = c
            .submit(
                "/console/keys",
                &[("csrf", &csrf), ("name", "ops-reader"), ("scopes", "read")],
            )
            .await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        let at = html.find("id=\"new-key\"").expect("the new key is shown");
        let v = html[at..].find("value=\"").unwrap() + at + 7;
        let key = html[v..v + html[v..].find('"').unwrap()].to_string();
        assert!(key.starts_with("msv_"));
        let (_, listed) = c.page("/console/keys").await;
        assert!(
            listed.contains("ops-reader") && !listed.contains(&key),
            "shown once only"
        );

        // The key works, and opens a console session of its own.
        let r = app
            .client
            .get(app.url("/v1/deliveries"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let other = ConsoleClient::new(&app);
        assert_eq!(other.sign_in(&key).await.status(), 303);
        assert_eq!(other.page("/console/deliveries").await.0, 200);

        let row = app
            .state
            .store
            .list_keys()
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.name == "ops-reader")
            .unwrap();
        let r = c
            .submit(
                &format!("/console/keys/{}/revoke", row.id),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 303);
        let (status, _) = other.page("/console/deliveries").await;
        assert_eq!(status, 303, "a revoked key's session is over");
        let r = c
            .submit(
                "/console/keys",
                &[("csrf", &csrf), ("name", "x"), ("scopes", "root")],
            )
            .await;
        assert!(r.text().await.unwrap().contains("unknown scope `root`"));
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_and_log_show_what_the_store_holds() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start_with(vec![Answer::status(400)], Answer::status(200)).await;
        let failed = app.send_webhook(&rx.url, json!({"n": 1})).await;
        let failed_id = failed["deliveries"][0]["id"].as_str().unwrap().to_string();
        app.wait_for_status(&failed_id, "failed").await;
        let sent = app.send_webhook(&rx.url, json!({"n": 2})).await;
        let sent_id = sent["deliveries"][0]["id"].as_str().unwrap().to_string();
        app.wait_for_status(&sent_id, "sent").await;
        let waiting = scheduled_delivery(&app).await;

        let c = ConsoleClient::new(&app);
        c.sign_in(&app.key).await;
        let (_, html) = c.page("/console").await;
        assert!(
            html.contains("/console/deliveries?status=failed&amp;channel=webhook\">1<"),
            "{html}"
        );
        assert!(html.contains("/console/deliveries?status=sent&amp;channel=webhook\">1<"));
        assert!(html.contains("scheduled 1"), "queue depth");

        let (_, html) = c.page("/console/deliveries?status=failed").await;
        assert!(html.contains(&failed_id) && !html.contains(&sent_id) && !html.contains(&waiting));
        let (_, html) = c.page("/console/deliveries?status=bogus").await;
        assert!(
            html.contains("status: must be one of"),
            "a bad filter says which field"
        );
        let (_, html) = c.page(&format!("/console/deliveries/{failed_id}")).await;
        assert!(
            html.contains("permanent") && html.contains("400"),
            "the attempt and the receiver's answer"
        );

        // Replay asks first, then re-queues what matches, audited.
        let (_, html) = c.page("/console/deliveries/replay?status=failed").await;
        assert!(
            html.contains("<strong>1</strong> failed deliveries match"),
            "{html}"
        );
        let csrf = c.csrf().await;
        let r = c
            .submit(
                "/console/deliveries/replay",
                &[("csrf", &csrf), ("channel", "webhook")],
            )
            .await;
        assert_eq!(r.status(), 303);
        let d = app.wait_for_status(&failed_id, "sent").await;
        let audit = d["attempts"].as_array().unwrap().iter().any(|a| {
            a["error"]
                .as_str()
                .unwrap_or("")
                .contains("re-queued from the console")
                || a["response"]
                    .as_str()
                    .unwrap_or("")
                    .contains("re-queued from the console")
        });
        assert!(audit, "replay is in the attempt log: {d:#}");
        rx.wait_for(3, Duration::from_secs(5)).await;
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_api_renders_an_unsaved_draft_and_names_the_line_of_an_error() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let r = app
            .post(
                "/v1/templates/draft-only/preview",
                &json!({"draft": {"channels": {"sms": {"text": "Hi {{name}}"}}}, "data": {"name": "Ana"}}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["channels"]["sms"]["text"], "Hi Ana");
        assert_eq!(v["version"], Value::Null);

        let r = app
            .post(
                "/v1/templates/draft-only/preview",
                &json!({"draft": {"channels": {"email": {"subject": "ok", "text": "line one\n{{#if x}}\nnever closed"}}}}),
            )
            .await;
        assert_eq!(r.status(), 422);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["errors"][0]["field"], "channels.email.text");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("line "),
            "{v}"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failed_list_shows_what_the_receiver_answered() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start_with(
            vec![],
            Answer::status(422).body("{\"error\": \"unknown order 1001\"}"),
        )
        .await;
        let failed = app.send_webhook(&rx.url, json!({"n": 1})).await;
        let id = failed["deliveries"][0]["id"].as_str().unwrap().to_string();
        let d = app.wait_for_status(&id, "failed").await;
        let last = d["last_error"].as_str().unwrap_or_default();
        assert!(
            last.contains("422") && last.contains("unknown order 1001"),
            "the API's last_error has the answer too: {d:#}"
        );

        let c = ConsoleClient::new(&app);
        c.sign_in(&app.key).await;
        let (_, html) = c.page("/console/deliveries?status=failed").await;
        let row = &html[html.find(&format!("data-id=\"{id}\"")).expect("the row")..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("422") && row.contains("unknown order 1001"),
            "the receiver's answer, not only its class: {row}"
        );
        assert!(
            row.contains("permanent_error"),
            "and the class beside it: {row}"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editors_preview_names_every_field_that_is_not_valid() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let c = ConsoleClient::new(&app);
        c.sign_in(&app.key).await;
        let csrf = c.csrf().await;
        // What the editor sends when it opens: the draft, and sample data
        // that lacks the variables the parts use.
        let r = c
            .http
            .post(format!("{}/v1/templates/shipped/preview", c.base))
            .header("x-csrf-token", &csrf)
            .json(&json!({"draft": {"channels": {
                "email": {"subject": "Order {{order_id}}", "text": "Hi {{name}}"},
                "sms": {"text": "{{code}}"},
                "in_app": {"title": "{{title}}"}}}, "data": {}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.starts_with("3 fields are not valid: "), "{detail}");
        for field in ["data.order_id", "data.code", "data.title"] {
            assert!(
                detail.contains(&format!("{field}: ")),
                "{field} in {detail}"
            );
        }
        app.stop().await;
    })
    .await;
}

/// A key and a session are different credentials even through the cache:
/// an API key sent as the session cookie opens no session (and the server
/// answers, rather than failing), and a session's cookie value sent as a
/// bearer key is not a key (which would skip the CSRF check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_not_a_session_nor_a_session_a_key_even_when_cached() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // The key is verified, and cached, by an API call first.
        assert_eq!(app.get("/v1/deliveries").await.status(), 200);
        let as_cookie = |path: &str, value: &str| {
            http.get(format!("{}{path}", app.base))
                .header("cookie", format!("missive_session={value}"))
                .send()
        };
        let r = as_cookie("/v1/deliveries", &app.key).await.unwrap();
        assert_eq!(r.status(), 401, "an API key is not a session cookie");
        let r = as_cookie("/console/deliveries", &app.key).await.unwrap();
        assert_eq!(r.status(), 303, "the console asks to sign in");

        let c = ConsoleClient::new(&app);
        assert_eq!(c.sign_in(&app.key).await.status(), 303);
        let (status, _) = c.page("/console/deliveries").await;
        assert_eq!(status, 200, "the session is verified, and cached");
        let token = {
            let r = c.sign_in(&app.key).await;
            let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
            set["missive_session=".len()..set.find(';').unwrap()].to_string()
        };
        let r = as_cookie("/console/deliveries", &token).await.unwrap();
        assert_eq!(r.status(), 200, "the new session works by cookie");
        let r = http
            .get(format!("{}/v1/deliveries", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "a session's cookie is not an API key");
        app.stop().await;
    })
    .await;
}

/// A workflow of four steps, two of them with conditions; `wait` is how
/// long its second step waits.
fn escalation(wait: &str) -> Value {
    json!({
        "name": "Comment escalation",
        "description": "In the app now; by email if unread <after a while>.",
        "steps": [
            {"id": "inapp", "type": "send", "channel": "in_app", "template": "comment"},
            {"id": "wait", "type": "delay", "for": wait},
            {"id": "email", "type": "send", "channel": "email", "template": "comment",
             "if": [{"step": "inapp", "is": "not_read"}]},
            {"id": "sms", "type": "send", "channel": "sms", "content": {"sms": {"text": "New comment: {{title}}"}},
             "if": [{"field": "data.priority", "op": "equals", "value": "high"},
                    {"field": "recipient.locale", "op": "in", "value": ["zh-CN", "en"]}]}
        ]
    })
}

/// Each step of a dry run's answer on the page: (id, runs).
fn dry_run_steps(html: &str) -> Vec<(String, String)> {
    let Some(at) = html.find("class=\"timeline dry-run-steps\"") else {
        return Vec::new();
    };
    let list = &html[at..at + html[at..].find("</ol>").unwrap()];
    list.split("<li data-step=\"")
        .skip(1)
        .map(|li| {
            let id = &li[..li.find('"').unwrap()];
            let runs = &li[li.find("data-runs=\"").unwrap() + 11..];
            (id.to_string(), runs[..runs.find('"').unwrap()].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflows_pages_show_its_steps_versions_and_a_dry_run() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let t = json!({"channels": {
            "in_app": {"title": "{{title}}", "body": "{{body}}"},
            "email": {"subject": "{{title}}", "text": "{{body}}"}
        }});
        assert_eq!(app.put("/v1/templates/comment", &t).await.status(), 201);
        let r = app.put("/v1/workflows/comment", &escalation("30m")).await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        let r = app.put("/v1/workflows/comment", &escalation("1h")).await;
        assert_eq!(r.json::<Value>().await.unwrap()["version"], 2);
        let r = app
            .put("/v1/recipients/u_7", &json!({"locale": "zh-CN"}))
            .await;
        assert_eq!(r.status(), 201);

        let c = ConsoleClient::new(&app);
        c.sign_in(&app.key).await;
        let (status, html) = c.page("/console/workflows").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("href=\"/console/workflows\" class=\"on\""),
            "in the menu"
        );
        let row = &html[html.find("data-key=\"comment\"").expect("the row")..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("href=\"/console/workflows/comment\"")
                && row.contains("Comment escalation")
                && row.contains(">2<")
                && row.contains("active"),
            "{row}"
        );

        // The steps in order, each with what it does and its conditions.
        let (status, html) = c.page("/console/workflows/comment").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("by email if unread &lt;after a while&gt;."),
            "the description, escaped"
        );
        let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("no {s}"));
        let steps = at("class=\"timeline steps\"");
        let order: Vec<usize> = ["inapp", "wait", "email", "sms"]
            .iter()
            .map(|id| at(&format!("<li data-step=\"{id}\"")))
            .collect();
        assert!(
            steps < order[0] && order.windows(2).all(|w| w[0] < w[1]),
            "{order:?}"
        );
        assert!(html[order[1]..order[2]].contains("wait 1h"));
        assert!(html[order[2]..order[3]].contains("step inapp is not_read"));
        let sms = &html[order[3]..];
        assert!(
            sms.contains("data.priority equals &quot;high&quot;"),
            "{sms}"
        );
        assert!(sms.contains("recipient.locale in [&quot;zh-CN&quot;,&quot;en&quot;]"));
        let (_, v1) = c.page("/console/workflows/comment?version=1").await;
        assert!(v1.contains("wait 30m") && v1.contains("Showing version 1"));
        assert_eq!(c.page("/console/workflows/comment?version=9").await.0, 404);
        assert_eq!(c.page("/console/workflows/nothing").await.0, 404);

        // The history; activating version 1 needs the form's token.
        let (status, html) = c.page("/console/workflows/comment/versions").await;
        assert_eq!(status, 200);
        assert!(html.contains("data-version=\"1\"") && html.contains("data-version=\"2\""));
        assert!(html.contains("Activate version 1") && !html.contains("Activate version 2"));
        let activate = "/console/workflows/comment/versions/1/activate";
        assert_eq!(c.submit(activate, &[]).await.status(), 403, "no token");
        assert_eq!(app.get_json("/v1/workflows/comment").await["version"], 2);
        let csrf = c.csrf().await;
        let r = c.submit(activate, &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(app.get_json("/v1/workflows/comment").await["version"], 1);
        let (_, html) = c.page(&location(&r)).await;
        assert!(html.contains("Version 1 is current."), "{html}");

        // The dry run: each step with whether it runs, and why not.
        let preview = "/console/workflows/comment/preview";
        let c = &c;
        let form = |data: &'static str, recipient: &'static str, version: &'static str| {
            [
                ("data", data),
                ("recipient", recipient),
                ("version", version),
            ]
        };
        assert_eq!(
            c.submit(preview, &form("{}", "", "")).await.status(),
            403,
            "no token"
        );
        let dry = |data, recipient, version| {
            let mut f = vec![("csrf", csrf.as_str())];
            f.extend(form(data, recipient, version));
            async move {
                let r = c.submit(preview, &f).await;
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let (status, html) = dry(r#"{"priority": "high", "title": "Hi"}"#, "u_7", "").await;
        assert_eq!(status, 200, "{html}");
        let s = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            dry_run_steps(&html),
            s(&[
                ("inapp", "yes"),
                ("wait", "yes"),
                ("email", "depends"),
                ("sms", "yes")
            ])
        );
        assert!(html.contains("Result for version 1"));
        assert!(
            html.contains("Not known until the run: <code>step inapp is not_read</code>"),
            "{html}"
        );
        let (status, html) = dry(r#"{"priority": "low"}"#, "u_7", "2").await;
        assert_eq!(status, 200);
        assert_eq!(dry_run_steps(&html)[3], s(&[("sms", "no")])[0]);
        assert!(html.contains("Not met: <code>data.priority equals &quot;high&quot;</code>"));
        assert!(html.contains("wait 1h"), "the steps of the version tried");

        // Bad input is named at its field, on the page.
        let (status, html) = dry("{oops", "", "").await;
        assert_eq!(status, 422);
        assert!(html.contains("<code>data</code>: not JSON"), "{html}");
        assert!(html.contains("{oops</textarea>"), "what was typed stays");
        assert!(dry_run_steps(&html).is_empty());
        let (status, html) = dry("[1]", "", "").await;
        assert_eq!(status, 422);
        assert!(html.contains("<code>data</code>: must be a JSON object"));
        let (status, html) = dry("{}", "", "9").await;
        assert_eq!(status, 422);
        assert!(
            html.contains("<code>version</code>: workflow `comment` has no version 9"),
            "{html}"
        );
        let (status, _) = dry("{}", "", "x").await;
        assert_eq!(status, 422);

        // A read key sees the pages and dry-runs, but activates nothing.
        let reader = ConsoleClient::new(&app);
        assert_eq!(
            reader.sign_in(&make_key(&app, "read").await).await.status(),
            303
        );
        let (status, html) = reader.page("/console/workflows/comment/versions").await;
        assert_eq!(status, 200);
        assert!(
            !html.contains("Activate version"),
            "no buttons it can't use"
        );
        let csrf = reader.csrf().await;
        let r = reader
            .submit(
                "/console/workflows/comment/versions/2/activate",
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 403);
        assert_eq!(app.get_json("/v1/workflows/comment").await["version"], 1);
        let r = reader
            .submit(preview, &[("csrf", csrf.as_str()), ("data", "{}")])
            .await;
        assert_eq!(r.status(), 200);
        app.stop().await;
    })
    .await;
}

/// Each step of a run on a notification's page: (id, state).
fn run_steps(html: &str, run: &str) -> Vec<(String, String)> {
    let at = html
        .find(&format!("data-run=\"{run}\""))
        .unwrap_or_else(|| panic!("no run {run} on the page"));
    let section = &html[at..at + html[at..].find("</section>").unwrap()];
    section
        .split("<li data-step=\"")
        .skip(1)
        .map(|li| {
            let id = &li[..li.find('"').unwrap()];
            let state = &li[li.find("data-state=\"").unwrap() + 12..];
            (
                id.to_string(),
                state[..state.find('"').unwrap()].to_string(),
            )
        })
        .collect()
}

/// The part of a run's section that draws step `step`.
fn step_html<'a>(html: &'a str, run: &str, step: &str) -> &'a str {
    let at = html.find(&format!("data-run=\"{run}\"")).unwrap();
    let at = at
        + html[at..]
            .find(&format!("<li data-step=\"{step}\""))
            .unwrap_or_else(|| panic!("no step {step} in run {run}"));
    let end = html[at + 1..]
        .find("<li data-step=\"")
        .or_else(|| html[at..].find("</ol>"))
        .unwrap();
    &html[at..at + 1 + end]
}

/// Polls the API until `ok` holds of the notification; returns it.
async fn wait_for_notification(app: &TestApp, id: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/v1/notifications/{id}");
    let ok = &ok;
    match poll_until(Duration::from_secs(30), || {
        let path = path.clone();
        async move {
            let n = app.get_json(&path).await;
            (ok(&n), n)
        }
    })
    .await
    {
        Ok(n) => n,
        Err(n) => panic!("the runs never got there: {n:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notifications_page_draws_each_runs_steps_as_a_timeline() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let t = json!({"channels": {"in_app": {"title": "{{title}}", "body": "New comment"}}});
        assert_eq!(app.put("/v1/templates/note", &t).await.status(), 201);
        let wf = json!({"name": "Follow-up", "steps": [
            {"id": "inapp", "type": "send", "channel": "in_app", "template": "note"},
            {"id": "wait", "type": "delay", "for": "1h"},
            {"id": "again", "type": "send", "channel": "in_app", "template": "note",
             "if": [{"field": "data.x", "op": "equals", "value": 1}]}
        ]});
        assert_eq!(app.put("/v1/workflows/followup", &wf).await.status(), 201);
        let wf = json!({"steps": [
            {"id": "inapp", "type": "send", "channel": "in_app", "template": "note"},
            {"id": "vip", "type": "send", "channel": "in_app", "template": "note",
             "if": [{"field": "data.x", "op": "equals", "value": 2}]}
        ]});
        assert_eq!(app.put("/v1/workflows/quick", &wf).await.status(), 201);

        let trigger = |workflow: &'static str, to: Value| {
            let app = &app;
            async move {
                let r = app
                    .post(
                        "/v1/notifications",
                        &json!({"workflow": workflow, "to": to, "data": {"x": 1, "title": "<b>Hi</b>"}}),
                    )
                    .await;
                assert_eq!(r.status(), 202);
                let v: Value = r.json().await.unwrap();
                v["id"].as_str().unwrap().to_string()
            }
        };
        let id = trigger("followup", json!([{"id": "u_a"}, {"id": "u_b"}])).await;
        let n = wait_for_notification(&app, &id, |n| {
            n["runs"].as_array().is_some_and(|r| {
                r.len() == 2 && r.iter().all(|r| r["steps"][1]["state"] == "waiting")
            })
        })
        .await;

        let c = ConsoleClient::new(&app);
        c.sign_in(&app.key).await;
        let (status, html) = c.page(&format!("/console/notifications/{id}")).await;
        assert_eq!(status, 200, "{html}");
        assert!(
            html.contains("href=\"/console/workflows/followup?version=1\""),
            "the workflow's version: {html}"
        );
        assert!(
            html.contains("&quot;title&quot;: &quot;&lt;b&gt;Hi&lt;/b&gt;&quot;"),
            "the data as JSON, escaped"
        );
        assert!(!html.contains("<b>Hi</b>"));
        for run in n["runs"].as_array().unwrap() {
            let rid = run["id"].as_str().unwrap();
            assert_eq!(
                run_steps(&html, rid),
                [("inapp", "done"), ("wait", "waiting"), ("again", "pending")]
                    .map(|(a, b)| (a.to_string(), b.to_string())),
                "{html}"
            );
            let section = &html[html.find(&format!("data-run=\"{rid}\"")).unwrap()..];
            assert!(section.starts_with(&format!("data-run=\"{rid}\" data-status=\"running\"")));
            let recipient = run["recipient"].as_str().unwrap();
            assert!(section.contains(&format!("Run for <a href=\"/console/recipients?id={recipient}\">{recipient}</a>")));
            // The send step links to what it sent.
            let inapp = step_html(&html, rid, "inapp");
            let child = run["steps"][0]["notification_id"].as_str().unwrap();
            assert!(inapp.contains(&format!("href=\"/console/notifications/{child}\"")), "{inapp}");
            let d = run["steps"][0]["deliveries"][0]["id"].as_str().unwrap();
            assert!(inapp.contains(&format!("href=\"/console/deliveries/{d}\"")), "{inapp}");
            assert!(inapp.contains("in_app to "), "{inapp}");
            // The delay says when it goes on, and what it waits for.
            let wait = step_html(&html, rid, "wait");
            assert!(wait.contains("Goes on <time datetime=\""), "{wait}");
            assert!(wait.contains("(in 59 min)") || wait.contains("(in 1 h)"), "{wait}");
            assert!(wait.contains("Waiting: until "), "{wait}");
            let again = step_html(&html, rid, "again");
            assert!(again.contains("class=\"badge state s-queued\">pending<"), "{again}");
        }

        // The run's row in the log and its delivery page lead here.
        let run = &n["runs"][0];
        let rid = run["id"].as_str().unwrap();
        let (_, log) = c.page("/console/deliveries").await;
        let row = &log[log.find(&format!("data-id=\"{rid}\"")).expect("the run's row")..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("href=\"/console/notifications/{id}#run-{rid}\"")),
            "{row}"
        );
        assert!(row.contains("run of <code>followup</code>"), "{row}");
        let (status, page) = c.page(&format!("/console/deliveries/{rid}")).await;
        assert_eq!(status, 200);
        assert!(page.contains("Workflow run "), "{page}");
        assert!(page.contains(&format!("href=\"/console/notifications/{id}#run-{rid}\"")));
        assert!(page.contains(&format!("href=\"/console/notifications/{id}\"")));
        assert!(page.contains("Place in the workflow") && page.contains("&quot;step&quot;: 1"), "{page}");
        assert!(!page.contains("inline content"), "a run has no template");

        // What a step sent: its delivery and its notification lead back
        // to the notification that started the run.
        let child = run["steps"][0]["notification_id"].as_str().unwrap();
        let d = run["steps"][0]["deliveries"][0]["id"].as_str().unwrap();
        let (_, page) = c.page(&format!("/console/deliveries/{d}")).await;
        assert!(page.contains(&format!("href=\"/console/notifications/{child}\"")), "{page}");
        let (status, page) = c.page(&format!("/console/notifications/{child}")).await;
        assert_eq!(status, 200);
        assert!(
            page.contains(&format!("Sent by step <code>inapp</code> of <a href=\"/console/notifications/{id}#run-{rid}\">a workflow run</a>")),
            "{page}"
        );
        assert!(page.contains(&format!("class=\"parent-notification\" href=\"/console/notifications/{id}\"")), "{page}");
        assert!(page.contains(&format!("data-id=\"{d}\"")), "its delivery is listed");
        assert!(page.contains("href=\"/console/templates/note\""), "{page}");

        // A step whose condition fails says why; the run completes.
        let quick = trigger("quick", json!([{"id": "u_a"}])).await;
        let q = wait_for_notification(&app, &quick, |n| {
            n["runs"].as_array().is_some_and(|r| r.iter().all(|r| r["status"] == "completed"))
        })
        .await;
        let (_, html) = c.page(&format!("/console/notifications/{quick}")).await;
        let rid = q["runs"][0]["id"].as_str().unwrap();
        assert_eq!(
            run_steps(&html, rid),
            [("inapp", "done"), ("vip", "skipped")].map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert!(html.contains(&format!("data-run=\"{rid}\" data-status=\"completed\"")));
        let vip = step_html(&html, rid, "vip");
        assert!(vip.contains("Not met: <code>data.x equals 2</code>"), "{vip}");

        assert_eq!(c.page("/console/notifications/nothing").await.0, 404);
        // A key without `read` is refused, as the API refuses it.
        let templates = ConsoleClient::new(&app);
        assert_eq!(templates.sign_in(&make_key(&app, "templates").await).await.status(), 303);
        let (status, page) = templates.page(&format!("/console/notifications/{id}")).await;
        assert_eq!(status, 403);
        assert!(!page.contains("followup"), "{page}");
        app.stop().await;
    })
    .await;
}

/// The `<tr>` of `id` in a table of the page.
fn row<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("data-id=\"{id}\""))
        .unwrap_or_else(|| panic!("no row {id}: {html}"));
    &html[at..at + html[at..].find("</tr>").unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedules_pages_list_show_pause_resume_and_delete() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let wf = json!({"steps": [{"id": "s", "type": "send", "channel": "webhook", "content": {"webhook": {"body": "{}"}}}]});
        assert_eq!(app.put("/v1/workflows/digest", &wf).await.status(), 201);
        for (id, tz) in [("u_sh", "Asia/Shanghai"), ("u_ny", "America/New_York")] {
            let r = app
                .put(&format!("/v1/recipients/{id}"), &json!({"timezone": tz}))
                .await;
            assert_eq!(r.status(), 201);
        }
        let r = app
            .put(
                "/v1/schedules/weekly",
                &json!({"workflow": "digest", "to": [{"id": "u_sh"}, {"id": "u_ny"}, {"webhook_url": "http://127.0.0.1:9/x"}],
                        "data": {"title": "<b>Week</b>"}, "schedule": "weekly mon 09:00", "timezone": "recipient"}),
            )
            .await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        let r = app
            .put(
                "/v1/schedules/nightly",
                &json!({"workflow": "digest", "to": [{"webhook_url": "http://127.0.0.1:9/y"}],
                        "schedule": "30 2 * * *", "timezone": "Europe/Paris"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        assert_eq!(app.post("/v1/schedules/nightly/pause", &json!({})).await.status(), 200);
        // The UTC timezone of `weekly` fires now; `nightly` failed when it last fired.
        let past = missive::util::now_ms() - 60_000;
        app.db
            .execute(&format!(
                "UPDATE schedule_targets SET next_fire_at = {past} WHERE schedule_id = 'weekly' AND timezone = 'UTC'"
            ))
            .await;
        app.db
            .execute(&format!(
                "UPDATE schedule_targets SET last_fired_at = {past}, last_error = 'workflow <i>digest</i> is archived' \
                 WHERE schedule_id = 'nightly'"
            ))
            .await;
        let weekly = poll_until(Duration::from_secs(15), || async {
            let s = app.get_json("/v1/schedules/weekly").await;
            let fired = s["targets"].as_array().unwrap().iter().any(|t| t["last_notification"].is_string());
            (fired, s)
        })
        .await
        .expect("the UTC timezone fires");
        let fired = weekly["targets"].as_array().unwrap().iter().find(|t| t["timezone"] == "UTC").unwrap();
        let notification = fired["last_notification"].as_str().unwrap().to_string();

        // The list: both, running or paused, when each fires next and how it last went.
        let c = ConsoleClient::new(&app);
        c.sign_in(&app.key).await;
        let (status, html) = c.page("/console/schedules").await;
        assert_eq!(status, 200);
        assert!(html.contains("href=\"/console/schedules\" class=\"on\""), "in the menu");
        let menu = &html[html.find("<nav>").unwrap()..html.find("</nav>").unwrap()];
        assert!(menu.find("Workflows").unwrap() < menu.find("Schedules").unwrap());
        assert!(html.find("data-id=\"nightly\"").unwrap() < html.find("data-id=\"weekly\"").unwrap());
        let w = row(&html, "weekly");
        assert!(w.contains("href=\"/console/schedules/weekly\""), "{w}");
        assert!(w.contains("href=\"/console/workflows/digest\""), "{w}");
        assert!(w.contains("weekly mon 09:00") && w.contains("each recipient"), "{w}");
        assert!(w.contains(">running<") && !w.contains("paused"), "{w}");
        let next = weekly["next_fire_at"].as_str().unwrap();
        assert!(w.contains(&format!("datetime=\"{next}\"")) && w.contains("(in "), "next firing: {w}");
        assert!(w.contains(&format!("href=\"/console/notifications/{notification}\"")), "last firing: {w}");
        let n = row(&html, "nightly");
        assert!(n.contains("class=\"paused\"") && n.contains(">paused<"), "{n}");
        assert!(n.contains("30 2 * * *") && n.contains("in Europe/Paris"), "{n}");
        assert!(n.contains("none while paused"), "{n}");
        assert!(n.contains("workflow &lt;i&gt;digest&lt;/i&gt; is archived"), "the error, escaped: {n}");

        // A schedule's page: its recipients, data and timezones.
        let (status, html) = c.page("/console/schedules/weekly").await;
        assert_eq!(status, 200);
        assert!(html.contains("<dd class=\"recipients\">3</dd>"), "{html}");
        assert!(html.contains("&lt;b&gt;Week&lt;/b&gt;") && !html.contains("<b>Week"), "data, escaped");
        let zones: Vec<&str> = html.split("data-timezone=\"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
        assert_eq!(zones, ["America/New_York", "Asia/Shanghai", "UTC"]);
        let utc = &html[html.find("data-timezone=\"UTC\"").unwrap()..];
        let utc = &utc[..utc.find("</tr>").unwrap()];
        assert!(utc.contains(&format!("href=\"/console/notifications/{notification}\"")), "{utc}");
        assert!(utc.contains(&format!("datetime=\"{}\"", fired["next_fire_at"].as_str().unwrap())));
        assert!(utc.contains(&format!("datetime=\"{}\"", fired["last_fired_at"].as_str().unwrap())));
        assert!(html.contains("id=\"pause\"") && !html.contains("id=\"resume\""));
        assert!(html.contains("action=\"/console/schedules/weekly/delete\" data-confirm=\"Delete schedule weekly?"));
        assert_eq!(c.page(&format!("/console/notifications/{notification}")).await.0, 200);
        let (_, html) = c.page("/console/schedules/nightly").await;
        assert!(html.contains("id=\"resume\"") && !html.contains("id=\"pause\""));
        assert!(html.contains("is archived"));
        assert_eq!(c.page("/console/schedules/nothing").await.0, 404);

        // Pause and resume by the form, which needs the session's token.
        let pause = "/console/schedules/weekly/pause";
        assert_eq!(c.submit(pause, &[]).await.status(), 403, "no token");
        assert_eq!(c.submit(pause, &[("csrf", "forged")]).await.status(), 403, "wrong token");
        assert_eq!(app.get_json("/v1/schedules/weekly").await["paused"], false);
        let csrf = c.csrf().await;
        let r = c.submit(pause, &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), 303);
        assert!(location(&r).starts_with("/console/schedules/weekly?notice="));
        assert_eq!(app.get_json("/v1/schedules/weekly").await["paused"], true);
        let (_, html) = c.page(&location(&r)).await;
        assert!(html.contains("Paused: it fires no more until resumed."), "{html}");
        assert!(html.contains("id=\"resume\""));
        let r = c.submit("/console/schedules/weekly/resume", &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), 303);
        let s = app.get_json("/v1/schedules/weekly").await;
        assert_eq!(s["paused"], false);
        assert!(s["next_fire_at"].is_string());
        let r = c.submit("/console/schedules/nothing/pause", &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), 404);

        // A read key sees the pages, with no buttons, and changes nothing.
        let reader = ConsoleClient::new(&app);
        assert_eq!(reader.sign_in(&make_key(&app, "read").await).await.status(), 303);
        let (status, html) = reader.page("/console/schedules").await;
        assert_eq!(status, 200);
        assert!(html.contains("data-id=\"weekly\"") && html.contains("data-id=\"nightly\""));
        for id in ["weekly", "nightly"] {
            let (status, html) = reader.page(&format!("/console/schedules/{id}")).await;
            assert_eq!(status, 200);
            for button in ["id=\"pause\"", "id=\"resume\"", "id=\"delete\"", "method=\"post\" action=\"/console/schedules"] {
                assert!(!html.contains(button), "{id}: no buttons it can't use ({button})");
            }
        }
        let rcsrf = reader.csrf().await;
        for action in ["pause", "resume", "delete"] {
            let r = reader
                .submit(&format!("/console/schedules/weekly/{action}"), &[("csrf", &rcsrf)])
                .await;
            assert_eq!(r.status(), 403, "{action}");
        }
        let s = app.get_json("/v1/schedules/weekly").await;
        assert_eq!(s["paused"], false, "unchanged");

        // Delete, by the form too.
        let delete = "/console/schedules/weekly/delete";
        assert_eq!(c.submit(delete, &[]).await.status(), 403, "no token");
        assert_eq!(app.get("/v1/schedules/weekly").await.status(), 200);
        let r = c.submit(delete, &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), 303);
        assert!(location(&r).starts_with("/console/schedules?notice="));
        assert_eq!(app.get("/v1/schedules/weekly").await.status(), 404);
        let (_, html) = c.page(&location(&r)).await;
        assert!(html.contains("Schedule weekly deleted"), "{html}");
        assert!(!html.contains("data-id=\"weekly\"") && html.contains("data-id=\"nightly\""));
        assert_eq!(c.submit(delete, &[("csrf", &csrf)]).await.status(), 404);
        app.stop().await;
    })
    .await;
}
