//! What the real binary checks and writes as it starts: unknown settings
//! stop it, secrets given from outside are used and never stored, and its
//! files are for its own user only whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use crate::crash::{admin_key, bin, child_env, run_cmd, spawn_command};
use crate::helpers::*;

/// `missive serve` started by a shell that sets the umask to 022 first,
/// with `env` (and no MISSIVE__* inherited from the test's environment).
fn serve_under_umask_022(env: &[(String, String)]) -> Command {
    let mut c = Command::new("sh");
    for (k, _) in std::env::vars() {
        if k.starts_with("MISSIVE__") {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["-c", "umask 022; exec \"$0\" serve"])
        .arg(bin())
        .stdin(Stdio::null());
    c
}

fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_string(), value.to_string()));
}

/// Every directory and file under `dir` (itself included), with its mode.
fn modes(dir: &Path) -> Vec<(String, bool, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        out.push((
            p.display().to_string(),
            m.is_dir(),
            m.permissions().mode() & 0o777,
        ));
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_is_0700_and_every_file_in_it_0600_under_umask_022() {
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        // A data dir that exists with the modes umask 022 gives.
        let data = db.dir.path().join("state");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = free_port();
        let mut env = child_env(&db, port);
        set(&mut env, "MISSIVE__DATA_DIR", data.to_str().unwrap());
        if matches!(b, Backend::Sqlite) {
            // No URL: the database file goes in the data dir.
            env.retain(|(k, _)| k != "MISSIVE__DATABASE__URL");
        }
        let rx = Receiver::start().await;
        let mut server = spawn_command(&db, serve_under_umask_022(&env), port, "serve");
        server.wait_ready(Duration::from_secs(30)).await;
        let key = std::fs::read_to_string(data.join("admin.key"))
            .expect("admin.key is written")
            .trim()
            .to_string();

        let r = reqwest::Client::new()
            .post(server.url("/v1/notifications"))
            .bearer_auth(&key)
            .json(&json!({
                "content": {
                    "webhook": {"body": "{}"},
                    "email": {"subject": "Hi", "text": "Hi"},
                    "sms": {"text": "Hi"}
                },
                "to": [{"email": "ana@example.com", "phone": "+15005550006", "webhook_url": rx.url}],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{b:?}: {}", r.text().await.unwrap());
        rx.wait_for(1, Duration::from_secs(20)).await;
        let written = |sub: &str| {
            std::fs::read_dir(data.join("outbox").join(sub))
                .map(|d| d.count())
                .unwrap_or(0)
        };
        poll_until(Duration::from_secs(20), || async {
            (written("email") == 1 && written("sms") == 1, ())
        })
        .await
        .unwrap_or_else(|_| panic!("{b:?}: the email and the SMS are written to the outbox"));

        // Looked at while running: the -wal and -shm files exist now.
        let all = modes(&data);
        let names: Vec<&str> = all.iter().map(|(p, _, _)| p.as_str()).collect();
        for expected in ["admin.key", "webhook-signing-secret"] {
            assert!(
                names.iter().any(|n| n.ends_with(expected)),
                "{b:?}: {expected} in {names:?}"
            );
        }
        if matches!(b, Backend::Sqlite) {
            for expected in ["missive.db", "missive.db-wal", "missive.db-shm"] {
                assert!(
                    names.iter().any(|n| n.ends_with(expected)),
                    "{b:?}: {expected} in {names:?}"
                );
            }
        }
        let wide: Vec<_> = all
            .iter()
            .filter(|(_, dir, mode)| *mode != if *dir { 0o700 } else { 0o600 })
            .map(|(p, _, mode)| format!("{p} {mode:o}"))
            .collect();
        assert!(
            wide.is_empty(),
            "{b:?}: dirs must be 0700 and files 0600: {wide:?}"
        );
        server.stop_gracefully(Duration::from_secs(30)).await;
    })
    .await;
}

/// The rows of the `settings` table.
async fn settings(db: &TestDb) -> Vec<String> {
    match &db.backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}/missive.db?mode=ro", db.dir.path().display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query_scalar("SELECT name FROM settings")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
        Backend::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM \"{}\".settings",
                db.schema
            )))
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_from_the_environment_and_files_are_used_and_never_stored() {
    let b64 = &base64::engine::general_purpose::STANDARD;
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let webhook_bytes: [u8; 32] = rand::random();
        let webhook_secret = format!("whsec_{}", b64.encode(webhook_bytes));
        let token_secret = b64.encode(rand::random::<[u8; 32]>());
        let secret_file = db.dir.path().join("token-secret");
        std::fs::write(&secret_file, format!("{token_secret}\n")).unwrap();

        let rx = Receiver::start().await;
        let mut server = crate::crash::start_serve(
            &db,
            &[
                (
                    "MISSIVE__CHANNELS__WEBHOOK__SIGNING_SECRET",
                    webhook_secret.as_str(),
                ),
                (
                    "MISSIVE__INBOX__TOKEN_SECRET_FILE",
                    secret_file.to_str().unwrap(),
                ),
                ("RUST_LOG", "debug,sqlx=warn"),
            ],
            "serve",
        )
        .await;
        let key = admin_key(&db);
        let client = reqwest::Client::new();
        let r = client
            .post(server.url("/v1/notifications"))
            .bearer_auth(&key)
            .json(&json!({"content": {"webhook": {"body": "{\"n\": 1}"}}, "to": [{"webhook_url": rx.url}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let got = rx.wait_for(1, Duration::from_secs(20)).await;
        let h = |name: &str| got[0].headers[name].to_str().unwrap().to_string();
        let expected = missive::channels::webhook::sign(
            &webhook_bytes,
            &h("webhook-id"),
            h("webhook-timestamp").parse().unwrap(),
            &got[0].body,
        );
        assert!(
            h("webhook-signature").split(' ').any(|s| s == expected),
            "{b:?}: signed with the secret from the environment: {} vs {expected}",
            h("webhook-signature")
        );

        let r: Value = client
            .post(server.url("/v1/recipients/u_1/token"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = r["token"].as_str().unwrap_or_else(|| panic!("{r}"));
        let from_file = missive::inbox::token::TokenKey::from_secret(&token_secret).unwrap();
        let claims = missive::inbox::token::verify(&from_file, token, missive::util::now_ms())
            .unwrap_or_else(|e| panic!("{b:?}: token not signed with the file's secret: {e:?}"));
        assert_eq!(claims.recipient, "u_1");

        server.stop_gracefully(Duration::from_secs(30)).await;
        let stored = settings(&db).await;
        assert!(
            !stored.iter().any(|s| s.contains("secret")),
            "{b:?}: no secret is stored when given from outside: {stored:?}"
        );
        assert!(
            !db.dir.path().join("webhook-signing-secret").exists(),
            "{b:?}: nothing generated, nothing written"
        );
        let logs = format!("{}{}", server.stdout(), server.stderr());
        for s in [&webhook_secret, &token_secret] {
            assert!(!logs.contains(s.as_str()), "{b:?}: a secret in the logs");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_file_that_cant_be_read_stops_startup_without_showing_it() {
    let db = TestDb::new(&Backend::Sqlite);
    let mut env = child_env(&db, free_port());
    let bad = db.dir.path().join("bad-secret");
    std::fs::write(&bad, "hunter2-not-base64!\n").unwrap();
    set(
        &mut env,
        "MISSIVE__INBOX__TOKEN_SECRET_FILE",
        bad.to_str().unwrap(),
    );
    let r = run_cmd(&env, &["serve"]).await;
    assert!(!r.status.success(), "{r}");
    assert!(
        r.stderr.contains("inbox.token_secret_file") && !r.stderr.contains("hunter2"),
        "{r}"
    );
    set(
        &mut env,
        "MISSIVE__INBOX__TOKEN_SECRET_FILE",
        "/nonexistent/secret",
    );
    let r = run_cmd(&env, &["serve"]).await;
    assert!(!r.status.success(), "{r}");
    assert!(
        r.stderr.contains("inbox.token_secret_file") && r.stderr.contains("/nonexistent/secret"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_setting_stops_startup_naming_it_and_the_nearest_one() {
    let db = TestDb::new(&Backend::Sqlite);
    let mut env = child_env(&db, free_port());
    set(&mut env, "MISSIVE__CHANNELS__WEBHOOK__ALLOW_PRIVAT", "true");
    let r = run_cmd(&env, &["serve"]).await;
    assert!(!r.status.success(), "a typo must stop start-up: {r}");
    assert!(
        r.stderr.contains(
            "unknown setting `channels.webhook.allow_privat` (from MISSIVE__CHANNELS__WEBHOOK__ALLOW_PRIVAT); did you mean `channels.webhook.allow_private`?"
        ),
        "{r}"
    );

    let env = child_env(&db, free_port());
    let file = db.dir.path().join("config.toml");
    std::fs::write(&file, "[servr]\nbind = \"127.0.0.1:9\"\n").unwrap();
    let r = run_cmd(&env, &["--config", file.to_str().unwrap(), "serve"]).await;
    assert!(!r.status.success(), "a typo must stop start-up: {r}");
    assert!(
        r.stderr.contains(&format!(
            "unknown section `servr` (in {}); did you mean `server`?",
            file.display()
        )),
        "{r}"
    );
    // Every command reads the settings the same way.
    let r = run_cmd(&env, &["--config", file.to_str().unwrap(), "migrate"]).await;
    assert!(!r.status.success() && r.stderr.contains("`servr`"), "{r}");
}
