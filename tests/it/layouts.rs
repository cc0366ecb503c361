//! Shared layouts and partials end to end: stored, versioned, named by
//! templates, resolved per locale at their current version (a change shows
//! in the preview of every template using it, and in the next email sent
//! over SMTP), and refused when they would recurse or are missing.

use std::time::Duration;

use missive_testkit::SmtpServer;
use serde_json::{json, Value};

use crate::email::{smtp_toml, Mime};
use crate::helpers::*;

async fn problem(r: reqwest::Response, status: u16) -> Vec<(String, String)> {
    let got = r.status();
    let p: Value = r.json().await.unwrap();
    assert_eq!(got, status, "{p:#}");
    p["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap().to_string(),
                        e["message"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn preview(app: &TestApp, key: &str, locale: &str) -> Value {
    let r = app
        .post(
            &format!("/v1/templates/{key}/preview"),
            &json!({"data": {"name": "Ana", "brand": "Shop"}, "locale": locale}),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body:#}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_change_shows_in_every_template_using_it_and_in_the_next_email() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let app = spawn_app_with(&b, &smtp_toml(server.port, "", "")).await;

        let r = app
            .put(
                "/v1/partials/footer",
                &json!({"source": "Sent by {{brand}}", "locales": {"zh": "来自 {{brand}}"}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let r = app
            .put(
                "/v1/layouts/brand",
                &json!({
                    "name": "Brand",
                    "html": "<main>{{{content}}}</main><footer>{{> footer}}</footer>",
                    "text": "{{{content}}}\n-- \n{{> footer}}"
                }),
            )
            .await;
        assert_eq!(r.status(), 201);

        for key in ["welcome", "receipt"] {
            let r = app
                .put(
                    &format!("/v1/templates/{key}"),
                    &json!({"layout": "brand", "channels": {"email": {
                        "subject": "{{name}}: {{brand}}",
                        "html": format!("<p>{key} {{{{name}}}}</p>"),
                        "text": format!("{key} {{{{name}}}}")
                    }}}),
                )
                .await;
            assert_eq!(r.status(), 201, "{:#}", r.json::<Value>().await.unwrap());
        }
        let t = app.get_json("/v1/templates/welcome").await;
        assert_eq!(t["layout"], "brand");

        let p = preview(&app, "welcome", "en").await;
        assert_eq!(
            p["channels"]["email"]["html"],
            "<main><p>welcome Ana</p></main><footer>Sent by Shop</footer>"
        );
        assert_eq!(
            p["channels"]["email"]["text"],
            "welcome Ana\n-- \nSent by Shop"
        );
        // The subject is not wrapped.
        assert_eq!(p["channels"]["email"]["subject"], "Ana: Shop");
        // The partial's Chinese text for a zh-CN recipient, though the
        // template itself has no Chinese.
        let zh = preview(&app, "receipt", "zh-CN").await;
        assert_eq!(
            zh["channels"]["email"]["html"],
            "<main><p>receipt Ana</p></main><footer>来自 Shop</footer>"
        );

        // A new version of the layout: both templates show it, with no
        // change to either.
        let r = app
            .put(
                "/v1/layouts/brand",
                &json!({
                    "html": "<div class=\"v2\">{{{content}}}</div>{{> footer}}",
                    "text": "{{{content}}}\n(v2) {{> footer}}"
                }),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["version"], 2);
        for key in ["welcome", "receipt"] {
            let p = preview(&app, key, "en").await;
            assert_eq!(
                p["channels"]["email"]["html"],
                format!("<div class=\"v2\"><p>{key} Ana</p></div>Sent by Shop")
            );
        }
        let l = app.get_json("/v1/layouts/brand").await;
        assert_eq!(l["used_by"], json!(["receipt", "welcome"]));
        assert_eq!(l["current_version"], 2);
        let f = app.get_json("/v1/partials/footer").await;
        assert_eq!(
            f["used_by"],
            json!([]),
            "templates include it through the layout only"
        );

        // And the email sent over SMTP is the one the preview showed.
        let r = app
            .post(
                "/v1/notifications",
                &json!({"template": "welcome", "to": [{"email": "ana@example.com"}],
                        "data": {"name": "Ana", "brand": "Shop"}}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let got = server.wait_for(1, Duration::from_secs(10)).await;
        let m = Mime::parse(&got[0].data);
        let parts = m.parts();
        // Mail lines end in CRLF.
        assert_eq!(
            parts[0].text().replace("\r\n", "\n"),
            "welcome Ana\n(v2) Sent by Shop"
        );
        assert_eq!(
            parts[1].text(),
            "<div class=\"v2\"><p>welcome Ana</p></div>Sent by Shop"
        );

        // Rolling the layout back to version 1 is seen by the next preview.
        let r = app
            .post("/v1/layouts/brand/versions/1/activate", &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        let p = preview(&app, "welcome", "en").await;
        assert!(
            p["channels"]["email"]["html"]
                .as_str()
                .unwrap()
                .starts_with("<main>"),
            "{p:#}"
        );

        // The layout's own preview, around given html.
        let r = app
            .post(
                "/v1/layouts/brand/preview",
                &json!({"html": "<h1>Hi {{name}}</h1>", "data": {"name": "Bo", "brand": "Shop"}}),
            )
            .await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["email"]["html"], "<main><h1>Hi Bo</h1></main><footer>Sent by Shop</footer>",
            "{body:#}"
        );

        // Archiving the layout stops sends of the templates naming it, with
        // a 422 that says why; nothing is accepted.
        let r = app
            .client
            .delete(app.url("/v1/layouts/brand"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let r = app
            .post(
                "/v1/notifications",
                &json!({"template": "welcome", "to": [{"email": "ana@example.com"}],
                        "data": {"name": "Ana", "brand": "Shop"}}),
            )
            .await;
        let errs = problem(r, 422).await;
        assert_eq!(errs[0].0, "layout", "{errs:?}");
        assert!(errs[0].1.contains("archived"), "{errs:?}");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partials_are_included_by_templates_and_recursion_is_refused() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        assert_eq!(
            app.put(
                "/v1/partials/greeting",
                &json!({"source": "Hello {{name}}"})
            )
            .await
            .status(),
            201
        );
        assert_eq!(
            app.put(
                "/v1/partials/sig",
                &json!({"source": "{{> greeting}}, from us"})
            )
            .await
            .status(),
            201
        );
        let r = app
            .put(
                "/v1/templates/note",
                &json!({"channels": {"sms": {"text": "{{> sig}}!"}}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let p = preview(&app, "note", "").await;
        assert_eq!(p["channels"]["sms"]["text"], "Hello Ana, from us!");
        let g = app.get_json("/v1/partials/sig").await;
        assert_eq!(g["used_by"], json!(["note"]));

        // greeting → sig → greeting: refused, naming the chain.
        let errs = problem(
            app.put("/v1/partials/greeting", &json!({"source": "Hi {{> sig}}"}))
                .await,
            422,
        )
        .await;
        assert_eq!(errs[0].0, "source", "{errs:?}");
        assert!(errs[0].1.contains("includes itself"), "{errs:?}");
        assert!(
            errs[0].1.contains("greeting") && errs[0].1.contains("sig"),
            "{errs:?}"
        );
        // ...and directly.
        let errs = problem(
            app.put("/v1/partials/loop", &json!({"source": "x {{> loop}}"}))
                .await,
            422,
        )
        .await;
        assert!(errs[0].1.contains("includes itself"), "{errs:?}");
        // Nothing changed: the template still renders as before.
        let p = preview(&app, "note", "").await;
        assert_eq!(p["channels"]["sms"]["text"], "Hello Ana, from us!");

        // A template naming a partial or layout that is not stored is
        // refused when saved, naming what is missing.
        let errs = problem(
            app.put(
                "/v1/templates/broken",
                &json!({"channels": {"sms": {"text": "{{> nowhere}}"}}}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(errs[0].0, "channels");
        assert!(errs[0].1.contains("`nowhere`"), "{errs:?}");
        let errs = problem(
            app.put(
                "/v1/templates/broken",
                &json!({"layout": "none", "channels": {"email": {"subject": "s", "html": "h"}}}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(errs[0].0, "layout");
        // A syntax error in a template using partials points at its own line.
        let errs = problem(
            app.put(
                "/v1/templates/broken",
                &json!({"channels": {"sms": {"text": "{{> sig}}\n{{#if x}}"}}}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(errs[0].0, "channels.sms.text");
        assert!(errs[0].1.contains("line 2"), "{errs:?}");

        // Layouts need their mark once, and name the field.
        let errs = problem(
            app.put("/v1/layouts/bad", &json!({"html": "<p>no mark</p>"}))
                .await,
            422,
        )
        .await;
        assert_eq!(errs[0].0, "html");
        assert!(errs[0].1.contains("{{{content}}}"), "{errs:?}");
        let r = app
            .put(
                "/v1/layouts/bad",
                &json!({"html": "{{{content}}}", "extra": 1}),
            )
            .await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("extra"));
        let errs = problem(
            app.put("/v1/partials/a b", &json!({"source": "x"})).await,
            422,
        )
        .await;
        assert_eq!(errs[0].0, "key");

        // Partials are versioned like templates.
        let v = app.get_json("/v1/partials/greeting/versions").await;
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
        let list = app.get_json("/v1/partials").await;
        let keys: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, vec!["greeting", "sig"]);
        app.stop().await;
    })
    .await;
}
