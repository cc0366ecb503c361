//! The database failing under a running instance: SQLite's disk filling up
//! and emptying again, and PostgreSQL going away and coming back. While it
//! lasts, sends are refused quickly with 503 and `Retry-After` and
//! `/readyz` says not ready; afterwards everything works again without a
//! restart and nothing accepted before is lost.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

/// An RFC 3339 time `ms` milliseconds from now.
fn in_ms(ms: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::milliseconds(ms))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A send of `data` to `url`, due at `send_at`.
fn send_body(url: &str, data: Value, send_at: Option<String>) -> Value {
    let mut body = json!({
        "content": {"webhook": {"body": "{\"n\": {{json n}} }"}},
        "to": [{"webhook_url": url}],
        "data": data,
    });
    if let Some(t) = send_at {
        body["send_at"] = json!(t);
    }
    body
}

/// Asserts a 503 answer that asks to retry later, with problem type `kind`.
async fn assert_unavailable(r: reqwest::Response, kind: &str) {
    assert_eq!(r.status(), 503);
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "Retry-After: {retry}");
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("urn:missive:problem:{kind}"),
        "{body:#}"
    );
    assert_eq!(body["status"], 503);
}

async fn readyz(app: &TestApp) -> u16 {
    app.client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_sends_while_its_disk_is_full_and_recovers_when_space_returns() {
    // A 2 MiB limit on the file stands for the disk: at it SQLite answers
    // SQLITE_FULL, as when the disk itself is full.
    let app = spawn_app_with(&Backend::Sqlite, "[database]\nsqlite_max_bytes = 2097152\n").await;
    let receiver = Receiver::start().await;

    // Sent before the disk fills; due once it is full.
    let mut before = Vec::new();
    for i in 0..3 {
        let r = app
            .post(
                "/v1/notifications",
                &send_body(&receiver.url, json!({"n": i}), Some(in_ms(1_500))),
            )
            .await;
        assert_eq!(r.status(), 202);
        before.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    // Something else on the disk, removed later to free space.
    let file = app.db.dir.path().join("missive.db");
    let opts =
        sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
            .unwrap()
            .busy_timeout(Duration::from_secs(10));
    let mut other = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    sqlx::query("CREATE TABLE other_files (b BLOB)")
        .execute(&mut other)
        .await
        .unwrap();
    for _ in 0..8 {
        sqlx::query("INSERT INTO other_files (b) VALUES (randomblob(65536))")
            .execute(&mut other)
            .await
            .unwrap();
    }

    // Fill the rest with sends scheduled far ahead, until one is refused.
    let big = "x".repeat(30_000);
    let mut accepted = Vec::new();
    let refused = loop {
        assert!(accepted.len() < 300, "the disk never filled");
        let r = app
            .post(
                "/v1/notifications",
                &send_body(&receiver.url, json!({"n": big}), Some(in_ms(86_400_000))),
            )
            .await;
        if r.status() != 202 {
            break r;
        }
        accepted.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    };
    assert_unavailable(refused, "store-full").await;
    // Every later send is refused the same way (not with an error of the
    // connection left behind by the first).
    for _ in 0..3 {
        let r = app
            .post(
                "/v1/notifications",
                &send_body(&receiver.url, json!({"n": big}), None),
            )
            .await;
        assert_unavailable(r, "store-full").await;
    }
    let not_ready = poll_until(Duration::from_secs(10), || async {
        let s = readyz(&app).await;
        (s == 503, s)
    })
    .await;
    assert_eq!(not_ready, Ok(503), "/readyz while the disk is full");

    // Space returns: readiness and sends recover by themselves.
    sqlx::query("DROP TABLE other_files")
        .execute(&mut other)
        .await
        .unwrap();
    other.close().await.unwrap();
    let ready = poll_until(Duration::from_secs(20), || async {
        let s = readyz(&app).await;
        (s == 200, s)
    })
    .await;
    assert_eq!(ready, Ok(200), "/readyz once space is back");
    let after = app.send_webhook(&receiver.url, json!({"n": "after"})).await;

    // Nothing accepted before was lost: the early sends and the one after
    // are delivered, the scheduled ones are all still there.
    let got = receiver.wait_for(4, Duration::from_secs(30)).await;
    let bodies: Vec<&str> = got.iter().map(|r| r.body.as_str()).collect();
    for expected in ["0", "1", "2", "\"after\""] {
        assert!(
            bodies
                .iter()
                .any(|b| b.contains(&format!("\"n\": {expected}"))),
            "{expected} was not delivered: {bodies:?}"
        );
    }
    for id in before
        .iter()
        .chain(&accepted)
        .chain([&after["id"].as_str().unwrap().to_string()])
    {
        let r = app.get(&format!("/v1/notifications/{id}")).await;
        assert_eq!(r.status(), 200, "notification {id}");
    }
    app.stop().await;
}

/// A TCP proxy in front of PostgreSQL that can be cut: open connections
/// are closed and new ones are held without an answer, as when the server
/// or its network goes away, until it is restored.
struct CuttableProxy {
    addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    /// Cancelled to close every forwarded connection; replaced on restore.
    links: Arc<Mutex<CancellationToken>>,
    /// Connections accepted while cut, held open without an answer.
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = CuttableProxy {
            addr: listener.local_addr().unwrap(),
            cut: Arc::new(AtomicBool::new(false)),
            links: Arc::new(Mutex::new(CancellationToken::new())),
            held: Arc::new(Mutex::new(Vec::new())),
        };
        let (cut, links, held) = (proxy.cut.clone(), proxy.links.clone(), proxy.held.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if cut.load(Ordering::SeqCst) {
                    held.lock().unwrap().push(client);
                    continue;
                }
                let stop = links.lock().unwrap().clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = stop.cancelled() => {}
                    }
                });
            }
        });
        proxy
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.links.lock().unwrap().cancel();
    }

    fn restore(&self) {
        *self.links.lock().unwrap() = CancellationToken::new();
        self.cut.store(false, Ordering::SeqCst);
        self.held.lock().unwrap().clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_is_answered_503_quickly_and_loses_nothing() {
    let Some(Backend::Postgres(real)) = backends()
        .pop()
        .filter(|b| matches!(b, Backend::Postgres(_)))
    else {
        return;
    };
    let mut url = url::Url::parse(&real).unwrap();
    let upstream = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    );
    let proxy = CuttableProxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    // The default acquire timeout (3 s) is what is tested.
    let app = spawn_app_with(
        &Backend::Postgres(real.clone()),
        &format!("[database]\nurl = \"{url}\"\n"),
    )
    .await;
    let receiver = Receiver::start().await;

    // Accepted before the outage, due during it.
    for i in 0..3 {
        let r = app
            .post(
                "/v1/notifications",
                &send_body(&receiver.url, json!({"n": i}), Some(in_ms(1_000))),
            )
            .await;
        assert_eq!(r.status(), 202);
    }

    proxy.cut();
    let t0 = Instant::now();
    let r = app
        .post(
            "/v1/notifications",
            &send_body(&receiver.url, json!({"n": "during"}), None),
        )
        .await;
    let took = t0.elapsed();
    assert_unavailable(r, "database-unavailable").await;
    assert!(
        took < Duration::from_secs(8),
        "a send took {took:?} to be refused"
    );
    for _ in 0..2 {
        let t0 = Instant::now();
        let status = readyz(&app).await;
        let took = t0.elapsed();
        assert_eq!(status, 503);
        assert!(took < Duration::from_millis(2_000), "/readyz took {took:?}");
    }
    // Long enough for the early sends to fall due and their claims to fail.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.count(), 0);

    proxy.restore();
    let sent = poll_until(Duration::from_secs(30), || async {
        let r = app
            .post(
                "/v1/notifications",
                &send_body(&receiver.url, json!({"n": "after"}), None),
            )
            .await;
        (r.status() == 202, r.status().as_u16())
    })
    .await;
    assert_eq!(sent, Ok(202), "sends work again once the database is back");
    let ready = poll_until(Duration::from_secs(10), || async {
        let s = readyz(&app).await;
        (s == 200, s)
    })
    .await;
    assert_eq!(ready, Ok(200));

    let got = receiver.wait_for(4, Duration::from_secs(30)).await;
    let bodies: Vec<&str> = got.iter().map(|r| r.body.as_str()).collect();
    for expected in ["0", "1", "2", "\"after\""] {
        assert!(
            bodies
                .iter()
                .any(|b| b.contains(&format!("\"n\": {expected}"))),
            "{expected} was not delivered: {bodies:?}"
        );
    }
    app.stop().await;
}
