//! Topics: subscribing and unsubscribing (idempotent, bounded, paged), and
//! sends to a topic fanned out in the background: each subscriber reached
//! once with its preferences applied, progress on the notification, a
//! cancel that stops the fan-out, and a `serve` killed mid-fan-out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::crash::{admin_key, start_serve};
use crate::helpers::*;

/// One number from the test's database.
async fn scalar(db: &TestDb, sql: &str) -> i64 {
    use sqlx::Connection;
    match &db.backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}/missive.db", db.dir.path().display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        Backend::Postgres(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SET search_path TO \"{}\"",
                db.schema
            )))
            .execute(&mut c)
            .await
            .unwrap();
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }
}

/// Stores `n` profiles `u1`…`un` (no addresses: in-app needs none) and
/// subscribes them to `topic`, in two statements.
async fn seed(db: &TestDb, topic: &str, n: usize) {
    db.execute(&format!(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
         INSERT INTO recipients (id, preferences, created_at, updated_at) \
         SELECT 'u' || i, '{{}}', 0, 0 FROM s"
    ))
    .await;
    db.execute(&format!(
        "INSERT INTO topic_subscriptions (topic, recipient, created_at) \
         SELECT '{topic}', id, 0 FROM recipients WHERE id LIKE 'u%'"
    ))
    .await;
}

