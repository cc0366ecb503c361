//! Test harness: `spawn_app()` starts missive in-process on port 0 with its
//! own database (a temp SQLite file, or a fresh PostgreSQL schema). The
//! fakes it is used with (receiver, SMTP server, child guard, the
//! per-backend runner) live in missive-testkit, shared with the benchmark,
//! and are re-exported here so a test needs one `use`.

#![allow(dead_code)]

use std::time::Duration;

use missive::{App, Config, Role};
pub use missive_testkit::{
    backends, each_backend, free_port, poll_until, Answer, Backend, ChildGuard, Received, Receiver,
    SmtpServer,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A database of a test's own: a temp dir (SQLite file inside) or a fresh
/// PostgreSQL schema, dropped when the test ends.
pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    pub schema: String,
}

impl TestDb {
    pub fn new(backend: &Backend) -> TestDb {
        TestDb {
            dir: tempfile::tempdir().unwrap(),
            backend: backend.clone(),
            schema: format!("t_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Config TOML selecting this database, the data dir and a free port.
    pub fn toml(&self) -> String {
        let data = self.dir.path().display();
        match &self.backend {
            Backend::Sqlite => {
                format!("data_dir = \"{data}\"\n[database]\nurl = \"sqlite://{data}/missive.db\"\n")
            }
            Backend::Postgres(url) => {
                format!("data_dir = \"{data}\"\n[database]\nurl = \"{url}\"\nschema = \"{}\"\nmax_connections = 8\n", self.schema)
            }
        }
    }

    /// The same, as environment variables for the real binary.
    pub fn env(&self) -> Vec<(String, String)> {
        let data = self.dir.path().display().to_string();
        let mut v = vec![("MISSIVE__DATA_DIR".to_string(), data.clone())];
        match &self.backend {
            Backend::Sqlite => v.push((
                "MISSIVE__DATABASE__URL".into(),
                format!("sqlite://{data}/missive.db"),
            )),
            Backend::Postgres(url) => {
                v.push(("MISSIVE__DATABASE__URL".into(), url.clone()));
                v.push(("MISSIVE__DATABASE__SCHEMA".into(), self.schema.clone()));
            }
        }
        v
    }
}

impl TestDb {
    /// Makes every write of an attempt row fail (a trigger that refuses
    /// it), so the transaction that records an outcome rolls back.
    pub async fn refuse_attempt_rows(&self) {
        match &self.backend {
            Backend::Sqlite => {
                self.execute(
                    "CREATE TRIGGER refuse_attempts BEFORE INSERT ON delivery_attempts \
                     BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
                )
                .await
            }
            Backend::Postgres(_) => {
                self.execute(
                    "CREATE FUNCTION refuse_attempts() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
                )
                .await;
                self.execute(
                    "CREATE TRIGGER refuse_attempts BEFORE INSERT ON delivery_attempts FOR \
                     EACH ROW EXECUTE FUNCTION refuse_attempts()",
                )
                .await
            }
        }
    }

    /// Undoes [`TestDb::refuse_attempt_rows`].
    pub async fn allow_attempt_rows(&self) {
        self.execute(match &self.backend {
            Backend::Sqlite => "DROP TRIGGER refuse_attempts",
            Backend::Postgres(_) => "DROP TRIGGER refuse_attempts ON delivery_attempts",
        })
        .await;
    }
}

impl TestDb {
    /// Runs one statement on the test's database, as a process that
    /// stopped long ago would have left it (e.g. a time in the past).
    pub async fn execute(&self, sql: &str) {
        use sqlx::Connection;
        match &self.backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/missive.db", self.dir.path().display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            Backend::Postgres(url) => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SET search_path TO \"{}\"",
                    self.schema
                )))
                .execute(&mut c)
                .await
                .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Backend::Postgres(url) = &self.backend {
            let url = url.clone();
            let schema = self.schema.clone();
            // A fresh runtime on a plain thread: Drop may run inside one.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                        )))
                        .execute(&pool)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub key: String,
    pub client: reqwest::Client,
    pub shutdown: CancellationToken,
    pub handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub db: TestDb,
    pub state: missive::service::AppState,
}

/// Settings every test wants: port 0, loopback receivers allowed, quick
/// retries and polls. `extra` is TOML appended after them.
pub fn test_toml(db: &TestDb, extra: &str) -> String {
    format!(
        "{}\n[server]\nbind = \"127.0.0.1:0\"\nshutdown_drain = \"0s\"\nmetrics_refresh = \"200ms\"\n[worker]\npoll_interval = \"50ms\"\nlease = \"30s\"\nschedule_tick = \"1s\"\n\
         [channels.webhook]\nallow_private = true\ntimeout = \"2s\"\nretry_schedule = [\"10ms\", \"10ms\", \"10ms\"]\n{extra}\n",
        db.toml()
    )
}

/// Merges two TOML documents (`extra` wins), so a test can override a
/// section the defaults above also set.
fn merge_toml(base: &str, extra: &str) -> String {
    let mut a: toml::Table = base.parse().unwrap();
    let b: toml::Table = extra.parse().unwrap();
    fn merge(a: &mut toml::Table, b: toml::Table) {
        for (k, v) in b {
            match (a.get_mut(&k), v) {
                (Some(toml::Value::Table(x)), toml::Value::Table(y)) => merge(x, y),
                (_, v) => {
                    a.insert(k, v);
                }
            }
        }
    }
    merge(&mut a, b);
    toml::to_string(&a).unwrap()
}

pub async fn spawn_app(backend: &Backend) -> TestApp {
    spawn_app_with(backend, "").await
}

pub async fn spawn_app_with(backend: &Backend, extra: &str) -> TestApp {
    // TEST_LOG=1 shows missive's logs while a test runs.
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .with_test_writer()
            .try_init();
    }
    let db = TestDb::new(backend);
    let toml = merge_toml(&test_toml(&db, ""), extra);
    let cfg = Config::from_toml(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let app = App::build(cfg, Role::Serve).await.expect("app builds");
    let key = app
        .first_admin_key
        .clone()
        .expect("first start makes an admin key");
    let addr = app.local_addr().unwrap();
    let shutdown = app.shutdown_token();
    let state = app.state().clone();
    let handle = tokio::spawn(app.run_until_stopped());
    TestApp {
        base: format!("http://{addr}"),
        key,
        client: reqwest::Client::new(),
        shutdown,
        handle: Some(handle),
        db,
        state,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    /// Sends one notification with inline webhook content to `url`; returns
    /// the 202 body.
    pub async fn send_webhook(&self, url: &str, data: Value) -> Value {
        let r = self
            .post(
                "/v1/notifications",
                &serde_json::json!({
                    "content": {"webhook": {"body": "{\"n\": {{json n}} }"}},
                    "to": [{"webhook_url": url}],
                    "data": data,
                }),
            )
            .await;
        assert_eq!(r.status(), 202);
        r.json().await.unwrap()
    }

    /// Waits until the delivery reaches `status`; returns it with attempts.
    pub async fn wait_for_status(&self, delivery_id: &str, status: &str) -> Value {
        let path = format!("/v1/deliveries/{delivery_id}");
        let ok = poll_until(Duration::from_secs(20), || {
            let path = path.clone();
            async move {
                let d = self.get_json(&path).await;
                let done = d["status"] == status;
                (done, d)
            }
        })
        .await;
        match ok {
            Ok(d) => d,
            Err(d) => panic!("delivery {delivery_id} never became {status}; last seen: {d:#}"),
        }
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }
}

/// A test that panics never reaches `stop()`: its app is told to stop as
/// the test unwinds, so it does not go on running beside the next backend's.
impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Checks a Standard Webhooks signature.
pub fn verify_signature(secret: &str, r: &Received) -> bool {
    let id = r.headers["webhook-id"].to_str().unwrap();
    let ts: i64 = r.headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = r.headers["webhook-signature"].to_str().unwrap();
    // Computed here from the specification, not with missive's own code.
    use base64::Engine;
    use hmac::Mac;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{}", r.body).as_bytes());
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    sig.split(' ').any(|s| s == expected)
}
