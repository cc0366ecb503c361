//! One authorization rule: every console page answers a key as the API
//! route showing the same data does (403 where the API says 403), and the
//! console's and the API's security headers.

use serde_json::{json, Value};

use crate::console::ConsoleClient;
use crate::helpers::*;

pub(crate) async fn make_key(app: &TestApp, scopes: &str) -> String {
    missive::service::auth::create_key(app.state.store.as_ref(), scopes, scopes)
        .await
        .unwrap()
        .0
}

async fn api_status(app: &TestApp, key: &str, path: &str) -> u16 {
    app.client
        .get(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_allows_what_the_api_allows_and_no_more() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let r = app
            .put("/v1/recipients/u_1", &json!({"email": "ana@example.com"}))
            .await;
        assert_eq!(r.status(), 201);
        let t = json!({"name": "Welcome", "channels": {"webhook": {"body": "{\"n\": {{json name}} }"}}});
        assert_eq!(app.put("/v1/templates/welcome", &t).await.status(), 201);
        let w = json!({"steps": [{"id": "a", "type": "send", "channel": "webhook", "template": "welcome"}]});
        assert_eq!(app.put("/v1/workflows/onboarding", &w).await.status(), 201);
        let r = app
            .put(
                "/v1/schedules/weekly",
                &json!({"workflow": "onboarding", "to": [{"id": "u_1", "webhook_url": "http://127.0.0.1:9/secret-hook"}],
                        "schedule": "weekly mon 09:00"}),
            )
            .await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let r = app
            .post(
                "/v1/notifications",
                &json!({"template": "welcome", "to": [{"id": "u_1", "webhook_url": "http://127.0.0.1:9/secret-hook"}],
                        "data": {"name": "Ana"}, "send_at": at}),
            )
            .await;
        assert_eq!(r.status(), 202, "{:?}", r.text().await);
        let v: Value = r.json().await.unwrap();
        let delivery = v["deliveries"][0]["id"].as_str().unwrap().to_string();
        let notification = v["id"].as_str().unwrap().to_string();

        // (console page, the API routes with the same data)
        let s = |v: &str| v.to_string();
        let pairs = [
            (s("/console"), vec![s("/v1/deliveries"), s("/v1/providers")]),
            (s("/console/deliveries"), vec![s("/v1/deliveries")]),
            (
                format!("/console/deliveries/{delivery}"),
                vec![format!("/v1/deliveries/{delivery}")],
            ),
            (
                format!("/console/notifications/{notification}"),
                vec![format!("/v1/notifications/{notification}")],
            ),
            // The profile and the recipient's recent deliveries.
            (
                s("/console/recipients?id=u_1"),
                vec![s("/v1/recipients/u_1"), s("/v1/deliveries?recipient=u_1")],
            ),
            (s("/console/templates"), vec![s("/v1/templates")]),
            (
                s("/console/templates/welcome"),
                vec![s("/v1/templates/welcome")],
            ),
            (
                s("/console/templates/welcome/versions"),
                vec![s("/v1/templates/welcome/versions")],
            ),
            (s("/console/workflows"), vec![s("/v1/workflows")]),
            (
                s("/console/workflows/onboarding"),
                vec![s("/v1/workflows/onboarding")],
            ),
            (
                s("/console/workflows/onboarding/versions"),
                vec![s("/v1/workflows/onboarding/versions")],
            ),
            (s("/console/schedules"), vec![s("/v1/schedules")]),
            (
                s("/console/schedules/weekly"),
                vec![s("/v1/schedules/weekly")],
            ),
            (s("/console/suppressions"), vec![s("/v1/suppressions")]),
            (s("/console/endpoints"), vec![s("/v1/endpoints")]),
        ];
        for scopes in ["templates", "read", "admin", "send,templates"] {
            let key = make_key(&app, scopes).await;
            let c = ConsoleClient::new(&app);
            assert_eq!(c.sign_in(&key).await.status(), 303, "{scopes}");
            for (page, apis) in &pairs {
                let mut api = 200;
                for path in apis {
                    let s = api_status(&app, &key, path).await;
                    assert!(s == 200 || s == 403, "{scopes}: {path} answered {s}");
                    api = api.max(s);
                }
                let (mut status, html) = c.page(page).await;
                if status == 303 && page == "/console" {
                    status = 403; // sent on to a page it may see
                }
                assert_eq!(
                    status, api,
                    "{b:?} {scopes}: {page} must answer as {apis:?} do"
                );
                if status == 403 {
                    assert!(!html.contains("secret-hook"), "{page} shows nothing");
                }
            }
            let (keys, _) = c.page("/console/keys").await;
            assert_eq!(keys, if scopes == "admin" { 200 } else { 403 }, "{scopes}");
        }

        // A templates key: no deliveries, delivery pages or recipients
        // (403, and not in the menu); templates work, and the console's
        // front page sends it there.
        let key = make_key(&app, "templates").await;
        let c = ConsoleClient::new(&app);
        assert_eq!(c.sign_in(&key).await.status(), 303);
        for page in [
            "/console/deliveries".to_string(),
            format!("/console/deliveries/{delivery}"),
            "/console/recipients".to_string(),
            "/console/recipients?id=u_1".to_string(),
        ] {
            let (status, html) = c.page(&page).await;
            assert_eq!(status, 403, "{page}");
            assert!(
                html.contains("needs the `read`"),
                "says what is needed: {html}"
            );
        }
        let (status, html) = c.page("/console/templates").await;
        assert_eq!(status, 200);
        assert!(html.contains("welcome"));
        assert!(!html.contains("href=\"/console/deliveries\""), "menu");
        assert!(!html.contains("href=\"/console/recipients\""), "menu");
        let r = c
            .http
            .get(format!("{}/console", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/console/templates");

        // A read key sees deliveries with their content; an admin sees all.
        let read = ConsoleClient::new(&app);
        assert_eq!(
            read.sign_in(&make_key(&app, "read").await).await.status(),
            303
        );
        let (status, html) = read.page(&format!("/console/deliveries/{delivery}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("secret-hook"));
        assert_eq!(read.page("/console").await.0, 200);
        let admin = ConsoleClient::new(&app);
        assert_eq!(admin.sign_in(&app.key).await.status(), 303);
        for page in [
            "/console",
            "/console/deliveries",
            "/console/recipients?id=u_1",
            "/console/templates",
            "/console/workflows",
            "/console/schedules",
            "/console/keys",
        ] {
            assert_eq!(admin.page(page).await.0, 200, "{page}");
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_api_answers_carry_the_security_headers() {
    let b = &backends()[0];
    let app = spawn_app(b).await;
    let c = ConsoleClient::new(&app);
    let check = |path: &str, r: &reqwest::Response| {
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"))
            .to_str()
            .unwrap();
        for d in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(d), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        assert!(
            !csp.split(';')
                .any(|d| d.contains("script-src") && d.contains("unsafe-inline")),
            "{csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
    };
    let get = |path: &str| c.http.get(format!("{}{path}", app.base)).send();
    for path in ["/console/login", "/console", "/console/assets/console.js"] {
        let r = get(path).await.unwrap();
        check(path, &r);
    }
    let r = c.sign_in(&app.key).await;
    check("sign-in", &r);
    for path in [
        "/console",
        "/console/deliveries",
        "/console/keys",
        "/console/nope",
    ] {
        let r = get(path).await.unwrap();
        check(path, &r);
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
        // No inline script: the policy would block it.
        let html = r.text().await.unwrap();
        assert!(
            !html.contains("<script>") && !html.contains(" onclick=") && !html.contains(" onload="),
            "{path}"
        );
    }
    // The page that shows a new key is never cached.
    let csrf = c.csrf().await;
    let r = c
        .submit(
            "/console/keys",
            &[("csrf", csrf.as_str()), ("name", "ci"), ("scopes", "send")],
        )
        .await;
    assert_eq!(r.status(), 200);
    check("new key", &r);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.text().await.unwrap().contains("msv_"));

    // The API: nosniff everywhere; a new inbox token is not cached.
    for path in ["/v1/deliveries", "/v1/nope", "/healthz"] {
        let r = app.get(path).await;
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    let r = app.post("/v1/recipients/u_1/token", &json!({})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["cache-control"], "no-store");
    app.stop().await;
}