async fn delete(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(&app.key)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn fields(p: &Value) -> Vec<String> {
    p["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls a notification until its fan-out's status is `status`.
async fn fanout_until(app: &TestApp, id: &str, status: &str, within: Duration) -> Value {
    match poll_until(within, || async {
        let n = app.get_json(&format!("/v1/notifications/{id}")).await;
        (n["fanout"]["status"] == status, n)
    })
    .await
    {
        Ok(n) => n,
        Err(n) => panic!("the fan-out did not become {status}: {}", n["fanout"]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_subscribe_idempotently_within_bounds_and_page() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let topic = json!({"name": "Product news", "description": "Monthly"});
        assert_eq!(app.put("/v1/topics/news", &topic).await.status(), 201);
        assert_eq!(app.put("/v1/topics/news", &topic).await.status(), 200);
        let r = app.put("/v1/topics/no%20spaces", &topic).await;
        assert_eq!(r.status(), 422);
        assert_eq!(fields(&r.json().await.unwrap()), vec!["key"]);
        let r = app.put("/v1/topics/x", &json!({"name": ""})).await;
        assert_eq!(r.status(), 422);
        assert_eq!(fields(&r.json().await.unwrap()), vec!["name"]);
        assert_eq!(app.get("/v1/topics/x").await.status(), 404);

        for id in ["a", "b", "c", "d", "e"] {
            assert_eq!(
                app.put(&format!("/v1/recipients/{id}"), &json!({}))
                    .await
                    .status(),
                201
            );
        }
        let all = json!({"recipients": ["a", "b", "c", "d", "e", "a"]});
        let r = app.post("/v1/topics/news/subscribers", &all).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["changed"], 5);
        // Again: nothing changes.
        let r = app.post("/v1/topics/news/subscribers", &all).await;
        assert_eq!(r.json::<Value>().await.unwrap()["changed"], 0);
        assert_eq!(app.get_json("/v1/topics/news").await["subscribers"], 5);

        // An unknown id refuses the whole call, naming it.
        let r = app
            .post(
                "/v1/topics/news/subscribers",
                &json!({"recipients": ["zz", "a", "nobody"]}),
            )
            .await;
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        assert_eq!(fields(&p), vec!["recipients[0]", "recipients[2]"]);
        assert_eq!(app.get_json("/v1/topics/news").await["subscribers"], 5);

        // Over the bound: 10,001 ids.
        let many: Vec<String> = (0..10_001).map(|i| format!("r{i}")).collect();
        let r = app
            .post("/v1/topics/news/subscribers", &json!({"recipients": many}))
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_eq!(fields(&r.json().await.unwrap()), vec!["recipients"]);
        let r = delete(
            &app,
            "/v1/topics/news/subscribers",
            &json!({"recipients": many}),
        )
        .await;
        assert_eq!(r.status(), 422);
        let r = app
            .post("/v1/topics/news/subscribers", &json!({"recipients": []}))
            .await;
        assert_eq!(r.status(), 422);
        let r = app
            .post(
                "/v1/topics/missing/subscribers",
                &json!({"recipients": ["a"]}),
            )
            .await;
        assert_eq!(r.status(), 404);

        // Pages of two, by id.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/topics/news/subscribers?limit=2&cursor={c}"),
                None => "/v1/topics/news/subscribers?limit=2".to_string(),
            };
            let page = app.get_json(&path).await;
            pages += 1;
            for s in page["items"].as_array().unwrap() {
                seen.push(s["recipient"].as_str().unwrap().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, vec!["a", "b", "c", "d", "e"]);
        assert_eq!(pages, 3);
        let r = app.get("/v1/topics/news/subscribers?limit=0").await;
        assert_eq!(r.status(), 422);

        // The recipient's profile lists its topics.
        assert_eq!(
            app.put("/v1/topics/alerts", &json!({"name": "Alerts"}))
                .await
                .status(),
            201
        );
        app.post(
            "/v1/topics/alerts/subscribers",
            &json!({"recipients": ["a"]}),
        )
        .await;
        assert_eq!(
            app.get_json("/v1/recipients/a").await["topics"],
            json!(["alerts", "news"])
        );
        let list = app.get_json("/v1/topics?limit=1").await;
        assert_eq!(list["items"][0]["key"], "alerts");
        let next = list["next_cursor"].as_str().unwrap().to_string();
        let list = app
            .get_json(&format!("/v1/topics?limit=1&cursor={next}"))
            .await;
        assert_eq!(list["items"][0]["key"], "news");
        assert!(list["next_cursor"].is_null());

        // The console's recipient page lists them too.
        let console = crate::console::ConsoleClient::new(&app);
        console.sign_in(&app.key).await;
        let (status, html) = console.page("/console/recipients?id=a").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("<code>alerts</code>") && html.contains("<code>news</code>"),
            "{html}"
        );

        // Unsubscribe: idempotent.
        let r = delete(
            &app,
            "/v1/topics/news/subscribers",
            &json!({"recipients": ["e", "nobody"]}),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["changed"], 1);
        let r = delete(
            &app,
            "/v1/topics/news/subscribers",
            &json!({"recipients": ["e"]}),
        )
        .await;
        assert_eq!(r.json::<Value>().await.unwrap()["changed"], 0);
        assert_eq!(app.get_json("/v1/topics/news").await["subscribers"], 4);

        // Deleting a recipient unsubscribes it; deleting a topic ends it.
        let r = app
            .client
            .delete(app.url("/v1/recipients/d"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(app.get_json("/v1/topics/news").await["subscribers"], 3);
        let r = app
            .client
            .delete(app.url("/v1/topics/alerts"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(
            app.get_json("/v1/recipients/a").await["topics"],
            json!(["news"])
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_send_reaches_each_subscriber_once_as_a_direct_send_would() {
    each_backend(|b| async move {
        // Batches of 7: the 51 subscribers take eight.
        let app = spawn_app_with(&b, "[worker]\nfanout_batch = 7\n").await;
        let rx = Receiver::start().await;
        assert_eq!(app.put("/v1/topics/news", &json!({"name": "News"})).await.status(), 201);
        let mut ids = Vec::new();
        for i in 0..50 {
            let id = format!("s{i:02}");
            let hook = format!("{}?r={id}", rx.url);
            app.put(&format!("/v1/recipients/{id}"), &json!({"webhook_url": hook}))
                .await;
            ids.push(id);
        }
        // Opted out of webhooks: suppressed, as a direct send would be.
        app.put(
            "/v1/recipients/s_out",
            &json!({"webhook_url": rx.url, "preferences": {"channels": {"webhook": false}}}),
        )
        .await;
        ids.push("s_out".into());
        let r = app
            .post("/v1/topics/news/subscribers", &json!({"recipients": ids}))
            .await;
        assert_eq!(r.status(), 200);

        // Bad addressing is refused up front.
        let content = json!({"webhook": {"body": "{\"n\": {{json n}} }"}});
        let r = app
            .post("/v1/notifications", &json!({"content": content, "to": [{"topic": "nope"}], "data": {"n": 1}}))
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(fields(&r.json().await.unwrap()), vec!["to[0].topic"]);
        let r = app
            .post("/v1/notifications", &json!({"content": content, "to": [{"topic": "news"}, {"id": "s01"}], "data": {"n": 1}}))
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(fields(&r.json().await.unwrap()), vec!["to"]);
        let r = app
            .post("/v1/notifications", &json!({"content": content, "to": [{"topic": "news"}]}))
            .await;
        assert_eq!(r.status(), 422, "a render error is refused before the fan-out");

        let send = json!({"content": content, "to": [{"topic": "news"}], "data": {"n": 7}});
        let r = app
            .client
            .post(app.url("/v1/notifications"))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", "news-7")
            .json(&send)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let a: Value = r.json().await.unwrap();
        assert_eq!(a["recipients"], "pending");
        assert_eq!(a["total"], 51);
        let id = a["id"].as_str().unwrap().to_string();

        let n = fanout_until(&app, &id, "done", Duration::from_secs(30)).await;
        assert_eq!(n["fanout"]["fanned_out"], 51);
        assert_eq!(n["fanout"]["total"], 51);

        // The same key: the same notification, nothing fanned out again.
        let r = app
            .client
            .post(app.url("/v1/notifications"))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", "news-7")
            .json(&send)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        assert_eq!(r.json::<Value>().await.unwrap()["id"], id.as_str());

        // Every subscriber has exactly one delivery; the opted-out one is
        // suppressed for its preference.
        let page = app
            .get_json(&format!("/v1/deliveries?notification={id}&limit=500"))
            .await;
        let mut per: HashMap<String, Vec<Value>> = HashMap::new();
        for d in page["items"].as_array().unwrap() {
            if d["channel"] == "fanout" {
                continue;
            }
            per.entry(d["recipient"].as_str().unwrap().to_string())
                .or_default()
                .push(d.clone());
        }
        assert_eq!(per.len(), 51);
        assert!(per.values().all(|v| v.len() == 1));
        let out = &per["s_out"][0];
        assert_eq!(out["status"], "suppressed");
        assert_eq!(out["reason"], "preference");
        if let Err(n) = poll_until(Duration::from_secs(30), || async {
            (rx.count() >= 50, rx.count())
        })
        .await
        {
            panic!("{b:?}: the receiver saw {n} of 50");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 50, "{b:?}: one request per reachable subscriber");
        // Each request is one of the webhook deliveries, none twice.
        let mut got: Vec<String> = rx
            .received()
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_string())
            .collect();
        got.sort();
        let mut want: Vec<String> = per
            .iter()
            .filter(|(r, _)| r.as_str() != "s_out")
            .map(|(_, d)| d[0]["id"].as_str().unwrap().to_string())
            .collect();
        want.sort();
        assert_eq!(got, want);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_topic_send_stops_its_fan_out() {
    each_backend(|b| async move {
        // One subscriber a batch: the fan-out takes long enough to stop.
        let app = spawn_app_with(&b, "[worker]\nfanout_batch = 1\n").await;
        assert_eq!(app.put("/v1/topics/big", &json!({"name": "Big"})).await.status(), 201);
        seed(&app.db, "big", 3_000).await;
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"in_app": {"title": "Hi", "body": "there"}}, "to": [{"topic": "big"}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let a: Value = r.json().await.unwrap();
        assert_eq!(a["total"], 3_000);
        let id = a["id"].as_str().unwrap().to_string();
        poll_until(Duration::from_secs(30), || async {
            let n = app.get_json(&format!("/v1/notifications/{id}")).await;
            (n["fanout"]["fanned_out"].as_i64().unwrap_or(0) > 0, ())
        })
        .await
        .expect("the fan-out starts");
        let r = app.post(&format!("/v1/notifications/{id}/cancel"), &json!({})).await;
        assert_eq!(r.status(), 200);
        let n = app.get_json(&format!("/v1/notifications/{id}")).await;
        assert_eq!(n["fanout"]["status"], "cancelled");
        let reached = n["fanout"]["fanned_out"].as_i64().unwrap();
        assert!(reached < 3_000, "{b:?}: cancelled after it finished");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let n = app.get_json(&format!("/v1/notifications/{id}")).await;
        assert_eq!(n["fanout"]["fanned_out"], reached, "{b:?}: it went on after the cancel");
        let made = scalar(
            &app.db,
            &format!("SELECT COUNT(*) FROM deliveries WHERE notification_id = '{id}' AND channel <> 'fanout'"),
        )
        .await;
        assert_eq!(made, reached, "{b:?}: one delivery per subscriber reached, none after");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serve_killed_mid_fan_out_leaves_each_subscriber_one_delivery() {
    const N: usize = 30_000;
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let extra = [("MISSIVE__WORKER__FANOUT_BATCH", "100")];
        let mut first = start_serve(&db, &extra, "serve-1").await;
        let key = admin_key(&db);
        let client = reqwest::Client::new();
        let r = client
            .put(first.url("/v1/topics/all"))
            .bearer_auth(&key)
            .json(&json!({"name": "Everyone"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        seed(&db, "all", N).await;
        let r = client
            .post(first.url("/v1/notifications"))
            .bearer_auth(&key)
            .json(&json!({"content": {"in_app": {"title": "Hi", "body": "all"}}, "to": [{"topic": "all"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let url = first.url(&format!("/v1/notifications/{id}"));
        poll_until(Duration::from_secs(60), || async {
            let n: Value = client
                .get(&url)
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (n["fanout"]["fanned_out"].as_i64().unwrap_or(0) >= 500, ())
        })
        .await
        .expect("the fan-out gets going");
        first.kill();
        let place = scalar(
            &db,
            &format!("SELECT COUNT(*) FROM deliveries WHERE notification_id = '{id}' AND channel <> 'fanout'"),
        )
        .await;
        assert!(
            (place as usize) < N,
            "{b:?}: the fan-out finished before the kill; nothing was caught mid-way"
        );
        eprintln!("{b:?}: killed with {place} of {N} fanned out");

        let mut second = start_serve(&db, &extra, "serve-2").await;
        let t0 = Instant::now();
        let url = second.url(&format!("/v1/notifications/{id}"));
        let done = poll_until(Duration::from_secs(120), || async {
            let n: Value = client
                .get(&url)
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (n["fanout"]["status"] == "done", n["fanout"].clone())
        })
        .await;
        if let Err(f) = done {
            panic!("{b:?}: the fan-out did not finish after the restart: {f}");
        }
        eprintln!("{b:?}: finished {:?} after the restart", t0.elapsed());
        let total = scalar(
            &db,
            &format!("SELECT COUNT(*) FROM deliveries WHERE notification_id = '{id}' AND channel <> 'fanout'"),
        )
        .await;
        let distinct = scalar(
            &db,
            &format!("SELECT COUNT(DISTINCT recipient) FROM deliveries WHERE notification_id = '{id}' AND channel <> 'fanout'"),
        )
        .await;
        assert_eq!(distinct as usize, N, "{b:?}: someone was skipped");
        assert_eq!(total as usize, N, "{b:?}: someone got two deliveries");
        second.sigterm();
        second.wait_exit(Duration::from_secs(20)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_a_fan_out_and_one_finishes_what_the_other_dropped() {
    const N: usize = 20_000;
    each_backend(|b| async move {
        // Several processes on one database: PostgreSQL only.
        if !matches!(b, Backend::Postgres(_)) {
            return;
        }
        let db = TestDb::new(&b);
        let extra = [("MISSIVE__WORKER__FANOUT_BATCH", "100")];
        let mut first = start_serve(&db, &extra, "serve-a").await;
        let key = admin_key(&db);
        let mut second = start_serve(&db, &extra, "serve-b").await;
        let client = reqwest::Client::new();
        let r = client
            .put(first.url("/v1/topics/all"))
            .bearer_auth(&key)
            .json(&json!({"name": "Everyone"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        seed(&db, "all", N).await;
        let r = client
            .post(first.url("/v1/notifications"))
            .bearer_auth(&key)
            .json(&json!({"content": {"in_app": {"title": "Hi", "body": "all"}}, "to": [{"topic": "all"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let count = format!(
            "SELECT COUNT(*) FROM deliveries WHERE notification_id = '{id}' AND channel <> 'fanout'"
        );
        poll_until(Duration::from_secs(60), || async {
            (scalar(&db, &count).await >= 300, ())
        })
        .await
        .expect("the fan-out gets going");
        // Whichever holds the fan-out, the other (or the survivor) ends
        // it: killing one loses and repeats nobody.
        first.kill();
        let url = second.url(&format!("/v1/notifications/{id}"));
        let done = poll_until(Duration::from_secs(120), || async {
            let n: Value = client
                .get(&url)
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (n["fanout"]["status"] == "done", n["fanout"].clone())
        })
        .await;
        if let Err(f) = done {
            panic!("the fan-out did not finish on the other instance: {f}");
        }
        let distinct = scalar(
            &db,
            &format!("SELECT COUNT(DISTINCT recipient) FROM deliveries WHERE notification_id = '{id}' AND channel <> 'fanout'"),
        )
        .await;
        assert_eq!(scalar(&db, &count).await as usize, N, "someone got two deliveries");
        assert_eq!(distinct as usize, N, "someone was skipped");
        second.sigterm();
        second.wait_exit(Duration::from_secs(20)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_triggered_for_a_topic_runs_once_per_subscriber() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[worker]\nfanout_batch = 3\n").await;
        let rx = Receiver::start().await;
        let t = json!({"channels": {"webhook": {"body": "{\"title\": {{json title}} }"}}});
        assert_eq!(app.put("/v1/templates/note", &t).await.status(), 201);
        let wf = json!({"steps": [{"id": "hook", "type": "send", "channel": "webhook", "template": "note"}]});
        assert_eq!(app.put("/v1/workflows/notify", &wf).await.status(), 201);
        assert_eq!(app.put("/v1/topics/team", &json!({"name": "Team"})).await.status(), 201);
        let ids: Vec<String> = (0..8).map(|i| format!("w{i}")).collect();
        for id in &ids {
            app.put(&format!("/v1/recipients/{id}"), &json!({"webhook_url": rx.url}))
                .await;
        }
        app.post("/v1/topics/team/subscribers", &json!({"recipients": ids}))
            .await;
        let r = app
            .post(
                "/v1/notifications",
                &json!({"workflow": "notify", "to": [{"topic": "team"}], "data": {"title": "Hi"}}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let n = fanout_until(&app, &id, "done", Duration::from_secs(30)).await;
        assert_eq!(n["fanout"]["fanned_out"], 8);
        if let Err(c) = poll_until(Duration::from_secs(30), || async {
            (rx.count() >= 8, rx.count())
        })
        .await
        {
            panic!("{b:?}: {c} of 8 webhooks");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.count(), 8, "{b:?}: one run per subscriber");
        app.stop().await;
    })
    .await;
}
