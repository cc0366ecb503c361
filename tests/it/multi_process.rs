//! Separate `api` and `worker` processes on one database: work accepted by
//! one process is sent by the other. On PostgreSQL the worker polls only
//! every 30 s here, so prompt delivery proves LISTEN/NOTIFY wakes it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use crate::crash::{admin_key, child_env, spawn_child};
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_process_and_a_worker_process_share_the_queue() {
    each_backend(|b| async move {
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
    })
    .await;
}

/// Two `serve` processes on one PostgreSQL database share one rate limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_rate_limit() {
    each_backend(|b| async move {
        if !matches!(b, Backend::Postgres(_)) {
            return;
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
            // As several instances on one database are advised to run.
            env.push(("MISSIVE__DATABASE__WRITERS".into(), "1".into()));
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
    })
    .await;
}

/// An SMS gateway answering every request with `status` (and `Retry-After`
/// when given), recording when each request came.
async fn gateway(
    status: u16,
    retry_after: Option<&'static str>,
) -> (
    String,
    Arc<Mutex<Vec<Instant>>>,
    Arc<Mutex<Vec<SystemTime>>>,
) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let walls = Arc::new(Mutex::new(Vec::new()));
    let (c, w) = (calls.clone(), walls.clone());
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move || {
            let (c, w) = (c.clone(), w.clone());
            async move {
                c.lock().unwrap().push(Instant::now());
                w.lock().unwrap().push(SystemTime::now());
                let mut headers = axum::http::HeaderMap::new();
                if let Some(r) = retry_after {
                    headers.insert("retry-after", r.parse().unwrap());
                }
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    headers,
                    "{}",
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls, walls)
}

/// Config with two SMS providers, `primary` then `backup`.
fn two_gateways(db: &TestDb, primary: &str, backup: &str, breaker: &str) -> String {
    let path = db.dir.path().join("sms.toml");
    let provider = |name: &str, url: &str| {
        format!("[channels.sms.{name}]\ntype = \"http\"\nallow_private = true\nurl = \"{url}\"\nbody = '{{\"to\": {{{{json to}}}}}}'\n")
    };
    std::fs::write(
        &path,
        format!(
            "[channels.sms]\nproviders = [\"primary\", \"backup\"]\nretry_schedule = [\"100ms\", \"100ms\", \"100ms\"]\n\
             {breaker}\n{}{}",
            provider("primary", primary),
            provider("backup", backup)
        ),
    )
    .unwrap();
    path.display().to_string()
}

async fn start_with_config(db: &TestDb, config: &str, label: &str) -> ChildGuard {
    let port = free_port();
    let env = child_env(db, port);
    let mut child = spawn_child(db, &env, port, &["serve", "--config", config], label);
    child.wait_ready(Duration::from_secs(30)).await;
    child
}

