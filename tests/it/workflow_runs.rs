//! Workflow runs end to end, through the real queue and real receivers:
//! a step that waits and then escalates only for the recipient who has
//! not read the in-app message, channels tried in order until one
//! delivers, cancelling by cancel key and by notification, and a trigger's
//! mistakes named by field.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// Waits until every run of the notification has ended; returns it.
async fn wait_for_runs(app: &TestApp, id: &str) -> Value {
    let path = format!("/v1/notifications/{id}");
    match poll_until(Duration::from_secs(30), || {
        let path = path.clone();
        async move {
            let n = app.get_json(&path).await;
            let done = n["runs"]
                .as_array()
                .is_some_and(|r| r.iter().all(|r| r["status"] != "running"));
            (done, n)
        }
    })
    .await
    {
        Ok(n) => n,
        Err(n) => panic!("the runs never ended: {n:#}"),
    }
}

fn run_of<'a>(n: &'a Value, recipient: &str) -> &'a Value {
    n["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["recipient"] == recipient)
        .unwrap_or_else(|| panic!("no run for {recipient}: {n:#}"))
}

fn states(run: &Value) -> Vec<(String, String)> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_escalates_only_for_the_recipient_who_has_not_read() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let t = json!({"channels": {
            "in_app": {"title": "{{title}}", "body": "New comment"},
            "webhook": {"body": "{\"title\": {{json title}} }"}
        }});
        assert_eq!(app.put("/v1/templates/comment", &t).await.status(), 201);
        let (rx_reads, rx_ignores) = (Receiver::start().await, Receiver::start().await);
        for (who, rx) in [("u_reads", &rx_reads), ("u_ignores", &rx_ignores)] {
            let r = app
                .put(&format!("/v1/recipients/{who}"), &json!({"webhook_url": rx.url}))
                .await;
            assert_eq!(r.status(), 201);
        }
        let wf = json!({"steps": [
            {"id": "inapp", "type": "send", "channel": "in_app", "template": "comment"},
            {"id": "wait", "type": "delay", "for": "2s"},
            {"id": "hook", "type": "send", "channel": "webhook", "template": "comment",
             "if": [{"step": "inapp", "is": "not_read"}]},
            {"id": "vip", "type": "send", "channel": "webhook", "template": "comment",
             "if": [{"field": "data.vip", "op": "equals", "value": true}]}
        ]});
        assert_eq!(app.put("/v1/workflows/comment", &wf).await.status(), 201);

        let r = app
            .post(
                "/v1/notifications",
                &json!({"workflow": "comment", "to": [{"id": "u_reads"}, {"id": "u_ignores"}], "data": {"title": "Hi"}}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        assert_eq!(accepted["deliveries"].as_array().unwrap().len(), 2);
        assert!(accepted["deliveries"].as_array().unwrap().iter().all(|d| d["channel"] == "workflow"));
        let id = accepted["id"].as_str().unwrap().to_string();

        // The in-app message arrives; one recipient reads it while the
        // run waits.
        let inbox = poll_until(Duration::from_secs(10), || async {
            let m = app.get_json("/v1/recipients/u_reads/inbox").await;
            (m["items"].as_array().is_some_and(|i| i.len() == 1), m)
        })
        .await
        .expect("the in-app step's message arrives");
        assert_eq!(inbox["items"][0]["title"], "Hi");
        let r = app.post("/v1/recipients/u_reads/inbox/read-all", &json!({})).await;
        assert_eq!(r.status(), 200);
        let waiting = app.get_json(&format!("/v1/notifications/{id}")).await;
        let wait_step = &run_of(&waiting, "u_ignores")["steps"][1];
        assert_eq!(wait_step["state"], "waiting", "{waiting:#}");
        assert!(wait_step["due_at"].is_string());

        let n = wait_for_runs(&app, &id).await;
        let reads = run_of(&n, "u_reads");
        let ignores = run_of(&n, "u_ignores");
        assert_eq!(reads["status"], "completed");
        assert_eq!(
            states(reads),
            pairs(&[("inapp", "done"), ("wait", "done"), ("hook", "skipped"), ("vip", "skipped")])
        );
        assert_eq!(reads["steps"][2]["detail"], "step inapp is not_read");
        assert_eq!(
            states(ignores),
            pairs(&[("inapp", "done"), ("wait", "done"), ("hook", "done"), ("vip", "skipped")])
        );
        assert_eq!(ignores["steps"][3]["detail"], "data.vip equals true");
        let hook = &ignores["steps"][2]["deliveries"][0];
        assert_eq!(hook["channel"], "webhook");
        let hook = app.wait_for_status(hook["id"].as_str().unwrap(), "sent").await;
        assert_eq!(hook["notification_id"], ignores["steps"][2]["notification_id"]);
        // The step's notification says which run sent it.
        let child = app
            .get_json(&format!("/v1/notifications/{}", ignores["steps"][2]["notification_id"].as_str().unwrap()))
            .await;
        assert_eq!(child["parent_run"], ignores["id"]);

        // Exactly one webhook, to the recipient who did not read.
        let got = rx_ignores.received();
        assert_eq!(got.len(), 1);
        assert_eq!(serde_json::from_str::<Value>(&got[0].body).unwrap(), json!({"title": "Hi"}));
        assert_eq!(rx_reads.count(), 0);
        // The runs are not deliveries of the notification.
        assert_eq!(n["deliveries"].as_array().unwrap().len(), 0);
        assert_eq!(n["workflow"], "comment");
        assert_eq!(n["workflow_version"], 1);
        let m = crate::metrics::scrape(&app).await;
        let runs = |event| m.value("missive_workflow_runs_total", &[("event", event)]);
        assert_eq!((runs("started"), runs("completed")), (2.0, 2.0));
        let steps = |kind, outcome| {
            m.value("missive_workflow_steps_total", &[("kind", kind), ("outcome", outcome)])
        };
        assert_eq!(steps("send", "done"), 3.0, "two in-app, one webhook");
        assert_eq!(steps("send", "skipped"), 3.0);
        assert_eq!((steps("delay", "waiting"), steps("delay", "done")), (2.0, 2.0));
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_are_tried_in_order_until_one_delivers() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        // The webhook refuses for good; SMS (the file outbox) delivers.
        let rx = Receiver::start_with(vec![], Answer::status(400)).await;
        let wf = json!({"steps": [
            {"id": "urgent", "type": "send", "channels": ["webhook", "sms"], "mode": "first_success",
             "content": {"webhook": {"body": "{\"code\": {{json code}} }"}, "sms": {"text": "Code {{code}}"}}},
            {"id": "after", "type": "send", "channel": "webhook", "content": {"webhook": {"body": "{}"}},
             "if": [{"step": "urgent", "is": "failed"}]}
        ]});
        assert_eq!(app.put("/v1/workflows/code", &wf).await.status(), 201);
        let r = app
            .post(
                "/v1/notifications",
                &json!({"workflow": "code", "to": [{"webhook_url": rx.url, "phone": "+8613800138000"}], "data": {"code": "42"}}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        let n = wait_for_runs(&app, &id).await;
        let run = &n["runs"][0];
        assert_eq!(run["status"], "completed");
        assert_eq!(states(run), pairs(&[("urgent", "done"), ("after", "skipped")]));
        assert_eq!(run["steps"][0]["detail"], "delivered by sms");
        let sent = &run["steps"][0]["deliveries"];
        assert_eq!(sent.as_array().unwrap().len(), 1);
        assert_eq!(sent[0]["channel"], "sms");
        assert_eq!(sent[0]["status"], "sent");
        assert_eq!(rx.count(), 1, "the webhook was tried once");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_event_cancels_open_runs_by_their_cancel_key() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let wf = json!({"steps": [
            {"id": "wait", "type": "delay", "for": "1h"},
            {"id": "remind", "type": "send", "channel": "webhook", "content": {"webhook": {"body": "{}"}}}
        ]});
        assert_eq!(app.put("/v1/workflows/overdue", &wf).await.status(), 201);
        let trigger = |key: &str, to: Vec<Value>| {
            json!({"workflow": "overdue", "cancel_key": key, "to": to})
        };
        let a = app
            .post("/v1/notifications", &trigger("order-1", vec![json!({"id": "x", "webhook_url": rx.url}), json!({"id": "y", "webhook_url": rx.url})]))
            .await;
        assert_eq!(a.status(), 202);
        let a = a.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        let other = app
            .post("/v1/notifications", &trigger("order-2", vec![json!({"id": "x", "webhook_url": rx.url})]))
            .await;
        let other = other.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        // Both reach their delay.
        for id in [&a, &other] {
            poll_until(Duration::from_secs(10), || async {
                let n = app.get_json(&format!("/v1/notifications/{id}")).await;
                let all = n["runs"].as_array().unwrap().iter().all(|r| r["steps"][0]["state"] == "waiting");
                (all, n)
            })
            .await
            .expect("the runs reach their delay");
        }
        let r = app
            .post("/v1/workflows/overdue/cancel", &json!({"cancel_key": "order-1", "recipients": ["y"]}))
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["cancelled"], 1);
        let r = app.post("/v1/workflows/overdue/cancel", &json!({"cancel_key": "order-1"})).await;
        assert_eq!(r.json::<Value>().await.unwrap()["cancelled"], 1, "x's run; y's is cancelled already");
        let r = app.post("/v1/workflows/overdue/cancel", &json!({"cancel_key": "order-1"})).await;
        assert_eq!(r.json::<Value>().await.unwrap()["cancelled"], 0);
        let n = app.get_json(&format!("/v1/notifications/{a}")).await;
        for run in n["runs"].as_array().unwrap() {
            assert_eq!(run["status"], "cancelled");
            assert_eq!(states(run), pairs(&[("wait", "cancelled"), ("remind", "cancelled")]));
        }
        // The other order's run is untouched, until its notification is
        // cancelled.
        let n = app.get_json(&format!("/v1/notifications/{other}")).await;
        assert_eq!(n["runs"][0]["status"], "running");
        let r = app.post(&format!("/v1/notifications/{other}/cancel"), &json!({})).await;
        assert_eq!(r.json::<Value>().await.unwrap()["cancelled"], 1);
        let n = app.get_json(&format!("/v1/notifications/{other}")).await;
        assert_eq!(n["runs"][0]["status"], "cancelled");
        assert_eq!(rx.count(), 0);
        let r = app.post("/v1/workflows/overdue/cancel", &json!({"cancel_key": ""})).await;
        assert_eq!(r.status(), 422);
        let m = crate::metrics::scrape(&app).await;
        assert_eq!(m.value("missive_workflow_runs_total", &[("event", "cancelled")]), 3.0);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_names_its_mistakes() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let wf = json!({"steps": [{"id": "a", "type": "delay", "for": "1m"}]});
        assert_eq!(app.put("/v1/workflows/w", &wf).await.status(), 201);
        for (body, field) in [
            (json!({"workflow": "nope", "to": [{"id": "a"}]}), "workflow"),
            (json!({"workflow": "w", "template": "t", "to": [{"id": "a"}]}), "template"),
            (json!({"workflow": "w", "channels": ["email"], "to": [{"id": "a"}]}), "channels"),
            (json!({"workflow": "w", "to": [{}]}), "to[0]"),
            (json!({"workflow": "w", "to": [{"id": "a"}], "cancel_key": ""}), "cancel_key"),
            (json!({"workflow": "w", "to": [{"id": "a"}], "send_at": "soon"}), "send_at"),
            (json!({"content": {"sms": {"text": "x"}}, "to": [{"phone": "+8613800138000"}], "cancel_key": "k"}), "cancel_key"),
        ] {
            let r = app.post("/v1/notifications", &body).await;
            assert_eq!(r.status(), 422, "{body}");
            let p: Value = r.json().await.unwrap();
            let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
            assert!(fields.contains(&field), "{body}: {p:#}");
        }
        let r = app.client.delete(app.url("/v1/workflows/w")).bearer_auth(&app.key).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let r = app.post("/v1/notifications", &json!({"workflow": "w", "to": [{"id": "a"}]})).await;
        assert_eq!(r.status(), 422, "an archived workflow can't be triggered");
        app.stop().await;
    })
    .await;
}

