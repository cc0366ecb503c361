//! The recipient's side: marketing mail over SMTP carries a signed RFC 8058
//! one-click unsubscribe link; posting it turns that category off for that
//! recipient only, and the next marketing send is suppressed while
//! transactional mail still goes. Links that were altered, revoked or made
//! for someone else open nothing. (The preference page itself is driven in
//! the browser: tests/it/browser.rs.)

use std::time::Duration;

use missive_testkit::SmtpServer;
use serde_json::{json, Value};

use crate::email::{smtp_toml, Mime};
use crate::helpers::*;

const PUBLIC: &str = "https://notify.example.com";

async fn send(app: &TestApp, to: &str, category: &str) -> Value {
    let r = app
        .post(
            "/v1/notifications",
            &json!({"content": {"email": {"subject": "News", "text": "Hello"}},
                    "to": [{"id": to}], "category": category}),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{body:#}");
    body
}

/// The path of a one-click link (`/u/...`) from a List-Unsubscribe value.
fn link_path(header: &str) -> String {
    let url = header.trim().trim_start_matches('<').trim_end_matches('>');
    assert!(url.starts_with(&format!("{PUBLIC}/u/mpt1.")), "{url}");
    url.strip_prefix(PUBLIC).unwrap().to_string()
}

async fn one_click(app: &TestApp, path: &str) -> reqwest::Response {
    // As a mail client does it (RFC 8058): a POST with this body, no
    // cookie, no key.
    reqwest::Client::new()
        .post(app.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_click_unsubscribe_turns_the_category_off_for_that_recipient_only() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let cfg = format!(
            "{}\n[server]\npublic_url = \"{PUBLIC}/\"\n",
            smtp_toml(server.port, "", "")
        );
        let app = spawn_app_with(&b, &cfg).await;
        for (id, email) in [("ana", "ana@example.com"), ("bo", "bo@example.com")] {
            let r = app
                .put(&format!("/v1/recipients/{id}"), &json!({"email": email}))
                .await;
            assert_eq!(r.status(), 201);
        }

        send(&app, "ana", "marketing").await;
        send(&app, "ana", "transactional").await;
        let got = server.wait_for(2, Duration::from_secs(10)).await;
        let mails: Vec<Mime> = got.iter().map(|m| Mime::parse(&m.data)).collect();
        let marketing = mails
            .iter()
            .find(|m| m.header("List-Unsubscribe").is_some())
            .expect("the marketing mail has a List-Unsubscribe header");
        assert_eq!(
            marketing.header("List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        assert_eq!(
            mails
                .iter()
                .filter(|m| m.header("List-Unsubscribe").is_some())
                .count(),
            1,
            "transactional mail has no unsubscribe link"
        );
        let path = link_path(marketing.header("List-Unsubscribe").unwrap());

        // A GET (a mail scanner following the link) changes nothing.
        let r = reqwest::get(app.url(&path)).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("method=\"post\""));
        let ana = app.get_json("/v1/recipients/ana").await;
        assert_ne!(ana["preferences"]["categories"]["marketing"], false);

        // An altered link opens nothing.
        let mut altered = path.clone();
        altered.pop();
        altered.push(if path.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(one_click(&app, &altered).await.status(), 404);

        // The one-click POST.
        let r = one_click(&app, &path).await;
        assert_eq!(r.status(), 200);
        let ana = app.get_json("/v1/recipients/ana").await;
        assert_eq!(
            ana["preferences"]["categories"]["marketing"], false,
            "{ana:#}"
        );
        let bo = app.get_json("/v1/recipients/bo").await;
        assert_ne!(
            bo["preferences"]["categories"]["marketing"], false,
            "{bo:#}"
        );

        // The next marketing mail to ana is suppressed; transactional goes.
        let m = send(&app, "ana", "marketing").await;
        assert_eq!(m["deliveries"][0]["status"], "suppressed", "{m:#}");
        assert_eq!(m["deliveries"][0]["reason"], "preference", "{m:#}");
        let t = send(&app, "ana", "transactional").await;
        app.wait_for_status(t["deliveries"][0]["id"].as_str().unwrap(), "sent")
            .await;

        // Revoking the recipient's tokens ends the link.
        let r = app
            .client
            .delete(app.url("/v1/recipients/ana/token"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(one_click(&app, &path).await.status(), 410);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preference_links_are_made_per_recipient_and_refuse_bad_input() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, &format!("[server]\npublic_url = \"{PUBLIC}\"\n")).await;
        app.put(
            "/v1/recipients/li",
            &json!({"email": "li@example.com", "locale": "zh-CN"}),
        )
        .await;
        let r = app
            .post(
                "/v1/recipients/li/preference-link",
                &json!({"category": "marketing"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let link: Value = r.json().await.unwrap();
        let url = link["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{PUBLIC}/p/mpt1.")), "{link:#}");
        assert!(link["unsubscribe_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{PUBLIC}/u/mpt1.")));

        // The page answers in the recipient's language, without a login.
        let page = reqwest::get(app.url(url.strip_prefix(PUBLIC).unwrap()))
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        let html = page.text().await.unwrap();
        assert!(html.contains("lang=\"zh-CN\""), "{html}");
        assert!(html.contains("通知偏好设置"), "{html}");

        // An inbox token is not a preference link.
        let t: Value = app
            .post("/v1/recipients/li/token", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        let r = reqwest::get(app.url(&format!("/p/{}", t["token"].as_str().unwrap())))
            .await
            .unwrap();
        assert_eq!(r.status(), 404);

        for (body, field) in [
            (json!({"category": "auth"}), "category"),
            (json!({"category": "spam"}), "category"),
        ] {
            let r = app.post("/v1/recipients/li/preference-link", &body).await;
            assert_eq!(r.status(), 422);
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["errors"][0]["field"], field, "{p:#}");
        }
        let r = app
            .post("/v1/recipients/nobody/preference-link", &json!({}))
            .await;
        assert_eq!(r.status(), 404);
        app.stop().await;
    })
    .await;
}
