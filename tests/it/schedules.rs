//! Recurring schedules end to end: next fire times in a timezone and in
//! each recipient's, every mistake named, pause and resume, a firing
//! missed while nothing ran made up once (not once per missed time), and
//! two real processes firing one schedule once.

use std::time::Duration;

use chrono::{Datelike, Timelike};
use serde_json::{json, Value};

use crate::helpers::*;

fn at(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
        .unwrap()
        .with_timezone(&chrono::Utc)
}

fn workflow(body: &str) -> Value {
    json!({"steps": [{"id": "send", "type": "send", "channel": "webhook", "content": {"webhook": {"body": body}}}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_fire_when_due_and_make_up_missed_times_once() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        assert_eq!(app.put("/v1/workflows/summary", &workflow("{\"week\": {{json week}} }")).await.status(), 201);
        let body = json!({"workflow": "summary", "to": [{"id": "u_1", "webhook_url": rx.url}],
                          "data": {"week": 49}, "schedule": "weekly mon 09:00", "timezone": "Asia/Shanghai"});
        let r = app.put("/v1/schedules/weekly", &body).await;
        assert_eq!(r.status(), 201);
        let s: Value = r.json().await.unwrap();
        let next = at(&s["next_fire_at"]).with_timezone(&chrono_tz::Asia::Shanghai);
        assert_eq!((next.weekday(), next.hour(), next.minute()), (chrono::Weekday::Mon, 9, 0), "{s:#}");
        assert!(next > chrono::Utc::now() && next < chrono::Utc::now() + chrono::Duration::days(7));
        assert_eq!(app.put("/v1/schedules/weekly", &body).await.status(), 200, "replaced");

        // Each recipient's own timezone.
        for (id, tz) in [("u_sh", "Asia/Shanghai"), ("u_ny", "America/New_York")] {
            let r = app.put(&format!("/v1/recipients/{id}"), &json!({"webhook_url": rx.url, "timezone": tz})).await;
            assert_eq!(r.status(), 201);
        }
        let r = app
            .put("/v1/schedules/daily", &json!({"workflow": "summary", "to": [{"id": "u_sh"}, {"id": "u_ny"}, {"webhook_url": rx.url}],
                                                "data": {"week": 1}, "schedule": "daily 08:30", "timezone": "recipient"}))
            .await;
        assert_eq!(r.status(), 201);
        let s: Value = r.json().await.unwrap();
        let zones: Vec<(&str, u64)> = s["targets"].as_array().unwrap().iter()
            .map(|t| (t["timezone"].as_str().unwrap(), t["recipients"].as_u64().unwrap())).collect();
        assert_eq!(zones, [("America/New_York", 1), ("Asia/Shanghai", 1), ("UTC", 1)]);
        for t in s["targets"].as_array().unwrap() {
            let tz: chrono_tz::Tz = t["timezone"].as_str().unwrap().parse().unwrap();
            let local = at(&t["next_fire_at"]).with_timezone(&tz);
            assert_eq!((local.hour(), local.minute()), (8, 30), "{t}");
        }

        // Mistakes, each by its field.
        for (bad, field) in [
            (json!({"workflow": "nope", "to": [{"id": "u_1"}], "schedule": "daily 09:00"}), "workflow"),
            (json!({"workflow": "summary", "to": [], "schedule": "daily 09:00"}), "to"),
            (json!({"workflow": "summary", "to": [{"id": "u_1"}], "schedule": "every day"}), "schedule"),
            (json!({"workflow": "summary", "to": [{"id": "u_1"}], "schedule": "* * * * * *"}), "schedule"),
            (json!({"workflow": "summary", "to": [{"id": "u_1"}], "schedule": "daily 09:00", "timezone": "Mars/Base"}), "timezone"),
            (json!({"workflow": "summary", "to": [{"id": "u_1"}], "schedule": "daily 09:00", "data": [1]}), "data"),
            (json!({"workflow": "summary", "to": [{}], "schedule": "daily 09:00"}), "to[0]"),
        ] {
            let r = app.put("/v1/schedules/bad", &bad).await;
            assert_eq!(r.status(), 422, "{bad}");
            let p: Value = r.json().await.unwrap();
            let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
            assert!(fields.contains(&field), "{bad}: {p:#}");
        }
        assert_eq!(app.get("/v1/schedules/bad").await.status(), 404);

        // Pause and resume.
        let p: Value = app.post("/v1/schedules/daily/pause", &json!({})).await.json().await.unwrap();
        assert_eq!((p["paused"].clone(), p["next_fire_at"].clone()), (json!(true), Value::Null));
        let p: Value = app.post("/v1/schedules/daily/resume", &json!({})).await.json().await.unwrap();
        assert_eq!(p["paused"], false);
        assert!(p["next_fire_at"].is_string());
        let list = app.get_json("/v1/schedules").await;
        let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["daily", "weekly"]);
        let r = app.client.delete(app.url("/v1/schedules/daily")).bearer_auth(&app.key).send().await.unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(app.get("/v1/schedules/daily").await.status(), 404);

        // Three weeks went by with nothing running: it fires once, now,
        // and next at its next time.
        let weeks_ago = missive::util::now_ms() - 21 * 86_400_000;
        app.db
            .execute(&format!("UPDATE schedule_targets SET next_fire_at = {weeks_ago} WHERE schedule_id = 'weekly'"))
            .await;
        let got = rx.wait_for(1, Duration::from_secs(15)).await;
        assert_eq!(serde_json::from_str::<Value>(&got[0].body).unwrap(), json!({"week": 49}));
        let s = poll_until(Duration::from_secs(10), || async {
            let s = app.get_json("/v1/schedules/weekly").await;
            (s["targets"][0]["last_notification"].is_string(), s)
        })
        .await
        .expect("the firing is recorded");
        assert!(at(&s["next_fire_at"]) > chrono::Utc::now());
        assert_eq!(at(&s["targets"][0]["last_fired_at"]).timestamp_millis(), weeks_ago);
        let n = app.get_json(&format!("/v1/notifications/{}", s["targets"][0]["last_notification"].as_str().unwrap())).await;
        assert_eq!(n["workflow"], "summary");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(rx.count(), 1, "missed times fire once");
        let m = crate::metrics::scrape(&app).await;
        assert_eq!(m.value("missive_schedule_firings_total", &[("outcome", "fired")]), 1.0);

        // A paused schedule does not fire.
        app.post("/v1/schedules/weekly/pause", &json!({})).await;
        app.db
            .execute(&format!("UPDATE schedule_targets SET next_fire_at = {weeks_ago} WHERE schedule_id = 'weekly'"))
            .await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(rx.count(), 1);
        app.stop().await;
    })
    .await;
}