async fn send_sms(child: &ChildGuard, key: &str, n: usize) {
    let to: Vec<Value> = (0..n)
        .map(|i| json!({"phone": format!("+4930123456{i:02}")}))
        .collect();
    let r = reqwest::Client::new()
        .post(child.url("/v1/notifications"))
        .bearer_auth(key)
        .json(&json!({"content": {"sms": {"text": "hi"}}, "to": to}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
}

/// Waits until `child`'s GET /v1/providers shows sms provider `name` in `state`.
async fn wait_provider_state(child: &ChildGuard, key: &str, name: &str, state: &str) {
    let url = child.url("/v1/providers");
    let got = poll_until(Duration::from_secs(30), || async {
        let v: Value = match reqwest::Client::new()
            .get(&url)
            .bearer_auth(key)
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        let ok = v["items"].as_array().is_some_and(|items| {
            items
                .iter()
                .any(|p| p["channel"] == "sms" && p["provider"] == name && p["state"] == state)
        });
        (ok, v)
    })
    .await;
    assert!(got.is_ok(), "{name} never {state}: {got:?}");
}

async fn wait_calls(calls: &Mutex<Vec<Instant>>, n: usize) {
    let got = poll_until(Duration::from_secs(30), || async {
        let got = calls.lock().unwrap().len();
        (got >= n, got)
    })
    .await;
    assert!(got.is_ok(), "{got:?} calls, waiting for {n}");
}

/// Sends 10 SMS through each of `via` and waits until the backup gateway
/// has had `want.1` calls in all, then checks that the primary has had no
/// more than `want.0`, and that this all happened before `deadline` (the
/// end of the pause or cool-down).
async fn all_to_backup(
    via: &[&ChildGuard],
    key: &str,
    (primary, backup): (&Mutex<Vec<Instant>>, &Mutex<Vec<Instant>>),
    want: (usize, usize),
    deadline: Instant,
) {
    for child in via {
        send_sms(child, key, 10).await;
    }
    wait_calls(backup, want.1).await;
    assert!(
        Instant::now() < deadline,
        "too slow to test inside the pause"
    );
    assert_eq!(
        primary.lock().unwrap().len(),
        want.0,
        "primary is held back for both"
    );
}

/// A provider that answers one process 429 with Retry-After is paused for
/// every process on the database until the pause ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_asked_of_one_process_holds_for_the_other() {
    each_backend(|b| async move {
        if !matches!(b, Backend::Postgres(_)) {
            return;
        }
        let db = TestDb::new(&b);
        let (primary, primary_calls, primary_walls) = gateway(429, Some("10")).await;
        let (backup, backup_calls, _) = gateway(200, None).await;
        let config = two_gateways(&db, &primary, &backup, "");
        let mut one = start_with_config(&db, &config, "one").await;
        let key = admin_key(&db);
        send_sms(&one, &key, 1).await;
        wait_calls(&primary_calls, 1).await;
        let paused_at = primary_calls.lock().unwrap()[0];

        // The second process never saw the 429; the first leaves, so the
        // second does all the sending from here.
        let mut two = start_with_config(&db, &config, "two").await;
        one.stop_gracefully(Duration::from_secs(30)).await;
        wait_provider_state(&two, &key, "primary", "paused").await;
        let calls = (&*primary_calls, &*backup_calls);
        all_to_backup(
            &[&two],
            &key,
            calls,
            (1, 10),
            paused_at + Duration::from_secs(10),
        )
        .await;

        // When the pause ends the provider is used again.
        wait_provider_state(&two, &key, "primary", "closed").await;
        send_sms(&two, &key, 1).await;
        wait_calls(&primary_calls, 2).await;
        let since = |calls: &Mutex<Vec<Instant>>| -> Vec<Duration> {
            calls
                .lock()
                .unwrap()
                .iter()
                .map(|t| *t - paused_at)
                .collect()
        };
        // Processes time a pause by the wall clock (it is shared as a Unix
        // time), so that is the clock to judge it by.
        let walls = primary_walls.lock().unwrap().clone();
        let again = walls[1].duration_since(walls[0]).unwrap_or_default();
        assert!(
            again >= Duration::from_secs(10),
            "primary called again {again:?} (wall clock) after the 429 that asked for 10 s: \
             primary calls at {:?}, backup calls at {:?} (monotonic)",
            since(&primary_calls),
            since(&backup_calls)
        );
        two.stop_gracefully(Duration::from_secs(30)).await;
    })
    .await;
}

/// A breaker opened by failures one process saw keeps the other process
/// off that provider; after the cool-down one probe goes out for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_opened_in_one_process_holds_for_the_other() {
    each_backend(|b| async move {
        if !matches!(b, Backend::Postgres(_)) {
            return;
        }
        let db = TestDb::new(&b);
        let (primary, primary_calls, _) = gateway(503, None).await;
        let (backup, backup_calls, _) = gateway(200, None).await;
        let config = two_gateways(
            &db,
            &primary,
            &backup,
            "breaker_threshold = 3\nbreaker_cool_down = \"8s\"",
        );
        let mut one = start_with_config(&db, &config, "one").await;
        let key = admin_key(&db);
        // Three failures, one after another: the first process's breaker opens.
        for n in 1..=3 {
            send_sms(&one, &key, 1).await;
            wait_calls(&primary_calls, n).await;
        }
        wait_provider_state(&one, &key, "primary", "open").await;
        let opened_at = Instant::now();

        let mut two = start_with_config(&db, &config, "two").await;
        wait_provider_state(&two, &key, "primary", "open").await;
        let calls = (&*primary_calls, &*backup_calls);
        all_to_backup(
            &[&two, &one],
            &key,
            calls,
            (3, 23),
            opened_at + Duration::from_secs(8),
        )
        .await;

        // After the cool-down: one probe for both processes (it fails, so
        // the breaker opens again).
        wait_provider_state(&two, &key, "primary", "half_open").await;
        send_sms(&two, &key, 5).await;
        send_sms(&one, &key, 5).await;
        wait_calls(&backup_calls, 33).await;
        assert_eq!(primary_calls.lock().unwrap().len(), 4, "one probe in all");
        wait_provider_state(&one, &key, "primary", "open").await;
        one.stop_gracefully(Duration::from_secs(30)).await;
        two.stop_gracefully(Duration::from_secs(30)).await;
    })
    .await;
}
