//! The real binary killed mid-flight: nothing accepted is lost. Also the
//! helpers that start the real binary, which the CLI tests share.

use std::collections::HashSet;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::helpers::*;

/// The real `missive` binary.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_missive");

/// Env for the real binary: the test's database, quick polls, leases and
/// retries, loopback receivers allowed, listening on `port`.
pub(crate) fn child_env(db: &TestDb, port: u16) -> Vec<(String, String)> {
    let mut v = db.env();
    for (k, val) in [
        ("MISSIVE__SERVER__BIND", format!("127.0.0.1:{port}")),
        ("MISSIVE__CHANNELS__WEBHOOK__ALLOW_PRIVATE", "true".into()),
        ("MISSIVE__WORKER__LEASE", "3s".into()),
        ("MISSIVE__CHANNELS__WEBHOOK__TIMEOUT", "2s".into()),
        // The lease must outlast every channel's timeout.
        ("MISSIVE__CHANNELS__EMAIL__TIMEOUT", "2s".into()),
        ("MISSIVE__CHANNELS__SMS__TIMEOUT", "2s".into()),
        ("MISSIVE__CHANNELS__CHAT__TIMEOUT", "2s".into()),
        ("MISSIVE__CHANNELS__PUSH__TIMEOUT", "2s".into()),
        (
            "MISSIVE__CHANNELS__WEBHOOK__RETRY_SCHEDULE",
            "100ms,100ms,100ms".into(),
        ),
        ("MISSIVE__WORKER__POLL_INTERVAL", "100ms".into()),
        ("MISSIVE__WORKER__SCHEDULE_TICK", "1s".into()),
        ("MISSIVE__SERVER__SHUTDOWN_DRAIN", "0s".into()),
        ("RUST_LOG", "warn".into()),
    ] {
        v.push((k.to_string(), val));
    }
    v
}

/// The binary the tests run: `MISSIVE_TEST_BIN` if set (e.g. a release
/// build, or a copy kept apart from a shared target dir), else [`BIN`].
pub(crate) fn bin() -> std::ffi::OsString {
    std::env::var_os("MISSIVE_TEST_BIN").unwrap_or_else(|| BIN.into())
}

/// A `Command` for the binary with `env` (and no MISSIVE__* inherited from
/// the test's own environment).
pub(crate) fn command(env: &[(String, String)], args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("MISSIVE__") {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .stdin(Stdio::null());
    c
}

/// The finished run of a one-shot command.
pub(crate) struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `missive <args>` to completion (at most 30 s).
pub(crate) async fn run_cmd(env: &[(String, String)], args: &[&str]) -> Run {
    let mut c = tokio::process::Command::from(command(env, args));
    c.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), c.output())
        .await
        .unwrap_or_else(|_| panic!("`missive {}` did not finish within 30 s", args.join(" ")))
        .unwrap();
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Starts `missive <args>` with `env`, listening on `port`. `label` names
/// its output files (unique per start within a test).
pub(crate) fn spawn_child(
    db: &TestDb,
    env: &[(String, String)],
    port: u16,
    args: &[&str],
    label: &str,
) -> ChildGuard {
    spawn_command(db, command(env, args), port, label)
}

/// Starts `cmd` (a `missive` child, maybe under a shell) listening on
/// `port`, its output in the test's temp dir.
pub(crate) fn spawn_command(db: &TestDb, cmd: Command, port: u16, label: &str) -> ChildGuard {
    ChildGuard::spawn(cmd, db.dir.path(), port, label).expect("the missive binary starts")
}

/// `missive serve` on a fresh port with the standard test env plus `extra`,
/// waited for until /readyz answers 200.
pub(crate) async fn start_serve(db: &TestDb, extra: &[(&str, &str)], label: &str) -> ChildGuard {
    let port = free_port();
    let mut env = child_env(db, port);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut child = spawn_child(db, &env, port, &["serve"], label);
    child.wait_ready(Duration::from_secs(30)).await;
    child
}

/// Reads `<data_dir>/admin.key`.
pub(crate) fn admin_key(db: &TestDb) -> String {
    std::fs::read_to_string(db.dir.path().join("admin.key"))
        .expect("admin.key exists")
        .trim()
        .to_string()
}

