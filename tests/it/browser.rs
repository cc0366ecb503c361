//! The console in a real browser: headless Chromium driven over WebDriver
//! (Debian's chromium and chromium-driver; `.ci/run` installs them).
//! An operator signs in, finds a failed delivery by filter, opens it,
//! retries it and sees it sent; an admin edits a template, sees the preview
//! follow and an error at its line, saves and rolls back; a workflow's steps
//! read in order and its dry run answers, and its schedules are listed,
//! paused, resumed and deleted; a trigger's runs are followed step by step
//! from the log.
//!
//! Screenshots of the pages go to `target/screenshots/`, or to
//! `docs/screenshots/` with `MISSIVE_SCREENSHOTS=docs`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver of the test's own, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts chromedriver and a headless Chromium session; `None` (with a
/// note) when this machine has no Chromium and isn't CI. In CI a missing
/// browser fails the test.
async fn browser() -> Option<(Driver, Client)> {
    let have =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !have {
        if std::env::var_os("CI").is_some() {
            panic!("browser tests need {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver");
        }
        eprintln!("skipping a browser test: install chromium and chromium-driver to run it");
        return None;
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, port };
    let status = format!("http://127.0.0.1:{port}/status");
    let up = poll_until(Duration::from_secs(20), || {
        let status = status.clone();
        async move {
            (
                reqwest::get(&status)
                    .await
                    .is_ok_and(|r| r.status().is_success()),
                (),
            )
        }
    })
    .await;
    assert!(up.is_ok(), "chromedriver did not start");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-dev-shm-usage", "--window-size=1360,900"],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a browser session");
    Some((driver, client))
}

fn screenshot_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = match std::env::var("MISSIVE_SCREENSHOTS").as_deref() {
        Ok("docs") => root.join("docs/screenshots"),
        _ => root.join("target/screenshots"),
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

async fn css(c: &Client, sel: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(sel))
        .await
        .unwrap_or_else(|e| panic!("no `{sel}` on the page: {e}"))
}

