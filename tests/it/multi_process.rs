//! Separate `api` and `worker` processes on one database: work accepted by
//! one process is sent by the other. On PostgreSQL the worker polls only
//! every 30 s here, so prompt delivery proves LISTEN/NOTIFY wakes it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::crash::{admin_key, child_env, free_port, spawn_child};
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_process_and_a_worker_process_share_the_queue() {
    for b in backends() {
        let db = TestDb::new(&b);
        let rx = Receiver::start().await;
        let poll = match b {
            Backend::Postgres(_) => "30s",
            Backend::Sqlite => "100ms",
        };
        let api_port = free_port();
        let mut api_env = child_env(&db, api_port);
        api_env.push(("MISSIVE__WORKER__POLL_INTERVAL".into(), poll.into()));
        let mut api = spawn_child(&db, &api_env, api_port, &["api"], "api");
        api.wait_ready(Duration::from_secs(30)).await;

        let worker_port = free_port();
        let mut worker_env = child_env(&db, worker_port);
        worker_env.push(("MISSIVE__WORKER__POLL_INTERVAL".into(), poll.into()));
        let mut worker = spawn_child(&db, &worker_env, worker_port, &["worker"], "worker");
        // The worker takes no HTTP port: nothing answers on it.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(worker.try_exit().is_none(), "the worker keeps running");
        assert!(
            reqwest::get(format!("http://127.0.0.1:{worker_port}/healthz"))
                .await
                .is_err()
        );

        let key = admin_key(&db);
        let client = reqwest::Client::new();
        let mut accepted = vec![];
        for i in 0..10 {
            let r = client
                .post(api.url("/v1/notifications"))
                .bearer_auth(&key)
                .json(&json!({"content": {"webhook": {"body": "{\"n\": {{json n}} }"}}, "to": [{"webhook_url": rx.url}], "data": {"n": i}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            accepted.push(
                r.json::<Value>().await.unwrap()["deliveries"][0]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let got = rx.wait_for(10, Duration::from_secs(10)).await;
        let mut ids: Vec<String> = got
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_string())
            .collect();
        ids.sort();
        accepted.sort();
        assert_eq!(ids, accepted);

        worker.stop_gracefully(Duration::from_secs(30)).await;
        api.stop_gracefully(Duration::from_secs(30)).await;
    }
}

/// Two `serve` processes on one PostgreSQL database share one rate limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_rate_limit() {
    for b in backends() {
        if !matches!(b, Backend::Postgres(_)) {
            continue;
        }
        let db = TestDb::new(&b);
        let rx = Receiver::start().await;
        let mut children = vec![];
        for label in ["one", "two"] {
            let port = free_port();
            let mut env = child_env(&db, port);
            env.push((
                "MISSIVE__CHANNELS__WEBHOOK__RATE_LIMIT".into(),
                "20/s".into(),
            ));
            env.push(("MISSIVE__CHANNELS__WEBHOOK__RATE_BURST".into(), "5".into()));
            let mut child = spawn_child(&db, &env, port, &["serve"], label);
            child.wait_ready(Duration::from_secs(30)).await;
            children.push(child);
        }
        let key = admin_key(&db);
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        for child in &children {
            let to: Vec<Value> = (0..40).map(|_| json!({"webhook_url": rx.url})).collect();
            let r = client
                .post(child.url("/v1/notifications"))
                .bearer_auth(&key)
                .json(&json!({"content": {"webhook": {"body": "{}"}}, "to": to}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
        }
        rx.wait_for(80, Duration::from_secs(30)).await;
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(3_300),
            "80 sent in {took:?} at 20/s"
        );
        let peak = crate::flow::busiest_second(&rx);
        assert!(
            peak <= 25,
            "{peak} in one second across both processes; the limit is 20/s + 5"
        );
        for mut child in children {
            child.stop_gracefully(Duration::from_secs(30)).await;
        }
    }
}