/// The distinct `webhook-id`s a receiver has seen.
fn received_ids(rx: &Receiver) -> HashSet<String> {
    rx.received()
        .iter()
        .map(|r| {
            r.headers
                .get("webhook-id")
                .expect("webhook-id header")
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_flight_loses_nothing() {
    const N: usize = 500;
    each_backend(|b| async move {
        let t0 = Instant::now();
        let db = TestDb::new(&b);
        let rx = Receiver::start_with(vec![], Answer::status(200).delay(Duration::from_millis(20)))
            .await;
        let extra = [("MISSIVE__WORKER__CONCURRENCY", "4")];
        let mut first = start_serve(&db, &extra, "serve-1").await;
        let key = admin_key(&db);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();

        // Accept N notifications, 16 at a time.
        let body = Arc::new(json!({
            "content": {"webhook": {"body": "{\"n\": {{json n}} }"}},
            "to": [{"webhook_url": rx.url}],
        }));
        let url = first.url("/v1/notifications");
        let answers: Vec<Value> = futures::stream::iter(0..N)
            .map(|n| {
                let (client, url, key, body) =
                    (client.clone(), url.clone(), key.clone(), body.clone());
                async move {
                    let mut req = (*body).clone();
                    req["data"] = json!({"n": n});
                    let r = client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&req)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status();
                    let text = r.text().await.unwrap();
                    assert_eq!(status, 202, "notification {n}: {text}");
                    serde_json::from_str::<Value>(&text).unwrap()
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let accepted: HashSet<String> = answers
            .iter()
            .flat_map(|a| a["deliveries"].as_array().unwrap().iter())
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(accepted.len(), N, "{b:?}: one delivery per notification");
        let accepted_at = t0.elapsed();

        // Kill it mid-flight, once some (but not all) have gone out.
        if let Err(n) = poll_until(Duration::from_secs(30), || async {
            (rx.count() >= 20, rx.count())
        })
        .await
        {
            panic!("{b:?}: the receiver saw only {n} requests in 30 s");
        }
        first.kill();
        let before = received_ids(&rx);
        assert!(
            before.len() < N,
            "{b:?}: all {N} were delivered before the kill ({accepted_at:?} to accept); nothing was caught mid-flight"
        );
        assert!(
            before.is_subset(&accepted),
            "{b:?}: the receiver saw ids that were never accepted"
        );
        eprintln!(
            "{b:?}: accepted {N} in {accepted_at:?}; killed with {} delivered",
            before.len()
        );

        // Restart on the same database: everything arrives.
        let mut second = start_serve(&db, &extra, "serve-2").await;
        let got = poll_until(Duration::from_secs(60), || async {
            let ids = received_ids(&rx);
            (ids.len() >= N, ids)
        })
        .await;
        let got = match got {
            Ok(ids) => ids,
            Err(ids) => panic!(
                "{b:?}: after the restart the receiver saw {} of {N} distinct ids in 60 s; missing e.g. {:?}",
                ids.len(),
                accepted.difference(&ids).take(5).collect::<Vec<_>>()
            ),
        };
        let missing: Vec<_> = accepted.difference(&got).take(5).collect();
        let unknown: Vec<_> = got.difference(&accepted).take(5).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "{b:?}: missing {missing:?}, never accepted {unknown:?}"
        );

        // And the log agrees: every accepted delivery ends up sent, including
        // those the dead process had in flight (sent again once their lease
        // ran out).
        let sent = poll_until(Duration::from_secs(20), || async {
            let s = ids_with_status(&client, &second.base, &key, "sent").await;
            (s == accepted, s)
        })
        .await;
        if let Err(s) = sent {
            panic!(
                "{b:?}: {} deliveries listed as sent; not sent e.g. {:?}",
                s.len(),
                accepted.difference(&s).take(5).collect::<Vec<_>>()
            );
        }

        let after = received_ids(&rx);
        assert_eq!(
            after, accepted,
            "{b:?}: repeats must carry accepted webhook-ids only"
        );
        let requests = rx.count();

        second.stop_gracefully(Duration::from_secs(30)).await;
        eprintln!(
            "{b:?}: {requests} requests for {N} deliveries ({} repeats) in {:?}",
            requests - N,
            t0.elapsed()
        );
    })
    .await;
}

/// Every delivery the API lists with `status`, following cursors.
async fn ids_with_status(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    status: &str,
) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/deliveries?status={status}&limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!(
                "&cursor={}",
                url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
            ));
        }
        let r = client.get(&url).bearer_auth(key).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {url}");
        let page: Value = r.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        out.extend(items.iter().map(|d| d["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) if !items.is_empty() => cursor = Some(c.to_string()),
            _ => return out,
        }
    }
}

/// Workers claim the next batch from the queue while the last one is sent.
/// A graceful stop hands what they claimed ahead back to the queue at
/// once (not when its lease ends), and sends nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_hands_back_what_was_claimed_ahead() {
    const N: usize = 30;
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let rx = Receiver::start_with(
            vec![],
            Answer::status(200).delay(Duration::from_millis(150)),
        )
        .await;
        // Two workers, so four are claimed ahead; a lease far longer than
        // the test, so a row not handed back would stay `sending`.
        let extra = [
            ("MISSIVE__WORKER__CONCURRENCY", "2"),
            ("MISSIVE__WORKER__LEASE", "120s"),
        ];
        let mut first = start_serve(&db, &extra, "serve-1").await;
        let key = admin_key(&db);
        let client = reqwest::Client::new();
        // Due in a second: written `scheduled`, so they are claimed from
        // the queue rather than handed over by the accepting write.
        let at = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
        let mut accepted = HashSet::new();
        for n in 0..N {
            let r = client
                .post(first.url("/v1/notifications"))
                .bearer_auth(&key)
                .json(&json!({
                    "content": {"webhook": {"body": "{\"n\": {{json n}} }"}},
                    "to": [{"webhook_url": rx.url}],
                    "data": {"n": n},
                    "send_at": at,
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202, "{b:?}");
            let v: Value = r.json().await.unwrap();
            accepted.insert(v["deliveries"][0]["id"].as_str().unwrap().to_string());
        }
        if let Err(n) = poll_until(Duration::from_secs(20), || async {
            (rx.count() >= 4, rx.count())
        })
        .await
        {
            panic!("{b:?}: the receiver saw only {n} requests in 20 s");
        }
        first.stop_gracefully(Duration::from_secs(20)).await;
        let before = received_ids(&rx);
        assert!(before.len() < N, "{b:?}: all were sent before the stop");

        // Read the log with the API alone (no workers to claim anything).
        let port = free_port();
        let mut env = child_env(&db, port);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut api = spawn_child(&db, &env, port, &["api"], "api");
        api.wait_ready(Duration::from_secs(30)).await;
        let sending = ids_with_status(&client, &api.base, &key, "sending").await;
        assert!(
            sending.is_empty(),
            "{b:?}: {} deliveries still `sending` after a graceful stop",
            sending.len()
        );
        let sent = ids_with_status(&client, &api.base, &key, "sent").await;
        assert_eq!(
            sent, before,
            "{b:?}: what arrived is what the log calls sent"
        );
        let mut waiting = ids_with_status(&client, &api.base, &key, "queued").await;
        waiting.extend(ids_with_status(&client, &api.base, &key, "scheduled").await);
        assert_eq!(
            waiting.len() + sent.len(),
            N,
            "{b:?}: every other delivery waits in the queue"
        );
        api.kill();

        // Started again, it sends the rest at once, each exactly once.
        let mut second = start_serve(&db, &extra, "serve-2").await;
        if let Err(ids) = poll_until(Duration::from_secs(20), || async {
            let ids = received_ids(&rx);
            (ids.len() >= N, ids)
        })
        .await
        {
            panic!(
                "{b:?}: after the restart the receiver saw {} of {N} in 20 s",
                ids.len()
            );
        }
        assert_eq!(received_ids(&rx), accepted, "{b:?}");
        assert_eq!(rx.count(), N, "{b:?}: nothing was sent twice");
        second.stop_gracefully(Duration::from_secs(20)).await;
    })
    .await;
}