/// Two real processes share the runs; one is killed (SIGKILL) while runs
/// are between steps and started again. Every run finishes, and every step
/// of every run sent exactly one delivery (a webhook may arrive twice
/// with one `webhook-id` when the kill lands mid-send; a second delivery
/// for one step would have its own id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_a_kill_and_two_processes_run_each_step_once() {
    const RUNS: usize = 20;
    each_backend(|b| async move {
        use crate::crash::{admin_key, start_serve};
        let db = TestDb::new(&b);
        let rx = Receiver::start().await;
        let mut a = start_serve(&db, &[], "a-1").await;
        let mut other = start_serve(&db, &[], "b").await;
        let key = admin_key(&db);
        let client = reqwest::Client::new();
        let body = |step: &str| json!({"webhook": {"body": format!("{{\"r\": {{{{json r}}}}, \"step\": \"{step}\"}}")}});
        let wf = json!({"steps": [
            {"id": "s1", "type": "send", "channel": "webhook", "content": body("s1")},
            {"id": "d1", "type": "delay", "for": "1s"},
            {"id": "s2", "type": "send", "channel": "webhook", "content": body("s2")},
            {"id": "d2", "type": "delay", "for": "1s"},
            {"id": "s3", "type": "send", "channel": "webhook", "content": body("s3")}
        ]});
        let r = client.put(a.url("/v1/workflows/three")).bearer_auth(&key).json(&wf).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let mut ids = Vec::new();
        for r in 0..RUNS {
            let resp = client
                .post(a.url("/v1/notifications"))
                .bearer_auth(&key)
                .json(&json!({"workflow": "three", "to": [{"id": format!("r{r}"), "webhook_url": rx.url}], "data": {"r": r}}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 202);
            ids.push(resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string());
        }
        // Kill one process once the first steps are going out.
        rx.wait_for(RUNS / 2, Duration::from_secs(20)).await;
        a.kill();
        let a2 = start_serve(&db, &[], "a-2").await;
        // Every run finished, read through either process.
        for (i, id) in ids.iter().enumerate() {
            let via = if i % 2 == 0 { &a2 } else { &other };
            let n = poll_until(Duration::from_secs(30), || async {
                let n: Value = client
                    .get(via.url(&format!("/v1/notifications/{id}")))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                (n["runs"][0]["status"] == "completed", n)
            })
            .await
            .unwrap_or_else(|n| panic!("run {i} did not complete: {n:#}"));
            let steps: Vec<&str> = n["runs"][0]["steps"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
            assert_eq!(steps, ["done"; 5], "{n:#}");
        }
        // Each (run, step) and the delivery ids that reached the receiver.
        let per_step = || {
            let mut m: std::collections::HashMap<(i64, String), std::collections::HashSet<String>> =
                Default::default();
            for r in rx.received() {
                let v: Value = serde_json::from_str(&r.body).unwrap();
                let id = r.headers["webhook-id"].to_str().unwrap().to_string();
                m.entry((v["r"].as_i64().unwrap(), v["step"].as_str().unwrap().to_string()))
                    .or_default()
                    .insert(id);
            }
            m
        };
        let per_step = poll_until(Duration::from_secs(20), || async {
            let m = per_step();
            (m.len() == RUNS * 3, m)
        })
        .await
        .unwrap_or_else(|m| m);
        assert_eq!(per_step.len(), RUNS * 3, "every step of every run was delivered");
        for ((r, step), ids) in &per_step {
            assert_eq!(ids.len(), 1, "run {r} step {step} sent {} deliveries", ids.len());
        }
        let mut a2 = a2;
        a2.stop_gracefully(Duration::from_secs(30)).await;
        other.stop_gracefully(Duration::from_secs(30)).await;
    })
    .await;
}

/// The claim on a run ends while its worker is still moving it on (a
/// stalled process), and a second worker claims it: both run the step,
/// and it sends once. Only the later claim may move the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_run_by_two_workers_at_once_sends_once() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let wf = json!({"steps": [
            {"id": "s1", "type": "send", "channel": "webhook", "content": {"webhook": {"body": "{}"}}}
        ]});
        assert_eq!(app.put("/v1/workflows/once", &wf).await.status(), 201);
        // Due in an hour, so the app's own workers leave it alone.
        let hour = 3_600_000;
        let at = chrono::Utc::now() + chrono::Duration::milliseconds(hour);
        let r = app
            .post("/v1/notifications", &json!({"workflow": "once", "to": [{"webhook_url": rx.url}], "send_at": at.to_rfc3339()}))
            .await;
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        let store = app.state.store.clone();
        let later = missive::util::now_ms() + hour + 1_000;
        let first = store.claim(later, later + 30_000, 10, "first").await.unwrap();
        let second = store.claim(later + 31_000, later + 60_000, 10, "second").await.unwrap();
        assert_eq!((first.len(), second.len()), (1, 1), "the lease ended, so the run is claimed again");
        assert_eq!(first[0].id, second[0].id);
        let (s1, s2) = (app.state.clone(), app.state.clone());
        let (f, s) = (first[0].clone(), second[0].clone());
        tokio::join!(
            async move { missive::dispatch::runs::advance(&s1, &f).await },
            async move { missive::dispatch::runs::advance(&s2, &s).await },
        );
        let n = app.get_json(&format!("/v1/notifications/{id}")).await;
        assert_eq!(n["runs"][0]["status"], "completed", "{n:#}");
        let step = &n["runs"][0]["steps"][0];
        assert_eq!(step["state"], "done");
        assert_eq!(step["deliveries"].as_array().unwrap().len(), 1, "{n:#}");
        rx.wait_for(1, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 1);
        app.stop().await;
    })
    .await;
}

