//! The operators' tools, run as the real binary: log lines (no colour off a
//! terminal, JSON that parses, the delivery's ids on every line about it),
//! `--quiet`, `missive doctor` against local fake servers, `missive
//! backup` while a server takes sends, and systemd's readiness message.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::crash::{admin_key, child_env, run_cmd, spawn_child, start_serve, Run};
use crate::helpers::*;

fn env(db: &TestDb, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut e = child_env(db, free_port());
    e.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    e
}

async fn missive(db: &TestDb, extra: &[(&str, &str)], args: &[&str]) -> Run {
    run_cmd(&env(db, extra), args).await
}

/// `missive doctor --json` with `extra` env: the run and its checks.
async fn doctor(db: &TestDb, extra: &[(&str, &str)]) -> (Run, Vec<Value>) {
    let r = missive(db, extra, &["doctor", "--json"]).await;
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("doctor --json is not JSON ({e}): {r}"));
    let checks = v["checks"].as_array().cloned().unwrap_or_default();
    (r, checks)
}

/// The check named `name`.
fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {checks:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_are_plain_and_carry_the_delivery_ids() {
    each_backend(|b| async move {
        for format in ["text", "json"] {
            let db = TestDb::new(&b);
            // Every attempt fails, so each is logged (at info).
            let rx = Receiver::start_with(vec![], Answer::status(500)).await;
            let extra = [
                ("RUST_LOG", "info,sqlx=warn,missive=debug"),
                ("MISSIVE__LOG__FORMAT", format),
                ("MISSIVE__RECEIPTS__POSTMARK_SECRET", "pm-log-secret"),
            ];
            let mut server = start_serve(&db, &extra, &format!("serve-{format}")).await;
            let key = admin_key(&db);
            let answer: Value = reqwest::Client::new()
                .post(server.url("/v1/notifications"))
                .bearer_auth(&key)
                .json(&json!({
                    "content": {"webhook": {"body": "{}"}},
                    "to": [{"webhook_url": rx.url}],
                }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let nid = answer["id"].as_str().unwrap().to_string();
            let did = answer["deliveries"][0]["id"].as_str().unwrap().to_string();
            rx.wait_for(2, Duration::from_secs(20)).await;
            // A provider's receipt for the delivery is logged with its ids
            // too. It may land while the last attempt's outcome is still
            // being written: then it is answered 409 and sent again, as
            // the provider would.
            let receipt = poll_until(Duration::from_secs(10), || async {
                let r = reqwest::Client::new()
                    .post(server.url("/v1/receipts/postmark"))
                    .basic_auth("missive", Some("pm-log-secret"))
                    .json(&json!({"RecordType": "Delivery", "Metadata": {"missive_delivery": did}}))
                    .send()
                    .await
                    .unwrap();
                (r.status() != 409, r.status())
            })
            .await;
            match receipt {
                Ok(s) => assert!(s.is_success(), "{s}"),
                Err(s) => panic!("the receipt was answered {s} for 10 s"),
            }
            server.stop_gracefully(Duration::from_secs(30)).await;
            let err = server.stderr();
            assert!(
                !err.contains("\x1b["),
                "{b:?} {format}: colour codes in a log file:\n{err}"
            );
            assert!(
                !err.contains(&key),
                "{b:?} {format}: the admin key was logged"
            );
            assert!(
                err.contains("missive is listening"),
                "{b:?} {format}: {err}"
            );
            let failed: Vec<&str> = err
                .lines()
                .filter(|l| l.contains("attempt failed"))
                .collect();
            assert!(
                !failed.is_empty(),
                "{b:?} {format}: no `attempt failed` line:\n{err}"
            );
            let receipt: Vec<&str> = err
                .lines()
                .filter(|l| l.contains("postmark") && l.contains("Delivery"))
                .collect();
            assert_eq!(receipt.len(), 1, "{b:?} {format}: one receipt line:\n{err}");
            for l in failed.iter().chain(&receipt) {
                assert!(
                    l.contains(&did) && l.contains(&nid),
                    "{b:?} {format}: a line without the ids: {l}"
                );
            }
            match format {
                "text" => {
                    for l in &failed {
                        assert!(
                            l.contains(&format!("delivery_id={did}"))
                                && l.contains(&format!("notification_id={nid}")),
                            "{b:?}: {l}"
                        );
                    }
                }
                _ => {
                    for l in err.lines().filter(|l| !l.trim().is_empty()) {
                        let v: Value = serde_json::from_str(l)
                            .unwrap_or_else(|e| panic!("{b:?}: not a JSON line ({e}): {l}"));
                        assert!(v["timestamp"].is_string(), "{l}");
                        assert!(v["level"].is_string(), "{l}");
                        assert!(v["message"].is_string(), "{l}");
                    }
                    for l in &failed {
                        let v: Value = serde_json::from_str(l).unwrap();
                        assert_eq!(v["level"], "INFO", "{l}");
                        assert_eq!(v["span"]["delivery_id"], did.as_str(), "{l}");
                        assert_eq!(v["span"]["notification_id"], nid.as_str(), "{l}");
                        assert_eq!(v["span"]["channel"], "webhook", "{l}");
                        assert_eq!(v["outcome"], "transient", "{l}");
                    }
                }
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_log_format_names_the_key() {
    let db = TestDb::new(&Backend::Sqlite);
    let r = missive(&db, &[("MISSIVE__LOG__FORMAT", "xml")], &["migrate"]).await;
    assert!(!r.status.success(), "{r}");
    assert!(r.stderr.contains("log.format"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_leaves_out_informational_output_only() {
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        // (A data dir others can read would be warned about, rightly.)
        std::fs::set_permissions(db.dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let r = missive(&db, &[("RUST_LOG", "info")], &["--quiet", "migrate"]).await;
        assert!(r.status.success(), "{b:?}: {r}");
        assert_eq!(r.stdout, "", "{b:?}: {r}");
        assert_eq!(r.stderr, "", "{b:?}: info lines must be left out: {r}");
        let r = missive(&db, &[], &["migrate"]).await;
        assert!(r.stdout.contains("up to date"), "{b:?}: {r}");

        // What a script asked for is still printed.
        let r = missive(
            &db,
            &[],
            &["-q", "keys", "create", "--name", "ci", "--scopes", "read"],
        )
        .await;
        assert!(r.status.success(), "{r}");
        assert!(r.stdout.contains("msv_"), "{b:?}: {r}");

        // Errors still go to stderr, with the same exit code.
        let r = missive(&db, &[], &["--quiet", "keys", "revoke", "no-such-key"]).await;
        assert_eq!(r.status.code(), Some(1), "{b:?}: {r}");
        assert!(r.stderr.contains("no-such-key"), "{b:?}: {r}");
        assert_eq!(r.stdout, "", "{r}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_an_unmigrated_or_unreachable_database() {
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let (r, checks) = doctor(&db, &[]).await;
        assert_eq!(r.status.code(), Some(1), "{b:?}: {r}");
        let failed = checks.iter().any(|c| {
            c["status"] == "fail" && (c["name"] == "database" || c["name"] == "database.migrations")
        });
        assert!(
            failed,
            "{b:?}: an unmigrated database must fail: {checks:#?}"
        );
        if matches!(b, Backend::Sqlite) {
            assert!(
                !db.dir.path().join("missive.db").exists(),
                "the doctor must not create the database"
            );
        }

        let r = missive(&db, &[], &["migrate"]).await;
        assert!(r.status.success(), "{r}");
        let (r, checks) = doctor(&db, &[]).await;
        assert!(r.status.success(), "{b:?}: {r}");
        for name in [
            "config",
            "database",
            "database.migrations",
            "database.writable",
            "data_dir",
            "clock",
        ] {
            assert_eq!(
                check(&checks, name)["status"],
                "ok",
                "{b:?}: {name}: {checks:#?}"
            );
        }
        if let Backend::Postgres(_) = b {
            let c = check(&checks, "clock.database");
            assert_eq!(c["status"], "ok", "{c}");
            assert!(c["detail"].as_str().unwrap().contains("PostgreSQL"), "{c}");
        } else {
            // Its status depends on this machine's disk; it is there.
            let c = check(&checks, "disk.data_dir");
            assert!(c["detail"].as_str().unwrap().contains("free of"), "{c}");
        }
        // Text output: one line per check, and the summary.
        let r = missive(&db, &[], &["doctor"]).await;
        assert!(r.status.success(), "{r}");
        assert!(r.stdout.contains("ok    database.migrations"), "{r}");
        assert!(r.stdout.contains(" failed"), "{r}");

        let unreachable = match &b {
            Backend::Sqlite => format!("sqlite://{}/nowhere/missive.db", db.dir.path().display()),
            Backend::Postgres(_) => format!("postgres://postgres@127.0.0.1:{}/test", free_port()),
        };
        let (r, checks) = doctor(&db, &[("MISSIVE__DATABASE__URL", &unreachable)]).await;
        assert_eq!(r.status.code(), Some(1), "{b:?}: {r}");
        let c = check(&checks, "database");
        assert_eq!(c["status"], "fail", "{b:?}: {c}");
        assert!(c["fix"].is_string(), "{c}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_smtp_up_to_auth_without_sending() {
    let db = TestDb::new(&Backend::Sqlite);
    missive(&db, &[], &["migrate"]).await;
    let smtp = SmtpServer::accepting().await;
    smtp.require_credentials("missive", "right-pw");
    let port = smtp.port.to_string();
    let with = |password: &'static str| {
        vec![
            ("MISSIVE__CHANNELS__EMAIL__PROVIDERS", "smtp".to_string()),
            ("MISSIVE__CHANNELS__EMAIL__SMTP__HOST", "127.0.0.1".into()),
            ("MISSIVE__CHANNELS__EMAIL__SMTP__PORT", port.clone()),
            ("MISSIVE__CHANNELS__EMAIL__SMTP__TLS", "none".into()),
            ("MISSIVE__CHANNELS__EMAIL__SMTP__USERNAME", "missive".into()),
            ("MISSIVE__CHANNELS__EMAIL__SMTP__PASSWORD", password.into()),
        ]
    };
    let wrong = with("wrong-pw");
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, checks) = doctor(&db, &wrong).await;
    assert_eq!(r.status.code(), Some(1), "{r}");
    let c = check(&checks, "channels.email.smtp");
    assert_eq!(c["status"], "fail", "{c}");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("AUTH") && detail.contains("535"), "{c}");
    assert!(
        !r.stdout.contains("wrong-pw") && !r.stderr.contains("wrong-pw"),
        "the password must never be printed: {r}"
    );

    let right = with("right-pw");
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, checks) = doctor(&db, &right).await;
    let c = check(&checks, "channels.email.smtp");
    assert_eq!(c["status"], "ok", "{c} {r}");
    assert!(c["detail"].as_str().unwrap().contains("AUTH"), "{c}");
    assert!(r.status.success(), "{r}");
    assert_eq!(
        smtp.credentials(),
        vec![("missive".to_string(), "right-pw".to_string())]
    );
    let commands = smtp.commands();
    assert!(
        !commands
            .iter()
            .any(|c| c.starts_with("MAIL") || c.starts_with("RCPT") || c.starts_with("DATA")),
        "the doctor must send nothing: {commands:?}"
    );
    assert_eq!(smtp.count(), 0);
}

/// A stand-in for Twilio's API that answers the account resource: 200 for
/// the right credentials, 401 otherwise. Keeps each request's method and
/// path.
async fn fake_twilio(sid: &'static str, token: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use base64::Engine as _;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(format!("{method} {}", uri.path()));
            let want = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"))
            );
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if method != Method::GET || uri.path() != format!("/2010-04-01/Accounts/{sid}.json") {
                return (StatusCode::NOT_FOUND, "{}".to_string());
            }
            if auth != want {
                return (
                    StatusCode::UNAUTHORIZED,
                    json!({"code": 20003, "message": "Authenticate", "status": 401}).to_string(),
                );
            }
            (
                StatusCode::OK,
                json!({"sid": sid, "status": "active", "friendly_name": "test"}).to_string(),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_twilio_credentials_with_a_read_only_call() {
    const SID: &str = "AC0123456789abcdef";
    let db = TestDb::new(&Backend::Sqlite);
    missive(&db, &[], &["migrate"]).await;
    let (base, seen) = fake_twilio(SID, "good-token").await;
    let with = |token: &'static str| {
        vec![
            ("MISSIVE__CHANNELS__SMS__PROVIDERS", "twilio".to_string()),
            ("MISSIVE__CHANNELS__SMS__TWILIO__ACCOUNT_SID", SID.into()),
            ("MISSIVE__CHANNELS__SMS__TWILIO__AUTH_TOKEN", token.into()),
            (
                "MISSIVE__CHANNELS__SMS__TWILIO__MESSAGING_SERVICE_SID",
                "MG0123456789abcdef".into(),
            ),
            ("MISSIVE__CHANNELS__SMS__TWILIO__BASE_URL", base.clone()),
            (
                "MISSIVE__CHANNELS__SMS__TWILIO__ALLOW_PRIVATE",
                "true".into(),
            ),
        ]
    };
    let bad = with("bad-token");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, checks) = doctor(&db, &bad).await;
    assert_eq!(r.status.code(), Some(1), "{r}");
    let c = check(&checks, "channels.sms.twilio");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("401"), "{c}");
    assert!(!r.stdout.contains("bad-token"), "{r}");

    let good = with("good-token");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, checks) = doctor(&db, &good).await;
    assert!(r.status.success(), "{r}");
    assert_eq!(check(&checks, "channels.sms.twilio")["status"], "ok");
    let seen = seen.lock().unwrap().clone();
    let path = format!("GET /2010-04-01/Accounts/{SID}.json");
    assert_eq!(seen, vec![path.clone(), path], "only the account is read");

    // Without allow_private, a loopback base_url is refused, not called.
    let mut guarded = with("good-token");
    guarded.pop();
    let guarded: Vec<(&str, &str)> = guarded.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, checks) = doctor(&db, &guarded).await;
    assert_eq!(r.status.code(), Some(1), "{r}");
    assert_eq!(check(&checks, "channels.sms.twilio")["status"], "fail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_files_other_users_can_read() {
    let db = TestDb::new(&Backend::Sqlite);
    missive(&db, &[], &["migrate"]).await;
    let (r, _) = doctor(&db, &[]).await;
    assert!(r.status.success(), "{r}");
    let loose = db.dir.path().join("notes.txt");
    std::fs::write(&loose, "x").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (r, checks) = doctor(&db, &[]).await;
    assert_eq!(r.status.code(), Some(1), "{r}");
    let c = check(&checks, "data_dir.files");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["detail"].as_str().unwrap().contains("notes.txt (644)"),
        "{c}"
    );
    assert!(c["fix"].as_str().unwrap().contains("chmod"), "{c}");

    std::fs::set_permissions(db.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (_, checks) = doctor(&db, &[]).await;
    let c = check(&checks, "data_dir");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("755"), "{c}");

    // A configuration that does not parse: the doctor says so, naming it.
    let (r, checks) = doctor(&db, &[("MISSIVE__WORKER__CONCURRENCY", "0")]).await;
    assert_eq!(r.status.code(), Some(1), "{r}");
    let c = check(&checks, "config");
    assert_eq!(c["status"], "fail");
    assert!(
        c["detail"].as_str().unwrap().contains("worker.concurrency"),
        "{c}"
    );
}

/// Posts notifications to `url` until `stop`; the ids of those accepted.
async fn keep_sending(
    url: String,
    key: String,
    rx: String,
    stop: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<String>>>,
) {
    let client = reqwest::Client::new();
    while !stop.load(Ordering::Relaxed) {
        let r = client
            .post(&url)
            .bearer_auth(&key)
            .json(&json!({
                "content": {"webhook": {"body": "{}"}},
                "to": [{"webhook_url": rx}],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        accepted
            .lock()
            .unwrap()
            .push(v["id"].as_str().unwrap().to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_is_consistent_and_restores() {
    use sqlx::Connection;
    let db = TestDb::new(&Backend::Sqlite);
    let rx = Receiver::start().await;
    let mut server = start_serve(&db, &[], "serve-1").await;
    let key = admin_key(&db);
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let senders: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(keep_sending(
                server.url("/v1/notifications"),
                key.clone(),
                rx.url.clone(),
                stop.clone(),
                accepted.clone(),
            ))
        })
        .collect();
    poll_until(Duration::from_secs(20), || async {
        (accepted.lock().unwrap().len() >= 50, ())
    })
    .await
    .expect("sends are accepted");

    let backups = tempfile::tempdir().unwrap();
    let copy = backups.path().join("missive-backup.db");
    let before: Vec<String> = accepted.lock().unwrap().clone();
    let r = missive(&db, &[], &["backup", copy.to_str().unwrap()]).await;
    assert!(r.status.success(), "{r}");
    assert!(r.stdout.contains("backed up"), "{r}");
    let during = accepted.lock().unwrap().len();
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    assert!(
        accepted.lock().unwrap().len() > before.len(),
        "sends went on during the backup"
    );
    assert!(during >= before.len());
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy is {mode:o}");
    let leftovers: Vec<_> = std::fs::read_dir(backups.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        vec!["missive-backup.db"],
        "no temporary file left"
    );

    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", copy.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let ids: HashSet<String> = sqlx::query_scalar::<_, String>("SELECT id FROM notifications")
        .fetch_all(&mut c)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let missing: Vec<&String> = before.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} notifications accepted before the backup are not in it",
        missing.len()
    );
    let deliveries: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(
        deliveries as usize,
        ids.len(),
        "one delivery per notification"
    );
    c.close().await.unwrap();

    // An existing file is kept unless --force.
    let first = backups.path().join("first.db");
    std::fs::copy(&copy, &first).unwrap();
    let r = missive(&db, &[], &["backup", copy.to_str().unwrap()]).await;
    assert_eq!(r.status.code(), Some(1), "{r}");
    assert!(r.stderr.contains("--force"), "{r}");
    let r = missive(
        &db,
        &[],
        &["--quiet", "backup", "--force", copy.to_str().unwrap()],
    )
    .await;
    assert!(r.status.success(), "{r}");
    assert_eq!(r.stdout, "");

    // Restore the first copy: stop, replace the database (dropping its
    // -wal and -shm), start again.
    server.stop_gracefully(Duration::from_secs(30)).await;
    let all: Vec<String> = accepted.lock().unwrap().clone();
    let file = db.dir.path().join("missive.db");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(db.dir.path().join(format!("missive.db{suffix}")));
    }
    std::fs::copy(&first, &file).unwrap();
    let mut server = start_serve(&db, &[], "serve-2").await;
    let client = reqwest::Client::new();
    let status = |id: &str| {
        let r = client
            .get(server.url(&format!("/v1/notifications/{id}")))
            .bearer_auth(&key)
            .send();
        async move { r.await.unwrap().status().as_u16() }
    };
    assert_eq!(status(&before[0]).await, 200, "in the restored copy");
    if let Some(later) = all.iter().find(|id| !ids.contains(*id)) {
        assert_eq!(status(later).await, 404, "accepted after the copy was made");
    }
    server.stop_gracefully(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_on_postgres_points_to_pg_dump() {
    for b in backends() {
        if matches!(b, Backend::Sqlite) {
            continue;
        }
        let db = TestDb::new(&b);
        let r = missive(&db, &[], &["backup", "/tmp/never-written.db"]).await;
        assert_eq!(r.status.code(), Some(1), "{r}");
        assert!(r.stderr.contains("pg_dump"), "{r}");
        assert!(!std::path::Path::new("/tmp/never-written.db").exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_tells_systemd_it_is_ready() {
    use std::os::unix::net::UnixDatagram;
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let sock_path = db.dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&sock_path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let port = free_port();
        let mut e = child_env(&db, port);
        e.push(("NOTIFY_SOCKET".into(), sock_path.display().to_string()));
        let mut child = spawn_child(&db, &e, port, &["serve"], "serve-notify");
        let got = tokio::task::spawn_blocking(move || {
            let mut buf = [0u8; 256];
            let n = sock.recv(&mut buf).expect("READY=1 within 30 s");
            let first = String::from_utf8_lossy(&buf[..n]).into_owned();
            (first, sock)
        })
        .await
        .unwrap();
        assert_eq!(got.0, "READY=1", "{b:?}");
        // Ready means serving: /readyz answers at once.
        let r = reqwest::get(child.url("/readyz")).await.unwrap();
        assert_eq!(r.status(), 200, "{b:?}");
        child.sigterm();
        let sock = got.1;
        let stopping = tokio::task::spawn_blocking(move || {
            let mut buf = [0u8; 256];
            let n = sock.recv(&mut buf).expect("STOPPING=1");
            String::from_utf8_lossy(&buf[..n]).into_owned()
        })
        .await
        .unwrap();
        assert_eq!(stopping, "STOPPING=1", "{b:?}");
        assert!(child.wait_exit(Duration::from_secs(30)).await.is_some());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_database_is_left_unopened() {
    // Only root can give a file away.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let db = TestDb::new(&Backend::Sqlite);
    missive(&db, &[], &["migrate"]).await;
    for suffix in ["", "-wal", "-shm"] {
        let p = db.dir.path().join(format!("missive.db{suffix}"));
        if p.exists() {
            std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
        }
    }
    let (r, checks) = doctor(&db, &[]).await;
    assert_eq!(r.status.code(), Some(1), "{r}");
    let c = check(&checks, "database");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("uid 65534"), "{c}");
    let out = db.dir.path().join("copy.db");
    let r = missive(&db, &[], &["backup", out.to_str().unwrap()]).await;
    assert_eq!(r.status.code(), Some(1), "{r}");
    assert!(r.stderr.contains("uid 65534"), "{r}");
    assert!(!out.exists());
    for suffix in ["-wal", "-shm"] {
        let p = db.dir.path().join(format!("missive.db{suffix}"));
        if let Ok(m) = std::fs::metadata(&p) {
            use std::os::unix::fs::MetadataExt;
            assert_ne!(m.uid(), 0, "{} was made by root", p.display());
        }
    }
}

/// A stand-in for Slack's Web API and Telegram's Bot API answering only
/// their read-only identity calls: right tokens are accepted, others not.
/// Keeps each request's method and path (Telegram's holds the token).
async fn fake_chat_apis() -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(format!("{method} {}", uri.path()));
            let bearer = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            match (method.as_str(), uri.path()) {
                ("POST", "/api/auth.test") if bearer == "Bearer xoxb-good" => (
                    StatusCode::OK,
                    json!({"ok": true, "team": "Example", "user": "missive"}).to_string(),
                ),
                ("POST", "/api/auth.test") => (
                    StatusCode::OK,
                    json!({"ok": false, "error": "invalid_auth"}).to_string(),
                ),
                ("GET", "/bot123:good/getMe") => (
                    StatusCode::OK,
                    json!({"ok": true, "result": {"username": "missive_bot"}}).to_string(),
                ),
                ("GET", p) if p.ends_with("/getMe") => (
                    StatusCode::UNAUTHORIZED,
                    json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
                        .to_string(),
                ),
                _ => (StatusCode::NOT_FOUND, "{}".to_string()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_chat_bot_tokens_without_posting() {
    let db = TestDb::new(&Backend::Sqlite);
    missive(&db, &[], &["migrate"]).await;
    let (base, seen) = fake_chat_apis().await;
    let with = |slack: &str, telegram: &str| {
        vec![
            (
                "MISSIVE__CHANNELS__CHAT__PROVIDERS",
                "slack,telegram,wecom".to_string(),
            ),
            ("MISSIVE__CHANNELS__CHAT__SLACK__TOKEN", slack.to_string()),
            ("MISSIVE__CHANNELS__CHAT__SLACK__BASE_URL", base.clone()),
            (
                "MISSIVE__CHANNELS__CHAT__SLACK__ALLOW_PRIVATE",
                "true".into(),
            ),
            (
                "MISSIVE__CHANNELS__CHAT__TELEGRAM__TOKEN",
                telegram.to_string(),
            ),
            ("MISSIVE__CHANNELS__CHAT__TELEGRAM__BASE_URL", base.clone()),
            (
                "MISSIVE__CHANNELS__CHAT__TELEGRAM__ALLOW_PRIVATE",
                "true".into(),
            ),
            (
                "MISSIVE__CHANNELS__CHAT__WECOM__URL",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k".into(),
            ),
        ]
    };
    let bad = with("xoxb-bad", "123:bad");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, checks) = doctor(&db, &bad).await;
    assert_eq!(r.status.code(), Some(1), "{r}");
    let c = check(&checks, "channels.chat.slack");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["detail"].as_str().unwrap().contains("invalid_auth"),
        "{c}"
    );
    let c = check(&checks, "channels.chat.telegram");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("401"), "{c}");
    assert!(
        !r.stdout.contains("123:bad") && !r.stdout.contains("xoxb-bad"),
        "no token in the output: {r}"
    );
    // A robot's webhook is not called: its settings are checked only.
    assert_eq!(check(&checks, "channels.chat.wecom")["status"], "ok");

    let good = with("xoxb-good", "123:good");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, checks) = doctor(&db, &good).await;
    assert!(r.status.success(), "{r}");
    assert!(check(&checks, "channels.chat.telegram")["detail"]
        .as_str()
        .unwrap()
        .contains("@missive_bot"));
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .all(|s| s == "POST /api/auth.test" || s.ends_with("/getMe")),
        "only identity calls: {seen:?}"
    );
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reads_the_push_providers_key_files() {
    use base64::Engine as _;
    use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let db = TestDb::new(&Backend::Sqlite);
    missive(&db, &[], &["migrate"]).await;
    let keys = tempfile::tempdir().unwrap();
    let der = EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let p8 = keys.path().join("AuthKey_ABC123DEFG.p8");
    std::fs::write(
        &p8,
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        ),
    )
    .unwrap();
    let bad = keys.path().join("bad.p8");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW5vdC1hLWtleQ==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let missing = keys.path().join("service-account.json");
    let with = |key_file: &std::path::Path| {
        vec![
            ("MISSIVE__CHANNELS__PUSH__PROVIDERS", "apns,fcm".to_string()),
            (
                "MISSIVE__CHANNELS__PUSH__APNS__KEY_FILE",
                key_file.display().to_string(),
            ),
            ("MISSIVE__CHANNELS__PUSH__APNS__KEY_ID", "ABC123DEFG".into()),
            (
                "MISSIVE__CHANNELS__PUSH__APNS__TEAM_ID",
                "TEAM123456".into(),
            ),
            (
                "MISSIVE__CHANNELS__PUSH__APNS__TOPIC",
                "com.example.app".into(),
            ),
            (
                "MISSIVE__CHANNELS__PUSH__FCM__CREDENTIALS_FILE",
                missing.display().to_string(),
            ),
        ]
    };
    let good = with(&p8);
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, checks) = doctor(&db, &good).await;
    assert_eq!(r.status.code(), Some(1), "{r}");
    assert_eq!(
        check(&checks, "channels.push.apns")["status"],
        "ok",
        "{checks:#?}"
    );
    let c = check(&checks, "channels.push.fcm");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(
        c["detail"].as_str().unwrap().contains("credentials_file"),
        "{c}"
    );

    let broken = with(&bad);
    let broken: Vec<(&str, &str)> = broken.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, checks) = doctor(&db, &broken).await;
    let c = check(&checks, "channels.push.apns");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("key_file"), "{c}");
    assert!(
        !r.stdout.contains("c2VjcmV0"),
        "the key is never shown: {r}"
    );
}
