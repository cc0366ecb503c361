//! Templates written to hurt, against the real binary: a partial that
//! includes itself, and a few hundred bytes that would render hundreds of
//! megabytes. Each is answered 422 naming the part, quickly, while the
//! process keeps answering `/healthz`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::crash::{child_env, run_cmd, start_serve};
use crate::helpers::*;

/// A new key with `scopes`, made with `missive keys create`.
async fn key_with(db: &TestDb, scopes: &str) -> String {
    let run = run_cmd(
        &child_env(db, free_port()),
        &["keys", "create", "--name", scopes, "--scopes", scopes],
    )
    .await;
    assert!(run.status.success(), "{run}");
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix("key:"))
        .unwrap_or_else(|| panic!("no key in {run}"))
        .trim()
        .to_string()
}

async fn post(server: &ChildGuard, key: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(server.url(path))
        .bearer_auth(key)
        .json(body)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}\n{}", server.stderr()));
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `/healthz`'s status and how long it took to answer.
async fn healthz(server: &ChildGuard) -> (u16, Duration) {
    let started = Instant::now();
    let status = reqwest::Client::new()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    (status, started.elapsed())
}

fn first_error(p: &Value) -> (String, String) {
    let e = &p["errors"][0];
    (
        e["field"].as_str().unwrap_or_default().to_string(),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

const SELF_INCLUDING: &str = "{{#*inline \"p\"}}{{> p}}{{/inline}}{{> p}}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_that_includes_itself_is_refused_and_the_process_stays_up() {
    let db = TestDb::new(&Backend::Sqlite);
    let mut server = start_serve(&db, &[], "serve").await;
    let read = key_with(&db, "read").await;
    let send = key_with(&db, "send").await;

    let (status, p) = post(
        &server,
        &read,
        "/v1/templates/x/preview",
        &json!({"draft": {"channels": {"sms": {"text": SELF_INCLUDING}}}}),
    )
    .await;
    assert_eq!(status, 422, "{p}\n{}", server.stderr());
    let (field, message) = first_error(&p);
    assert_eq!(field, "channels.sms.text", "{p}");
    assert!(
        message.contains("partial `p` includes itself (p → p)"),
        "{p}"
    );

    let (status, p) = post(
        &server,
        &send,
        "/v1/notifications",
        &json!({"content": {"sms": {"text": SELF_INCLUDING}},
                "to": [{"phone": "+15555550100"}], "data": {}}),
    )
    .await;
    assert_eq!(status, 422, "{p}\n{}", server.stderr());
    let (field, message) = first_error(&p);
    assert_eq!(field, "content.sms.text", "{p}");
    assert!(message.contains("includes itself"), "{p}");

    let (status, _) = healthz(&server).await;
    assert_eq!(status, 200, "{}", server.stderr());
    assert!(server.try_exit().is_none(), "{}", server.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_that_renders_too_much_is_refused_quickly_and_healthz_keeps_answering() {
    let db = TestDb::new(&Backend::Sqlite);
    // Steps unbounded here, so the clock is what stops the silent loops.
    let mut server = start_serve(
        &db,
        &[("MISSIVE__RENDER__MAX_STEPS", "1000000000000")],
        "serve",
    )
    .await;
    let read = key_with(&db, "read").await;
    let send = key_with(&db, "send").await;
    let items: Vec<u32> = (0..150).collect();

    // 150⁴ iterations writing one byte each: over the SMS output limit.
    let nested = "{{#each a}}{{#each ../a}}{{#each ../../a}}{{#each ../../../a}}x{{/each}}{{/each}}{{/each}}{{/each}}";
    let started = Instant::now();
    let (status, p) = post(
        &server,
        &read,
        "/v1/templates/x/preview",
        &json!({"draft": {"channels": {"sms": {"text": nested}}}, "data": {"a": items}}),
    )
    .await;
    assert_eq!(status, 422, "{p}");
    let (field, message) = first_error(&p);
    assert_eq!(field, "channels.sms.text", "{p}");
    assert!(message.contains("renders to more than 64 KiB"), "{p}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );

    // The same loops writing nothing run until the deadline (2 s), on a
    // render thread: /healthz answers promptly all the while.
    let silent = "{{#each a}}{{#each ../a}}{{#each ../../a}}{{#each ../../../a}}{{/each}}{{/each}}{{/each}}{{/each}}";
    let watch = {
        let url = server.url("/healthz");
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut slowest = Duration::ZERO;
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                let started = Instant::now();
                let ok = client
                    .get(&url)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                assert!(ok, "/healthz failed");
                slowest = slowest.max(started.elapsed());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            slowest
        })
    };
    let started = Instant::now();
    let (status, p) = post(
        &server,
        &send,
        "/v1/notifications",
        &json!({"content": {"sms": {"text": silent}},
                "to": [{"phone": "+15555550100"}], "data": {"a": items}}),
    )
    .await;
    assert_eq!(status, 422, "{p}");
    let (field, message) = first_error(&p);
    assert_eq!(field, "content.sms.text", "{p}");
    assert!(
        message.contains("took longer than 2s to render (render.timeout)"),
        "{p}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    let slowest = watch.await.unwrap();
    assert!(
        slowest < Duration::from_secs(2),
        "/healthz took {slowest:?} while a template rendered"
    );
    assert!(server.try_exit().is_none(), "{}", server.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_templates_escape_hostile_data_in_html_previews() {
    let app = spawn_app(&Backend::Sqlite).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let templates = missive::render::files::read_dir(&dir).unwrap();
    for (key, content) in &templates {
        missive::service::templates::save(
            app.state.store.as_ref(),
            &app.state.renderer,
            key,
            key,
            content,
        )
        .await
        .unwrap();
    }
    let h = "Bob <script>alert(\"x\")</script> & 'q'";
    let data = json!({"name": h, "order_id": h, "code": h, "tracking_url": h, "reset_url": h,
                      "minutes": h, "hours": h, "currency": h, "total": 1234.5,
                      "shipped_at": "2026-11-23T09:00:00Z"});
    for key in templates.keys() {
        for locale in ["en-US", "zh-CN"] {
            let r = app
                .post(
                    &format!("/v1/templates/{key}/preview"),
                    &json!({"data": data, "locale": locale}),
                )
                .await;
            assert_eq!(r.status(), 200, "{key} {locale}");
            let p: Value = r.json().await.unwrap();
            let html = p["channels"]["email"]["html"].as_str().unwrap();
            assert!(!html.contains("<script"), "{key} {locale}: {html}");
            assert!(html.contains("&lt;script&gt;"), "{key} {locale}: {html}");
        }
    }
    // The case as reported: `default` in order-shipped's greeting.
    let p: Value = app
        .post(
            "/v1/templates/order-shipped/preview",
            &json!({"data": data}),
        )
        .await
        .json()
        .await
        .unwrap();
    let html = p["channels"]["email"]["html"].as_str().unwrap();
    assert!(
        html.starts_with(
            "<p>Hi Bob &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;,</p>"
        ),
        "{html}"
    );
}
