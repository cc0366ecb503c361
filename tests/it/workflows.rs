//! Workflows as resources, end to end: every mistake named by its path,
//! the templates a step names checked, versions, rollback, archive, the
//! dry run with a stored recipient's profile, and who may do what.

use serde_json::{json, Value};

use crate::helpers::*;

async fn problem_fields(r: reqwest::Response) -> Vec<String> {
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let p: Value = r.json().await.unwrap();
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["field"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect()
}

fn escalation(wait: &str) -> Value {
    json!({
        "name": "Comment escalation",
        "description": "In the app now; by email if unread after a while; SMS for high priority.",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_rollback_archive_and_the_dry_run() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;

        // A step naming a template that does not exist yet is refused.
        let fields = problem_fields(app.put("/v1/workflows/comment", &escalation("30m")).await).await;
        assert!(
            fields.contains(&"steps[0].template: there is no template `comment`".to_string()),
            "{fields:?}"
        );
        let t = json!({"channels": {
            "in_app": {"title": "{{title}}", "body": "{{body}}"},
            "email": {"subject": "{{title}}", "text": "{{body}}"}
        }});
        assert_eq!(app.put("/v1/templates/comment", &t).await.status(), 201);

        let r = app.put("/v1/workflows/comment", &escalation("30m")).await;
        assert_eq!(r.status(), 201);
        let saved: Value = r.json().await.unwrap();
        assert_eq!(saved["version"], 1);
        let r = app.put("/v1/workflows/comment", &escalation("30m")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["changed"], false, "same definition: same version");
        let r = app.put("/v1/workflows/comment", &escalation("1h")).await;
        assert_eq!(r.json::<Value>().await.unwrap()["version"], 2);

        let w = app.get_json("/v1/workflows/comment").await;
        assert_eq!(w["name"], "Comment escalation");
        assert_eq!(w["version"], 2);
        assert_eq!(w["steps"][1]["for"], "1h");
        assert_eq!(w["steps"][2]["if"][0]["is"], "not_read");
        assert!(w["description"].as_str().unwrap().starts_with("In the app now"));
        let list = app.get_json("/v1/workflows").await;
        assert_eq!(list["items"][0]["key"], "comment");
        assert_eq!(list["items"][0]["current_version"], 2);
        let versions = app.get_json("/v1/workflows/comment/versions").await;
        let nums: Vec<(i64, bool)> = versions["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["version"].as_i64().unwrap(), v["current"].as_bool().unwrap()))
            .collect();
        assert_eq!(nums, [(2, true), (1, false)]);

        // Roll back to 1; version 2 stays readable.
        let r = app
            .post("/v1/workflows/comment/versions/1/activate", &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        let w: Value = r.json().await.unwrap();
        assert_eq!((w["version"].clone(), w["steps"][1]["for"].clone()), (json!(1), json!("30m")));
        let v2 = app.get_json("/v1/workflows/comment/versions/2").await;
        assert_eq!((v2["current_version"].clone(), v2["steps"][1]["for"].clone()), (json!(1), json!("1h")));
        assert_eq!(app.get("/v1/workflows/comment/versions/9").await.status(), 404);
        assert_eq!(app.get("/v1/workflows/comment/versions/x").await.status(), 422);
        assert_eq!(app.get("/v1/workflows/nothing").await.status(), 404);

        // The dry run, with a stored profile's locale and the data.
        let r = app
            .put("/v1/recipients/u_7", &json!({"email": "u7@example.com", "locale": "zh-CN"}))
            .await;
        assert_eq!(r.status(), 201);
        let p: Value = app
            .post(
                "/v1/workflows/comment/preview",
                &json!({"data": {"title": "Hi", "priority": "high"}, "recipient": {"id": "u_7"}}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(p["version"], 1);
        let runs: Vec<(&str, &str)> = p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].as_str().unwrap(), s["runs"].as_str().unwrap()))
            .collect();
        assert_eq!(runs, [("inapp", "yes"), ("wait", "yes"), ("email", "depends"), ("sms", "yes")]);
        assert_eq!(p["steps"][2]["because"], "step inapp is not_read");
        assert_eq!(p["steps"][1]["summary"], "wait 30m");
        // Another recipient's locale, low priority: no SMS, and why.
        let p: Value = app
            .post(
                "/v1/workflows/comment/preview",
                &json!({"data": {"priority": "high"}, "recipient": {"locale": "pt-BR"}, "version": 2}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(p["version"], 2);
        assert_eq!(p["steps"][3]["runs"], "no");
        assert_eq!(
            p["steps"][3]["because"],
            "recipient.locale in [\"zh-CN\",\"en\"]"
        );
        // A draft of a workflow that does not exist yet.
        let p: Value = app
            .post(
                "/v1/workflows/draft-only/preview",
                &json!({"draft": {"steps": [{"id": "d", "type": "digest", "window": "1h"},
                                            {"id": "s", "type": "send", "channel": "email", "template": "comment"}]}}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(p["version"], Value::Null);
        assert_eq!(p["steps"][0]["summary"], "collect events for 1h from the first event (the recipient's time), up to 100");
        assert_eq!(app.post("/v1/workflows/nothing/preview", &json!({})).await.status(), 404);
        let fields = problem_fields(
            app.post("/v1/workflows/comment/preview", &json!({"data": [1]})).await,
        )
        .await;
        assert_eq!(fields, ["data: must be a JSON object"]);

        // Archive; a PUT of the current definition brings it back.
        let r = app
            .client
            .delete(app.url("/v1/workflows/comment"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert!(app.get_json("/v1/workflows/comment").await["archived_at"].is_string());
        let r = app.put("/v1/workflows/comment", &escalation("30m")).await;
        assert_eq!(r.json::<Value>().await.unwrap()["changed"], false);
        assert!(app.get_json("/v1/workflows/comment").await["archived_at"].is_null());
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mistake_in_a_definition_is_named_by_its_path() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let t = json!({"channels": {"email": {"subject": "{{title}}", "text": "{{body}}"}}});
        assert_eq!(app.put("/v1/templates/comment", &t).await.status(), 201);
        let bad = json!({"steps": [
            {"id": "a", "type": "send", "channel": "sms", "template": "comment"},
            {"id": "b", "type": "delay", "for": "100d"},
            {"id": "c", "type": "send", "channel": "email", "content": {"email": {"subject": "{{#if x}}", "text": "t"}}},
            {"id": "a", "type": "digest", "schedule": "fortnightly"},
            {"id": "e", "type": "send", "channel": "email", "template": "comment",
             "if": [{"step": "zzz", "is": "sent"}]}
        ]});
        let fields = problem_fields(app.put("/v1/workflows/bad", &bad).await).await;
        let has = |prefix: &str| fields.iter().any(|f| f.starts_with(prefix));
        assert!(has("steps[1].for: must be a duration"), "{fields:?}");
        assert!(has("steps[3].id: `a` names an earlier step too"), "{fields:?}");
        assert!(has("steps[3].schedule: must be `daily HH:MM`"), "{fields:?}");
        assert!(has("steps[4].if[0].step"), "{fields:?}");
        // The template checks come once the definition itself reads.
        let bad = json!({"steps": [
            {"id": "a", "type": "send", "channel": "sms", "template": "comment"},
            {"id": "c", "type": "send", "channel": "email", "content": {"email": {"subject": "{{#if x}}", "text": "t"}}}
        ]});
        let fields = problem_fields(app.put("/v1/workflows/bad", &bad).await).await;
        assert!(
            fields.contains(&"steps[0]: sends on sms but template `comment` has no sms parts".to_string()),
            "{fields:?}"
        );
        assert!(has_prefix(&fields, "steps[1].content.email.subject"), "{fields:?}");
        for (body, field) in [
            (json!({"steps": []}), "steps"),
            (json!({"steps": "x"}), "steps"),
            (json!({"steps": [{"id": "a", "type": "send", "channel": "email", "template": "comment"}], "extra": 1}), "extra"),
        ] {
            let r = app.put("/v1/workflows/bad", &body).await;
            assert_eq!(r.status(), 422, "{body}");
            let text = r.text().await.unwrap();
            assert!(text.contains(field), "{body}: {text}");
        }
        let fields = problem_fields(
            app.put("/v1/workflows/bad key", &json!({"steps": [{"id": "a", "type": "delay", "for": "1m"}]})).await,
        )
        .await;
        assert_eq!(fields[0].split(':').next(), Some("key"));
        assert_eq!(app.get("/v1/workflows/bad").await.status(), 404, "nothing was saved");

        // Only a key with the templates scope may change workflows; a
        // read key may read them and dry-run.
        let ok = json!({"steps": [{"id": "a", "type": "send", "channel": "email", "template": "comment"}]});
        assert_eq!(app.put("/v1/workflows/ok", &ok).await.status(), 201);
        for (scopes, put, get) in [("send", 403, 403), ("read", 403, 200), ("templates", 200, 200)] {
            let (key, _) = missive::service::auth::create_key(app.state.store.as_ref(), scopes, scopes)
                .await
                .unwrap();
            let r = app.client.put(app.url("/v1/workflows/ok")).bearer_auth(&key).json(&ok).send().await.unwrap();
            assert_eq!(r.status(), put, "{scopes} PUT");
            let r = app.client.get(app.url("/v1/workflows/ok")).bearer_auth(&key).send().await.unwrap();
            assert_eq!(r.status(), get, "{scopes} GET");
        }
        app.stop().await;
    })
    .await;
}

fn has_prefix(fields: &[String], prefix: &str) -> bool {
    fields.iter().any(|f| f.starts_with(prefix))
}
