//! The `missive` command line, run as the real binary against each backend.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::crash::{admin_key, child_env, run_cmd, start_serve, Run};
use crate::helpers::*;

/// Env for one-shot commands on this database (the bind is never used).
fn env(db: &TestDb) -> Vec<(String, String)> {
    child_env(db, free_port())
}

async fn missive(db: &TestDb, args: &[&str]) -> Run {
    run_cmd(&env(db), args).await
}

/// Runs a command that must succeed; returns its stdout.
async fn missive_ok(db: &TestDb, args: &[&str]) -> String {
    let r = missive(db, args).await;
    assert!(
        r.status.success(),
        "`missive {}` failed: {r}",
        args.join(" ")
    );
    r.stdout
}

async fn get_status(server: &ChildGuard, path: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The value after `label` on the line starting with it (`key:    msv_...`).
fn field(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{out}"))
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_create_list_revoke() {
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let out = missive_ok(&db, &["migrate"]).await;
        assert!(out.contains("up to date"), "{out}");

        let out = missive_ok(
            &db,
            &["keys", "create", "--name", "ci", "--scopes", "send,read"],
        )
        .await;
        let key = field(&out, "key:");
        let id = field(&out, "id:");
        assert!(key.starts_with("msv_") && key.len() > 20, "{b:?}: {out}");
        assert!(!id.is_empty());

        let list = missive_ok(&db, &["keys", "list"]).await;
        let row = list
            .lines()
            .find(|l| l.contains(&id))
            .unwrap_or_else(|| panic!("{b:?}: key {id} not listed:\n{list}"));
        assert!(row.contains("ci"), "{row}");
        assert!(row.contains("send,read"), "{row}");
        assert!(
            row.contains(&key[..12]),
            "the prefix {} must be listed: {row}",
            &key[..12]
        );
        assert!(
            !list.contains(&key),
            "{b:?}: `keys list` must never show the key:\n{list}"
        );

        let out = missive_ok(&db, &["keys", "revoke", &id]).await;
        assert!(out.contains(&id), "{out}");
        let out = missive_ok(
            &db,
            &["keys", "create", "--name", "reader", "--scopes", "read"],
        )
        .await;
        let fresh = field(&out, "key:");

        let r = missive(
            &db,
            &["keys", "create", "--name", "bad", "--scopes", "root"],
        )
        .await;
        assert!(
            !r.status.success(),
            "{b:?}: scope `root` must be refused: {r}"
        );
        assert!(
            r.stderr.contains("root"),
            "{b:?}: the message must name the bad scope: {r}"
        );

        let mut server = start_serve(&db, &[], "serve").await;
        assert_eq!(
            get_status(&server, "/v1/deliveries", &key).await,
            401,
            "{b:?}: revoked key"
        );
        assert_eq!(
            get_status(&server, "/v1/deliveries", &fresh).await,
            200,
            "{b:?}: fresh read key"
        );
        server.stop_gracefully(Duration::from_secs(30)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_writes_admin_key_0600_and_prints_it_once() {
    use std::os::unix::fs::PermissionsExt;
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let path = db.dir.path().join("admin.key");
        let mut server = start_serve(&db, &[], "serve-1").await;
        let mode = std::fs::metadata(&path)
            .expect("admin.key is written")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "{b:?}: admin.key mode is {:o}",
            mode & 0o777
        );
        let file = std::fs::read_to_string(&path).unwrap();
        let key = admin_key(&db);
        assert!(key.starts_with("msv_"), "{b:?}: {file:?}");
        assert_eq!(
            get_status(&server, "/v1/deliveries", &key).await,
            200,
            "{b:?}: the admin key works"
        );
        let out = server.stdout();
        assert_eq!(
            out.matches(&key).count(),
            1,
            "{b:?}: the key is printed once:\n{out}"
        );
        server.stop_gracefully(Duration::from_secs(30)).await;

        let mut server = start_serve(&db, &[], "serve-2").await;
        let out = server.stdout();
        assert!(
            !out.contains("msv_"),
            "{b:?}: a second start prints no key:\n{out}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            file,
            "{b:?}: admin.key is unchanged"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            get_status(&server, "/v1/deliveries", &key).await,
            200,
            "{b:?}: the key still works"
        );
        server.stop_gracefully(Duration::from_secs(30)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_value_stops_startup_naming_the_key() {
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        for (var, value, key) in [
            ("MISSIVE__SERVER__BIND", "nonsense", "server.bind"),
            (
                "MISSIVE__CHANNELS__WEBHOOK__TIMEOUT",
                "soon",
                "channels.webhook.timeout",
            ),
            ("MISSIVE__WORKER__CONCURRENCY", "0", "worker.concurrency"),
        ] {
            let mut e = env(&db);
            e.push((var.to_string(), value.to_string()));
            let t0 = Instant::now();
            let r = run_cmd(&e, &["serve"]).await;
            let took = t0.elapsed();
            assert!(
                !r.status.success(),
                "{b:?}: {var}={value} must stop startup: {r}"
            );
            assert!(
                took < Duration::from_secs(10),
                "{b:?}: {var}={value}: took {took:?} to fail"
            );
            assert!(
                r.stderr.contains(key),
                "{b:?}: {var}={value}: stderr must name `{key}`: {r}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_subcommand_enqueues_and_delivers() {
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let rx = Receiver::start().await;
        let mut server = start_serve(&db, &[], "serve").await;
        let content = r#"{"webhook":{"body":"{\"n\": {{json n}} }"}}"#;

        let out = missive_ok(
            &db,
            &[
                "send",
                "--content",
                content,
                "--to-webhook",
                &rx.url,
                "--data",
                r#"{"n": 7}"#,
            ],
        )
        .await;
        let answer: Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("{b:?}: not JSON ({e}): {out}"));
        let id = answer["deliveries"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{b:?}: {answer}"))
            .to_string();
        assert!(answer["id"].is_string(), "{answer}");
        assert_eq!(answer["deliveries"][0]["channel"], "webhook", "{answer}");

        let got = rx.wait_for(1, Duration::from_secs(10)).await;
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(body["n"], 7, "{b:?}: {}", got[0].body);
        assert_eq!(got[0].headers["webhook-id"], id.as_str());

        let r = missive(
            &db,
            &[
                "send",
                "--content",
                content,
                "--to-webhook",
                &rx.url,
                "--data",
                "{}",
            ],
        )
        .await;
        assert!(!r.status.success(), "{b:?}: missing data.n must fail: {r}");
        assert!(
            r.stderr.contains("data.n") || r.stdout.contains("data.n"),
            "{b:?}: must name data.n: {r}"
        );

        server.stop_gracefully(Duration::from_secs(30)).await;
        assert_eq!(rx.count(), 1, "{b:?}: the refused send delivered nothing");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_import_makes_versions_only_on_change() {
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let tpl = db.dir.path().join("tpl");
        let dir = tpl.join("order-shipped");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("webhook.body.hbs"),
            "{\"order\": {{json order_id}} }\n",
        )
        .unwrap();
        std::fs::write(dir.join("sms.text.hbs"), "Order {{order_id}} shipped\n").unwrap();
        std::fs::write(dir.join("sms.text.zh-CN.hbs"), "订单 {{order_id}} 已发货\n").unwrap();
        let tpl_arg = tpl.to_str().unwrap();

        let out = missive_ok(&db, &["templates", "import", tpl_arg]).await;
        assert!(
            out.contains("order-shipped: version 1 (new)"),
            "{b:?}: {out}"
        );
        let out = missive_ok(&db, &["templates", "import", tpl_arg]).await;
        assert!(
            out.contains("order-shipped: version 1 (unchanged)"),
            "{b:?}: {out}"
        );
        std::fs::write(
            dir.join("sms.text.hbs"),
            "Your order {{order_id}} has shipped\n",
        )
        .unwrap();
        let out = missive_ok(&db, &["templates", "import", tpl_arg]).await;
        assert!(
            out.contains("order-shipped: version 2 (new)"),
            "{b:?}: {out}"
        );

        let mut server = start_serve(&db, &[], "serve").await;
        let key = admin_key(&db);
        let show = || async {
            let r = reqwest::Client::new()
                .get(server.url("/v1/templates/order-shipped"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        };
        let t = show().await;
        assert_eq!(t["version"], 2, "{b:?}: {t:#}");
        assert_eq!(
            t["channels"]["sms"]["text"], "Your order {{order_id}} has shipped",
            "{t:#}"
        );
        assert_eq!(
            t["channels"]["webhook"]["body"], "{\"order\": {{json order_id}} }",
            "{t:#}"
        );
        assert_eq!(
            t["locales"]["zh-CN"]["sms"]["text"], "订单 {{order_id}} 已发货",
            "{b:?}: {t:#}"
        );

        // A part that does not compile: refused, naming it; nothing changes.
        std::fs::write(dir.join("sms.text.hbs"), "{{#if x}}Order {{order_id}}\n").unwrap();
        let r = missive(&db, &["templates", "import", tpl_arg]).await;
        assert!(
            !r.status.success(),
            "{b:?}: an unclosed {{{{#if}}}} must fail: {r}"
        );
        assert!(
            r.stderr.contains("sms.text"),
            "{b:?}: the error must name the part: {r}"
        );
        assert_eq!(
            show().await["version"],
            2,
            "{b:?}: a failed import makes no version"
        );
        server.stop_gracefully(Duration::from_secs(30)).await;
    })
    .await;
}