/// Waits until the text of `sel` satisfies `ok`; returns it.
async fn wait_text(c: &Client, sel: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        if let Ok(e) = c.find(Locator::Css(sel)).await {
            if let Ok(t) = e.text().await {
                if ok(&t) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("`{sel}` never showed what was expected; last: {last:?}");
}

async fn sign_in(c: &Client, app: &TestApp, path: &str) {
    c.goto(&app.url(path)).await.unwrap();
    let url = c.current_url().await.unwrap();
    assert!(
        url.path().ends_with("/console/login"),
        "signed-out visitors are asked to sign in: {url}"
    );
    css(c, "input[name=key]")
        .await
        .send_keys(&app.key)
        .await
        .unwrap();
    css(c, ".signin button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    css(c, "form.signout").await;
    assert_eq!(
        c.current_url().await.unwrap().path(),
        path,
        "back where the visitor was going"
    );
}

/// Replaces a textarea's text as a person would (select all, type).
async fn retype(c: &Client, sel: &str, text: &str) {
    let e = css(c, sel).await;
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_a_failed_delivery_retries_it_and_sees_it_sent() {
    each_backend(|b| async move {
        let Some((_driver, c)) = browser().await else {
            return;
        };
        let app = spawn_app(&b).await;
        // The receiver refuses the first request for good (400), then accepts.
        let rx = Receiver::start_with(
            vec![Answer::status(400).body("{\"error\":\"unknown order\"}")],
            Answer::status(200),
        )
        .await;
        let failed = app.send_webhook(&rx.url, json!({"n": "first"})).await;
        let id = failed["deliveries"][0]["id"].as_str().unwrap().to_string();
        app.wait_for_status(&id, "failed").await;
        let ok = app.send_webhook(&rx.url, json!({"n": "second"})).await;
        app.wait_for_status(ok["deliveries"][0]["id"].as_str().unwrap(), "sent")
            .await;

        sign_in(&c, &app, "/console").await;
        css(&c, "figure.chart svg").await;
        screenshot(&c, "overview").await;

        c.goto(&app.url("/console/deliveries")).await.unwrap();
        css(&c, "form.filters select[name=status]")
            .await
            .select_by_value("failed")
            .await
            .unwrap();
        css(&c, "form.filters button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        wait_text(&c, "table.log tbody", |t| t.contains("failed")).await;
        let rows = c
            .find_all(Locator::Css("table.log tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "the filter leaves the one failed delivery");
        assert_eq!(
            rows[0].attr("data-id").await.unwrap().as_deref(),
            Some(id.as_str())
        );
        screenshot(&c, "deliveries").await;

        rows[0]
            .find(Locator::Css("a"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "table.attempts", |t| {
            t.contains("400") && t.contains("unknown order")
        })
        .await;
        screenshot(&c, "delivery").await;
        css(&c, "button#retry").await.click().await.unwrap();
        wait_text(&c, "p.flash", |t| t.contains("Queued for another attempt")).await;

        // Reload until the page shows it sent, as an operator would.
        let mut sent = false;
        for _ in 0..100 {
            c.refresh().await.unwrap();
            let h1 = css(&c, "h1 .badge").await.text().await.unwrap();
            if h1 == "sent" {
                sent = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(sent, "the retried delivery became sent");
        let attempts = c
            .find_all(Locator::Css("table.attempts tbody tr"))
            .await
            .unwrap();
        assert_eq!(
            attempts.len(),
            3,
            "the failed attempt, the retry's audit entry and the sent one are in the log"
        );
        let log = css(&c, "table.attempts").await.text().await.unwrap();
        assert!(log.contains("re-queued from the console"), "{log}");
        assert_eq!(rx.count(), 3);
        c.close().await.unwrap();
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_edits_a_template_with_live_preview_and_rolls_it_back() {
    each_backend(|b| async move {
        let Some((_driver, c)) = browser().await else {
            return;
        };
        let app = spawn_app(&b).await;
        let r = app
            .put(
                "/v1/templates/order-shipped",
                &json!({"name": "Order shipped", "channels": {
                    "email": {"subject": "Order {{order}} shipped", "text": "Hello {{name}},\nyour order is on its way."},
                    "sms": {"text": "Order {{order}} shipped"}}}),
            )
            .await;
        assert_eq!(r.status(), 201);

        sign_in(&c, &app, "/console/templates").await;
        css(&c, "a[href='/console/templates/order-shipped']")
            .await
            .click()
            .await
            .unwrap();
        retype(&c, "#sample-data", r#"{"order": 1001, "name": "Ana"}"#).await;
        wait_text(&c, "pre[data-part='email.subject']", |t| {
            t == "Order 1001 shipped"
        })
        .await;

        // The preview follows the draft.
        retype(
            &c,
            "textarea[data-field='channels.email.subject']",
            "Your order {{order}} is on its way, {{name}}",
        )
        .await;
        wait_text(&c, "pre[data-part='email.subject']", |t| {
            t == "Your order 1001 is on its way, Ana"
        })
        .await;
        screenshot(&c, "template-editor").await;

        // A compile error shows at its part and line.
        retype(
            &c,
            "textarea[data-field='channels.email.text']",
            "Hello {{name}},\n{{#if order}}\nno end",
        )
        .await;
        let msg = wait_text(&c, ".field-error[data-for='channels.email.text']", |t| {
            t.contains("line")
        })
        .await;
        assert!(msg.contains("line 2") || msg.contains("line 3"), "{msg}");
        let marked = css(&c, ".has-error .gutter .err-line").await;
        let line: u32 = marked.text().await.unwrap().trim().parse().unwrap();
        assert!(
            msg.contains(&format!("line {line}")),
            "the gutter marks the line the message names"
        );
        screenshot(&c, "template-error").await;

        retype(
            &c,
            "textarea[data-field='channels.email.text']",
            "Hello {{name}},\n{{#if order}}order {{order}}{{/if}}",
        )
        .await;
        wait_text(&c, "#preview-status", |t| t.contains("updated as you type")).await;
        css(&c, "button#save").await.click().await.unwrap();
        wait_text(&c, "p.flash", |t| t.contains("Saved as version 2")).await;
        let t = app.get_json("/v1/templates/order-shipped").await;
        assert_eq!(t["version"], 2);
        assert_eq!(
            t["channels"]["email"]["subject"],
            "Your order {{order}} is on its way, {{name}}"
        );

        c.goto(&app.url("/console/templates/order-shipped/versions"))
            .await
            .unwrap();
        css(&c, "a[href*='diff?from=1&to=2']")
            .await
            .click()
            .await
            .unwrap();
        wait_text(&c, "pre.diff", |t| t.contains("- ") && t.contains("+ ")).await;
        let ins = c.find_all(Locator::Css("pre.diff .ins")).await.unwrap();
        assert!(!ins.is_empty());
        screenshot(&c, "template-diff").await;

        c.goto(&app.url("/console/templates/order-shipped/versions"))
            .await
            .unwrap();
        css(&c, "tr[data-version='1'] button.rollback")
            .await
            .click()
            .await
            .unwrap();
        c.accept_alert().await.unwrap();
        wait_text(&c, "p.flash", |t| t.contains("Version 1 is current.")).await;
        screenshot(&c, "template-versions").await;
        let t = app.get_json("/v1/templates/order-shipped").await;
        assert_eq!(t["version"], 1);
        assert_eq!(t["channels"]["email"]["subject"], "Order {{order}} shipped");

        // The other pages, for the record.
        let r = app
            .put(
                "/v1/recipients/ana",
                &json!({"email": "ana@example.com", "timezone": "Asia/Shanghai",
            "preferences": {"categories": {"marketing": false}}}),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        c.goto(&app.url("/console/recipients?id=ana"))
            .await
            .unwrap();
        wait_text(&c, "main", |t| {
            t.contains("ana@example.com") && t.contains("opted out")
        })
        .await;
        screenshot(&c, "recipient").await;
        c.goto(&app.url("/console/keys")).await.unwrap();
        css(&c, "table.keys").await;
        screenshot(&c, "keys").await;
        c.close().await.unwrap();
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflows_steps_read_in_order_and_its_dry_run_answers() {
    each_backend(|b| async move {
        let Some((_driver, c)) = browser().await else {
            return;
        };
        let app = spawn_app(&b).await;
        let t = json!({"channels": {
            "in_app": {"title": "{{title}}", "body": "{{body}}"},
            "email": {"subject": "{{title}}", "text": "{{body}}"}}});
        assert_eq!(app.put("/v1/templates/comment", &t).await.status(), 201);
        let w = json!({
            "name": "Comment escalation",
            "description": "In the app at once; by email if still unread after 30 minutes; by SMS too when it is urgent.",
            "steps": [
                {"id": "inapp", "type": "send", "channel": "in_app", "template": "comment"},
                {"id": "wait", "type": "delay", "for": "30m"},
                {"id": "email", "type": "send", "channel": "email", "template": "comment",
                 "if": [{"step": "inapp", "is": "not_read"}]},
                {"id": "sms", "type": "send", "channel": "sms", "content": {"sms": {"text": "New comment: {{title}}"}},
                 "if": [{"field": "data.priority", "op": "equals", "value": "high"}]}
            ]});
        assert_eq!(app.put("/v1/workflows/comment", &w).await.status(), 201);

        sign_in(&c, &app, "/console/workflows").await;
        css(&c, "a[href='/console/workflows/comment']")
            .await
            .click()
            .await
            .unwrap();
        css(&c, "ol.steps").await;
        let mut ids = Vec::new();
        for li in c.find_all(Locator::Css("ol.steps > li")).await.unwrap() {
            ids.push(li.attr("data-step").await.unwrap().unwrap_or_default());
        }
        assert_eq!(ids, ["inapp", "wait", "email", "sms"], "the steps in order");
        wait_text(&c, "ol.steps li[data-step='email'] .conditions", |t| {
            t.contains("step inapp is not_read")
        })
        .await;
        screenshot(&c, "workflow").await;

        retype(&c, "#dry-run-data", r#"{"priority": "low"}"#).await;
        css(&c, "#dry-run-form button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        wait_text(&c, "ol.dry-run-steps li[data-step='sms']", |t| {
            t.contains("runs: no") && t.contains("Not met: data.priority equals \"high\"")
        })
        .await;
        let mut runs = Vec::new();
        for li in c
            .find_all(Locator::Css("ol.dry-run-steps > li"))
            .await
            .unwrap()
        {
            runs.push(li.attr("data-runs").await.unwrap().unwrap_or_default());
        }
        assert_eq!(runs, ["yes", "yes", "depends", "no"]);
        let dry_run = css(&c, "section.dry-run").await;
        c.execute(
            "arguments[0].scrollIntoView()",
            vec![serde_json::to_value(&dry_run).unwrap()],
        )
        .await
        .unwrap();
        screenshot(&c, "workflow-dry-run").await;

        // A mistake in the data is shown at its field.
        retype(&c, "#dry-run-data", "{oops").await;
        css(&c, "#dry-run-form button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        wait_text(&c, "#dry-run-data-error", |t| t.starts_with("not JSON")).await;

        // Its schedules: one fired (its last notification linked), one paused.
        let r = app
            .put(
                "/v1/schedules/weekly-digest",
                &json!({"workflow": "comment", "to": [{"id": "u_1"}, {"id": "u_2"}],
                        "data": {"title": "Your week", "body": "3 new comments"},
                        "schedule": "weekly mon 09:00", "timezone": "Europe/Berlin"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let r = app
            .put(
                "/v1/schedules/nightly",
                &json!({"workflow": "comment", "to": [{"id": "u_1"}], "data": {"title": "Today"},
                        "schedule": "30 2 * * *"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        app.post("/v1/schedules/nightly/pause", &json!({})).await;
        let hour_ago = missive::util::now_ms() - 3_600_000;
        app.db
            .execute(&format!(
                "UPDATE schedule_targets SET next_fire_at = {hour_ago} WHERE schedule_id = 'weekly-digest'"
            ))
            .await;
        let fired = poll_until(Duration::from_secs(15), || async {
            let s = app.get_json("/v1/schedules/weekly-digest").await;
            (s["targets"][0]["last_notification"].is_string(), ())
        })
        .await;
        assert!(fired.is_ok(), "the schedule fires");
        c.goto(&app.url("/console/schedules")).await.unwrap();
        wait_text(&c, "table.schedules tr[data-id='weekly-digest'] td.next", |t| {
            t.contains("(in ")
        })
        .await;
        wait_text(&c, "table.schedules tr[data-id='nightly']", |t| {
            t.contains("paused") && t.contains("none while paused")
        })
        .await;
        screenshot(&c, "schedules").await;
        css(&c, "a[href='/console/schedules/weekly-digest']")
            .await
            .click()
            .await
            .unwrap();
        css(&c, "table.targets tr[data-timezone='Europe/Berlin'] a.notification").await;
        screenshot(&c, "schedule").await;
        css(&c, "button#pause").await.click().await.unwrap();
        wait_text(&c, "p.flash", |t| t.starts_with("Paused")).await;
        wait_text(&c, "h1 .state", |t| t == "paused").await;
        css(&c, "button#resume").await.click().await.unwrap();
        wait_text(&c, "p.flash", |t| t.starts_with("Resumed")).await;
        css(&c, "button#delete").await.click().await.unwrap();
        c.accept_alert().await.unwrap();
        wait_text(&c, "p.flash", |t| t.contains("weekly-digest deleted")).await;
        assert_eq!(
            app.get("/v1/schedules/weekly-digest").await.status(),
            404
        );
        c.close().await.unwrap();
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triggers_runs_are_followed_step_by_step_from_the_log() {
    each_backend(|b| async move {
        let Some((_driver, c)) = browser().await else {
            return;
        };
        let app = spawn_app(&b).await;
        let t = json!({"channels": {
            "in_app": {"title": "{{title}}", "body": "{{body}}"},
            "email": {"subject": "{{title}}", "text": "{{body}}"}}});
        assert_eq!(app.put("/v1/templates/comment", &t).await.status(), 201);
        let w = json!({
            "name": "Comment escalation",
            "steps": [
                {"id": "inapp", "type": "send", "channel": "in_app", "template": "comment"},
                {"id": "wait", "type": "delay", "for": "30m"},
                {"id": "email", "type": "send", "channel": "email", "template": "comment",
                 "if": [{"step": "inapp", "is": "not_read"}]},
                {"id": "sms", "type": "send", "channel": "sms", "content": {"sms": {"text": "New comment: {{title}}"}},
                 "if": [{"field": "data.priority", "op": "equals", "value": "high"}]}
            ]});
        assert_eq!(app.put("/v1/workflows/comment", &w).await.status(), 201);
        let r = app
            .post(
                "/v1/notifications",
                &json!({"workflow": "comment", "to": [{"id": "u_1"}],
                        "data": {"title": "A reply to your comment", "body": "Hi", "priority": "low"}}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let id = r.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let path = format!("/v1/notifications/{id}");
        let waiting = poll_until(Duration::from_secs(20), || {
            let path = path.clone();
            let app = &app;
            async move {
                let n = app.get_json(&path).await;
                (n["runs"][0]["steps"][1]["state"] == "waiting", n)
            }
        })
        .await;
        assert!(waiting.is_ok(), "the run reaches its delay: {waiting:?}");

        sign_in(&c, &app, "/console/deliveries").await;
        css(&c, "a.run").await.click().await.unwrap();
        css(&c, "ol.run-steps").await;
        assert_eq!(
            c.current_url().await.unwrap().path(),
            format!("/console/notifications/{id}")
        );
        let mut states = Vec::new();
        for li in c.find_all(Locator::Css("ol.run-steps > li")).await.unwrap() {
            states.push(li.attr("data-state").await.unwrap().unwrap_or_default());
        }
        assert_eq!(states, ["done", "waiting", "pending", "pending"]);
        wait_text(&c, "ol.run-steps li[data-step='wait'] .due", |t| {
            t.starts_with("Goes on ") && t.contains("(in 29 min)")
        })
        .await;
        let runs = css(&c, "h2#runs").await;
        c.execute(
            "arguments[0].scrollIntoView()",
            vec![serde_json::to_value(&runs).unwrap()],
        )
        .await
        .unwrap();
        screenshot(&c, "notification-runs").await;

        // The in-app step's delivery, and back to the run.
        css(&c, "ol.run-steps li[data-step='inapp'] .step-deliveries a")
            .await
            .click()
            .await
            .unwrap();
        wait_text(&c, "h1", |t| t.starts_with("Delivery")).await;
        css(&c, "a.notification").await.click().await.unwrap();
        css(&c, "p.parent a").await.click().await.unwrap();
        css(&c, "ol.run-steps").await;
        assert_eq!(
            c.current_url().await.unwrap().path(),
            format!("/console/notifications/{id}")
        );
        c.close().await.unwrap();
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_a_bounce_and_takes_the_address_off_the_suppression_list() {
    each_backend(|b| async move {
        let Some((_driver, c)) = browser().await else {
            return;
        };
        let server = SmtpServer::accepting().await;
        let app = spawn_app_with(&b, &crate::receipts::email_config(server.port)).await;
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"email": {"subject": "Hi", "text": "Hello"}},
                        "to": [{"email": "bo@example.com"}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let body: serde_json::Value = r.json().await.unwrap();
        let id = body["deliveries"][0]["id"].as_str().unwrap().to_string();
        app.wait_for_status(&id, "sent").await;
        let bounce = json!([{"event": "bounce", "type": "bounce", "status": "5.1.1",
            "reason": "550 5.1.1 mailbox unknown", "email": "bo@example.com", "missive_delivery": id}]);
        let r = crate::receipts::post_events(
            &app,
            "sendgrid",
            Some(("missive", crate::receipts::SG_SECRET)),
            &bounce,
        )
        .await;
        assert_eq!(r.status(), 200);

        sign_in(&c, &app, "/console/suppressions").await;
        let row = wait_text(&c, "tr[data-address='bo@example.com']", |t| {
            t.contains("bounced") && t.contains("sendgrid")
        })
        .await;
        assert!(row.contains("550 5.1.1 mailbox unknown"), "{row}");
        screenshot(&c, "suppressions").await;

        // The delivery the bounce came for, with the provider's words.
        css(&c, "tr[data-address='bo@example.com'] a")
            .await
            .click()
            .await
            .unwrap();
        wait_text(&c, "table.receipts", |t| {
            t.contains("bounce") && t.contains("mailbox unknown")
        })
        .await;
        assert_eq!(css(&c, "h1 .badge").await.text().await.unwrap(), "bounced");
        screenshot(&c, "delivery-receipts").await;

        c.goto(&app.url("/console/suppressions")).await.unwrap();
        css(&c, "tr[data-address='bo@example.com'] button.danger")
            .await
            .click()
            .await
            .unwrap();
        c.accept_alert().await.unwrap();
        wait_text(&c, "p.flash", |t| t.contains("was taken off the list")).await;
        assert_eq!(
            app.get("/v1/suppressions/email/bo@example.com")
                .await
                .status(),
            404
        );
        c.close().await.unwrap();
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_changes_their_preferences_from_a_link_in_their_language() {
    each_backend(|b| async move {
        let Some((_driver, c)) = browser().await else {
            return;
        };
        let app = spawn_app(&b).await;
        for (id, locale) in [("li", "zh-CN"), ("bo", "en")] {
            let r = app
                .put(
                    &format!("/v1/recipients/{id}"),
                    &json!({"email": format!("{id}@example.com"), "phone": "+15550100", "locale": locale}),
                )
                .await;
            assert_eq!(r.status(), 201);
        }
        for t in ["news", "jobs"] {
            assert_eq!(
                app.put(&format!("/v1/topics/{t}"), &json!({"name": format!("{t} letter")}))
                    .await
                    .status(),
                201
            );
            let r = app
                .post(
                    &format!("/v1/topics/{t}/subscribers"),
                    &json!({"recipients": ["li", "bo"]}),
                )
                .await;
            assert_eq!(r.status(), 200);
        }
        let link: serde_json::Value = app
            .post("/v1/recipients/li/preference-link", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        // No public URL configured: the link is a path on this server.
        let path = link["url"].as_str().unwrap();
        assert!(path.starts_with("/p/mpt1."), "{link:#}");

        // No cookie, no key: the link alone opens the page, in Chinese.
        c.goto(&app.url(path)).await.unwrap();
        let h1 = css(&c, "h1").await.text().await.unwrap();
        assert_eq!(h1, "通知偏好设置");
        let lang = css(&c, "html").await.attr("lang").await.unwrap();
        assert_eq!(lang.as_deref(), Some("zh-CN"));
        // Every checkbox has a label naming it (what a screen reader reads).
        let boxes = c
            .find_all(Locator::Css("input[type=checkbox]"))
            .await
            .unwrap();
        assert!(boxes.len() >= 4, "channels and categories");
        for b in &boxes {
            let id = b.attr("id").await.unwrap().unwrap();
            let label = css(&c, &format!("label[for='{id}']")).await;
            assert!(!label.text().await.unwrap().trim().is_empty(), "{id}");
        }
        screenshot(&c, "preferences-zh").await;

        // Turn SMS and marketing off with the keyboard and the mouse, save.
        let sms = css(&c, "#channel-sms").await;
        assert!(sms.is_selected().await.unwrap());
        sms.send_keys(" ").await.unwrap();
        css(&c, "label[for='category-marketing']")
            .await
            .click()
            .await
            .unwrap();
        // Leave one topic: its label is its name.
        assert_eq!(
            css(&c, "label[for='topic-1']").await.text().await.unwrap().trim(),
            "news letter"
        );
        css(&c, "#topic-1").await.click().await.unwrap();
        css(&c, "button[type=submit]").await.click().await.unwrap();
        let status = wait_text(&c, "p.status", |t| !t.is_empty()).await;
        assert_eq!(status, "您的偏好设置已保存。");
        assert!(!css(&c, "#channel-sms").await.is_selected().await.unwrap());
        assert!(css(&c, "#channel-email").await.is_selected().await.unwrap());

        let li = app.get_json("/v1/recipients/li").await;
        assert_eq!(li["preferences"]["channels"]["sms"], false, "{li:#}");
        assert_eq!(li["preferences"]["channels"]["email"], true, "{li:#}");
        assert_eq!(li["preferences"]["categories"]["marketing"], false, "{li:#}");
        assert_eq!(li["topics"], json!(["jobs"]), "{li:#}");
        // Only the recipient the link was made for.
        let bo = app.get_json("/v1/recipients/bo").await;
        assert_ne!(bo["preferences"]["channels"]["sms"], false, "{bo:#}");
        assert_eq!(bo["topics"], json!(["jobs", "news"]), "{bo:#}");

        // The English page, by asking for it.
        c.goto(&app.url(&format!("{path}?lang=en"))).await.unwrap();
        assert_eq!(
            css(&c, "h1").await.text().await.unwrap(),
            "Notification preferences"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_ranks_templates_on_the_stats_page() {
    each_backend(|b| async move {
        let Some((_driver, c)) = browser().await else {
            return;
        };
        let app = spawn_app(&b).await;
        let ok = Receiver::start().await;
        let refusing = Receiver::start_with(vec![], Answer::status(400)).await;
        for (key, url, n) in [("busy", &ok.url, 3), ("flaky", &refusing.url, 1)] {
            let t = json!({"name": key, "channels": {"webhook": {"body": "{}"}}});
            assert_eq!(
                app.put(&format!("/v1/templates/{key}"), &t).await.status(),
                201
            );
            for _ in 0..n {
                let r = app
                    .post(
                        "/v1/notifications",
                        &json!({"template": key, "to": [{"webhook_url": url}]}),
                    )
                    .await;
                assert_eq!(r.status(), 202);
                let a: serde_json::Value = r.json().await.unwrap();
                let want = if key == "busy" { "sent" } else { "failed" };
                app.wait_for_status(a["deliveries"][0]["id"].as_str().unwrap(), want)
                    .await;
            }
        }
        sign_in(&c, &app, "/console").await;
        css(&c, "header.top nav a[href='/console/stats']")
            .await
            .click()
            .await
            .unwrap();
        let first = wait_text(
            &c,
            "#templates-by-volume tbody tr:first-child td.key",
            |t| !t.is_empty(),
        )
        .await;
        assert_eq!(first, "busy");
        let worst = wait_text(
            &c,
            "#templates-by-failure tbody tr:first-child td.key",
            |t| !t.is_empty(),
        )
        .await;
        assert_eq!(worst, "flaky");
        let rate = wait_text(
            &c,
            "#templates-by-failure tbody tr:first-child td.rate",
            |t| !t.is_empty(),
        )
        .await;
        assert_eq!(rate, "100.0 %");
        css(
            &c,
            "#templates-by-volume tbody tr:first-child svg.spark polyline",
        )
        .await;
        css(&c, "nav.windows a[href='/console/stats?window=1h']")
            .await
            .click()
            .await
            .unwrap();
        wait_text(
            &c,
            "#templates-by-volume tbody tr:first-child td.total",
            |t| t == "3",
        )
        .await;
        screenshot(&c, "stats").await;
        app.stop().await;
    })
    .await;
}