/// A digest's webhook: how many events, and the first ones' titles.
fn digest_workflow(window: &str, max_events: u32) -> Value {
    json!({"steps": [
        {"id": "collect", "type": "digest", "key": "{{data.thread}}", "window": window, "max_events": max_events},
        {"id": "send", "type": "send", "channel": "webhook", "content": {"webhook": {"body":
            "{\"thread\": {{json thread}}, \"count\": {{count}}, \"titles\": [{{#each events}}{{json title}}{{#unless @last}},{{/unless}}{{/each}}]}"}}}
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_one_window_go_out_as_one_digest_per_key() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        assert_eq!(app.put("/v1/workflows/comments", &digest_workflow("2s", 3)).await.status(), 201);
        let mut ids = Vec::new();
        for (thread, title) in [("a", "one"), ("a", "two"), ("b", "other"), ("a", "three"), ("a", "four"), ("a", "five")] {
            let r = app
                .post(
                    "/v1/notifications",
                    &json!({"workflow": "comments", "to": [{"id": "u_1", "webhook_url": rx.url}], "data": {"thread": thread, "title": title}}),
                )
                .await;
            assert_eq!(r.status(), 202);
            ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string());
        }
        let got = rx.wait_for(2, Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(rx.count(), 2, "one digest per thread");
        let mut bodies: Vec<Value> = got.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect();
        bodies.sort_by_key(|b| b["thread"].as_str().unwrap().to_string());
        assert_eq!(bodies[0], json!({"thread": "a", "count": 5, "titles": ["one", "two", "three"]}), "in arrival order, the first max_events");
        assert_eq!(bodies[1], json!({"thread": "b", "count": 1, "titles": ["other"]}));
        // One of thread a's runs collected (whichever reached its digest
        // step first: workers run them concurrently); the others merged
        // into it.
        let mut runs = Vec::new();
        for i in [0, 1, 3, 4, 5] {
            runs.push(wait_for_runs(&app, &ids[i]).await["runs"][0].clone());
        }
        let sent = pairs(&[("collect", "done"), ("send", "done")]);
        let collectors: Vec<&Value> = runs.iter().filter(|r| states(r) == sent).collect();
        assert_eq!(collectors.len(), 1, "one run sends the digest: {runs:#?}");
        let collector = collectors[0]["id"].as_str().unwrap().to_string();
        for run in runs.iter().filter(|r| r["id"] != collector.as_str()) {
            assert_eq!(run["status"], "completed");
            assert_eq!(states(run), pairs(&[("collect", "done"), ("send", "not run")]));
            assert_eq!(
                run["steps"][0]["detail"],
                format!("merged into the digest of run {collector}")
            );
        }
        // A new event after the window closed opens a new digest.
        let r = app
            .post(
                "/v1/notifications",
                &json!({"workflow": "comments", "to": [{"id": "u_1", "webhook_url": rx.url}], "data": {"thread": "a", "title": "late"}}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let got = rx.wait_for(3, Duration::from_secs(20)).await;
        let last: Value = serde_json::from_str(&got[2].body).unwrap();
        assert_eq!(last, json!({"thread": "a", "count": 1, "titles": ["late"]}));
        let m = crate::metrics::scrape(&app).await;
        assert_eq!(m.value("missive_digest_events_count", &[]), 3.0, "three digests closed");
        assert_eq!(m.value("missive_digest_events_sum", &[]), 7.0, "with 5, 1 and 1 events");
        assert_eq!(
            m.value("missive_workflow_steps_total", &[("kind", "digest"), ("outcome", "merged")]),
            4.0
        );
        app.stop().await;
    })
    .await;
}

/// Triggers into one digest window through two real processes at once:
/// one digest, with every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_triggers_through_two_processes_make_one_digest() {
    const EVENTS: usize = 24;
    each_backend(|b| async move {
        use crate::crash::{admin_key, start_serve};
        let db = TestDb::new(&b);
        let rx = Receiver::start().await;
        let mut one = start_serve(&db, &[], "one").await;
        let mut two = start_serve(&db, &[], "two").await;
        let key = admin_key(&db);
        let client = reqwest::Client::new();
        let r = client
            .put(one.url("/v1/workflows/comments"))
            .bearer_auth(&key)
            .json(&digest_workflow("4s", 1000))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let sends = (0..EVENTS).map(|i| {
            let url = if i % 2 == 0 { one.url("/v1/notifications") } else { two.url("/v1/notifications") };
            let (client, key, rx_url) = (client.clone(), key.clone(), rx.url.clone());
            async move {
                let r = client
                    .post(url)
                    .bearer_auth(&key)
                    .json(&json!({"workflow": "comments", "to": [{"id": "u_1", "webhook_url": rx_url}], "data": {"thread": "t", "title": format!("e{i}")}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202);
            }
        });
        futures::future::join_all(sends).await;
        let got = rx.wait_for(1, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(rx.count(), 1, "one digest: {:?}", rx.received().iter().map(|r| r.body.clone()).collect::<Vec<_>>());
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(body["count"], EVENTS);
        let mut titles: Vec<String> = body["titles"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        titles.sort();
        let mut want: Vec<String> = (0..EVENTS).map(|i| format!("e{i}")).collect();
        want.sort();
        assert_eq!(titles, want);
        one.stop_gracefully(Duration::from_secs(30)).await;
        two.stop_gracefully(Duration::from_secs(30)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delays_wait_for_a_time_in_the_data_or_the_end_of_quiet_hours() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        let wf = json!({"steps": [
            {"id": "wait", "type": "delay", "until": "{{data.remind_at}}"},
            {"id": "remind", "type": "send", "channel": "webhook", "content": {"webhook": {"body": "{}"}}}
        ]});
        assert_eq!(app.put("/v1/workflows/remind", &wf).await.status(), 201);
        let send = |remind_at: String| {
            json!({"workflow": "remind", "to": [{"webhook_url": rx.url}], "data": {"remind_at": remind_at}})
        };
        let t0 = std::time::Instant::now();
        let due = chrono::Utc::now() + chrono::Duration::seconds(2);
        let r = app.post("/v1/notifications", &send(due.to_rfc3339())).await;
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        rx.wait_for(1, Duration::from_secs(15)).await;
        assert!(t0.elapsed() >= Duration::from_millis(1500), "sent after {:?}", t0.elapsed());
        let n = wait_for_runs(&app, &id).await;
        assert!(n["runs"][0]["steps"][0]["detail"].as_str().unwrap().starts_with("waited until "), "{n:#}");
        // A time that does not read ends the run, sending nothing.
        let r = app.post("/v1/notifications", &send("next tuesday".into())).await;
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        let n = wait_for_runs(&app, &id).await;
        let run = &n["runs"][0];
        assert_eq!(run["status"], "failed");
        assert_eq!(states(run), pairs(&[("wait", "failed"), ("remind", "not run")]));
        assert!(run["error"].as_str().unwrap().contains("not an RFC 3339 time"), "{run:#}");

        // Quiet hours from an hour ago to two hours from now (UTC).
        let now = chrono::Utc::now();
        let clock = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
        let quiet = json!({"start": clock(now - chrono::Duration::hours(1)), "end": clock(now + chrono::Duration::hours(2))});
        let r = app
            .put("/v1/recipients/night", &json!({"webhook_url": rx.url, "timezone": "UTC", "quiet_hours": quiet}))
            .await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        let wf = json!({"steps": [
            {"id": "hush", "type": "delay", "until": "quiet_hours_end"},
            {"id": "send", "type": "send", "channel": "webhook", "content": {"webhook": {"body": "{}"}}}
        ]});
        assert_eq!(app.put("/v1/workflows/polite", &wf).await.status(), 201);
        let r = app.post("/v1/notifications", &json!({"workflow": "polite", "to": [{"id": "night"}]})).await;
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        let n = poll_until(Duration::from_secs(10), || async {
            let n = app.get_json(&format!("/v1/notifications/{id}")).await;
            (n["runs"][0]["steps"][0]["state"] == "waiting", n)
        })
        .await
        .expect("the run waits for the quiet hours to end");
        // The step says until when it waits (the run's row may be held by
        // a worker looking at it, its due time then the lease's end).
        let step = &n["runs"][0]["steps"][0];
        let until = step["detail"].as_str().unwrap().strip_prefix("until ").unwrap_or_else(|| panic!("{n:#}"));
        let due = chrono::DateTime::parse_from_rfc3339(until).unwrap();
        let left = due.with_timezone(&chrono::Utc) - chrono::Utc::now();
        assert!(left > chrono::Duration::minutes(118) && left <= chrono::Duration::minutes(120), "{left:?}: {n:#}");

        assert_eq!(rx.count(), 1);
        app.stop().await;
    })
    .await;
}

/// The plain-text body of a mail, multipart or not.
fn mail_text(raw: &str) -> (String, String) {
    use crate::email::Mime;
    let m = Mime::parse(raw);
    let subject = m.header("Subject").unwrap_or_default().to_string();
    let text = if m.content_type().starts_with("multipart/") {
        m.parts()
            .into_iter()
            .find(|p| p.content_type().starts_with("text/plain"))
            .map(|p| p.text())
            .unwrap_or_default()
    } else {
        m.text()
    };
    (subject, text)
}

/// By email, on a real SMTP server: the unread recipient is emailed after
/// the delay and the one who read is not; seven comments in one window are
/// one email listing the seven in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_and_digests_by_email() {
    each_backend(|b| async move {
        let smtp = SmtpServer::accepting().await;
        let app = spawn_app_with(&b, &crate::email::smtp_toml(smtp.port, "", "")).await;
        let t = json!({"channels": {
            "in_app": {"title": "{{title}}", "body": "New comment"},
            "email": {"subject": "Unread: {{title}}", "text": "You have an unread comment: {{title}}"}
        }});
        assert_eq!(app.put("/v1/templates/comment", &t).await.status(), 201);
        for who in ["reads", "ignores"] {
            let r = app.put(&format!("/v1/recipients/{who}"), &json!({"email": format!("{who}@example.com")})).await;
            assert_eq!(r.status(), 201);
        }
        let wf = json!({"steps": [
            {"id": "inapp", "type": "send", "channel": "in_app", "template": "comment"},
            {"id": "wait", "type": "delay", "for": "2s"},
            {"id": "email", "type": "send", "channel": "email", "template": "comment",
             "if": [{"step": "inapp", "is": "not_read"}]}
        ]});
        assert_eq!(app.put("/v1/workflows/comment", &wf).await.status(), 201);
        let r = app
            .post("/v1/notifications", &json!({"workflow": "comment", "to": [{"id": "reads"}, {"id": "ignores"}], "data": {"title": "Hi"}}))
            .await;
        assert_eq!(r.status(), 202);
        let t0 = std::time::Instant::now();
        poll_until(Duration::from_secs(10), || async {
            let m = app.get_json("/v1/recipients/reads/inbox").await;
            (m["items"].as_array().is_some_and(|i| i.len() == 1), ())
        })
        .await
        .expect("the in-app message arrives");
        assert_eq!(app.post("/v1/recipients/reads/inbox/read-all", &json!({})).await.status(), 200);
        let got = smtp.wait_for(1, Duration::from_secs(15)).await;
        assert!(t0.elapsed() >= Duration::from_millis(1500), "emailed after the delay, not before");
        assert_eq!(got[0].to, ["ignores@example.com"]);
        assert_eq!(mail_text(&got[0].data).0, "Unread: Hi");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(smtp.count(), 1, "no email to the recipient who read");

        let wf = json!({"steps": [
            {"id": "collect", "type": "digest", "key": "{{data.thread}}", "window": "2s"},
            {"id": "email", "type": "send", "channel": "email", "content": {"email": {
                "subject": "{{count}} new comments",
                "text": "{{#each events}}{{title}};{{/each}}"}}}
        ]});
        assert_eq!(app.put("/v1/workflows/thread", &wf).await.status(), 201);
        for i in 1..=7 {
            let r = app
                .post("/v1/notifications", &json!({"workflow": "thread", "to": [{"id": "ignores"}], "data": {"thread": "t1", "title": format!("c{i}")}}))
                .await;
            assert_eq!(r.status(), 202);
        }
        let got = smtp.wait_for(2, Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(smtp.count(), 2, "one digest email");
        let (subject, text) = mail_text(&got[1].data);
        assert_eq!(subject, "7 new comments");
        assert_eq!(text.trim(), "c1;c2;c3;c4;c5;c6;c7;");
        app.stop().await;
    })
    .await;
}
