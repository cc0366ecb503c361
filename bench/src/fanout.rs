//! `fanout`: a send to a topic with 1,000,000 × `--n` subscribers
//! (`--n 0.1`: 100,000). The recipients (no addresses: the send is
//! in-app, which needs none) and their subscriptions are written straight
//! into the database; then one `POST /v1/notifications` to the topic, and
//! the notification's `fanout` progress is read until it is `done`. The
//! line says how many deliveries the fan-out created per second (202 to
//! done) and the server's peak memory, which must not grow with the
//! topic's size.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::sleep;

use crate::{cpu_ticks, r2, start_server, status_mb, Options, Server};

/// One result line of `fanout`.
#[derive(Serialize)]
pub struct FanoutReport {
    scenario: &'static str,
    backend: &'static str,
    subscribers: usize,
    fill_s: Option<f64>,
    accept_ms: Option<f64>,
    fan_out_s: Option<f64>,
    deliveries_per_s: Option<f64>,
    cpu_ms_per_1000: Option<f64>,
    peak_rss_mb: Option<f64>,
    pub error: Option<String>,
}

/// Writes `n` recipients `u0000001`… and subscribes them to `topic`.
async fn fill(server: &Server, topic: &str, n: usize) -> Result<()> {
    let ids = |pg: bool| {
        if pg {
            "'u' || lpad(i::text, 7, '0')"
        } else {
            "'u' || printf('%07d', i)"
        }
    };
    let statements = |pg: bool| {
        vec![
            format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
                 INSERT INTO recipients (id, preferences, created_at, updated_at) SELECT {}, \
                 '{{}}', 0, 0 FROM s",
                ids(pg)
            ),
            format!(
                "INSERT INTO topic_subscriptions (topic, recipient, created_at) SELECT '{topic}', \
                 id, 0 FROM recipients"
            ),
        ]
    };
    match &server.pg_schema {
        Some((url, schema)) => {
            use sqlx::postgres::PgConnectOptions;
            let options: PgConnectOptions = url.parse().context("parsing --database-url")?;
            let options = options.options([("search_path", schema.as_str())]);
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .context("connecting to PostgreSQL")?;
            for sql in statements(true) {
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
            }
            sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
            pool.close().await;
        }
        None => {
            use sqlx::sqlite::SqliteConnectOptions;
            let options = SqliteConnectOptions::new()
                .filename(server.dir.join("missive.db"))
                .busy_timeout(Duration::from_secs(30));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .context("opening the SQLite database")?;
            for sql in statements(false) {
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
            }
            pool.close().await;
        }
    }
    Ok(())
}

pub async fn run_fanout(opts: &Options, client: &reqwest::Client) -> Result<FanoutReport> {
    let n = opts.scaled(1_000_000);
    eprintln!("[bench] scenario fanout: {n} subscribers");
    let mut server = start_server(opts, &[]).await?;
    let key = server.api_key.clone();
    let r = client
        .put(format!("{}/v1/topics/everyone", server.base_url))
        .bearer_auth(&key)
        .json(&json!({"name": "Everyone"}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("PUT /v1/topics/everyone answered {}", r.status());
    }
    let t = Instant::now();
    fill(&server, "everyone", n)
        .await
        .context("filling the topic")?;
    let fill_s = t.elapsed().as_secs_f64();
    eprintln!("[bench]   filled in {fill_s:.1}s");
    server.check_alive()?;

    let cpu0 = cpu_ticks(server.pid);
    let t = Instant::now();
    let r = client
        .post(format!("{}/v1/notifications", server.base_url))
        .bearer_auth(&key)
        .json(&json!({
            "content": {"in_app": {"title": "Hello", "body": "To everyone"}},
            "to": [{"topic": "everyone"}],
        }))
        .send()
        .await?;
    let accept_ms = t.elapsed().as_secs_f64() * 1000.0;
    let status = r.status();
    let answer: Value = r.json().await?;
    if status.as_u16() != 202 {
        bail!("the send answered {status}: {answer}");
    }
    let id = answer["id"].as_str().unwrap_or_default().to_string();
    let mut peak = 0.0f64;
    let mut error = None;
    let deadline = Instant::now() + Duration::from_secs(1_800);
    let mut last = Instant::now();
    loop {
        if let Some(mb) = status_mb(server.pid, "VmHWM") {
            peak = peak.max(mb);
        }
        let v: Value = client
            .get(format!("{}/v1/notifications/{id}", server.base_url))
            .bearer_auth(&key)
            .send()
            .await?
            .json()
            .await?;
        let f = &v["fanout"];
        if f["status"] == "done" {
            if f["fanned_out"].as_u64() != Some(n as u64) {
                error = Some(format!("fanned out {} of {n}", f["fanned_out"]));
            }
            break;
        }
        if f["status"] == "failed" || f["status"] == "cancelled" || Instant::now() > deadline {
            error = Some(format!("the fan-out ended as {f}"));
            break;
        }
        if last.elapsed() > Duration::from_secs(5) {
            eprintln!("[bench]   {} of {n} fanned out", f["fanned_out"]);
            last = Instant::now();
        }
        // Often enough to time the end within 1 %, seldom enough that reading
        // the notification (it lists up to 1,000 deliveries) costs the server
        // little of the CPU being measured.
        sleep(Duration::from_millis(100)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = match (cpu0, cpu_ticks(server.pid)) {
        (Some(a), Some(b)) => Some((b - a) as f64 * 10.0 * 1000.0 / n as f64),
        _ => None,
    };
    server.stop().await?;
    Ok(FanoutReport {
        scenario: "fanout",
        backend: opts.backend(),
        subscribers: n,
        fill_s: r2(fill_s),
        accept_ms: r2(accept_ms),
        fan_out_s: r2(secs),
        deliveries_per_s: r2(n as f64 / secs),
        cpu_ms_per_1000: cpu.and_then(r2),
        peak_rss_mb: r2(peak),
        error,
    })
}