/// Two real processes tick on one database: a due schedule fires once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_fire_a_schedule_once() {
    each_backend(|b| async move {
        use crate::crash::{admin_key, start_serve};
        let db = TestDb::new(&b);
        let rx = Receiver::start().await;
        let mut one = start_serve(&db, &[], "one").await;
        let mut two = start_serve(&db, &[], "two").await;
        let key = admin_key(&db);
        let client = reqwest::Client::new();
        let put = |url: String, body: Value| {
            let (client, key) = (client.clone(), key.clone());
            async move {
                client
                    .put(url)
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert_eq!(
            put(one.url("/v1/workflows/ping"), workflow("{}")).await,
            201
        );
        let body =
            json!({"workflow": "ping", "to": [{"webhook_url": rx.url}], "schedule": "0 * * * *"});
        assert_eq!(put(two.url("/v1/schedules/hourly"), body).await, 201);
        for round in 1..=3 {
            let ago = missive::util::now_ms() - 3 * 3_600_000;
            db.execute(&format!(
                "UPDATE schedule_targets SET next_fire_at = {ago} WHERE schedule_id = 'hourly'"
            ))
            .await;
            rx.wait_for(round, Duration::from_secs(15)).await;
            tokio::time::sleep(Duration::from_millis(2500)).await;
            assert_eq!(
                rx.count(),
                round,
                "round {round}: one firing for both processes"
            );
        }
        one.stop_gracefully(Duration::from_secs(30)).await;
        two.stop_gracefully(Duration::from_secs(30)).await;
    })
    .await;
}
