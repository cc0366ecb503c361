//! missive-bench: load benchmarks for the missive notification dispatcher.
//!
//! For every scenario the bench starts a fresh `missive serve` child process
//! (on a temp SQLite file, or on a fresh schema in a given PostgreSQL), starts
//! an in-process webhook receiver (or, for `e2e-email`, an SMTP sink the
//! server's `smtp` provider sends to; both are missive-testkit's, shared with
//! the tests, in their counting mode), drives `POST /v1/notifications` over
//! HTTP, waits until every accepted delivery has arrived at the receiver, and
//! prints one JSON line with throughput, latency, CPU and memory figures.
//! `inbox-fanout` holds SSE inbox streams open instead and measures how fast
//! in-app messages reach them (see [`run_inbox_fanout`]). `console-pages`
//! fills the database with a million deliveries and times the web console's
//! pages (see [`run_console_pages`]). `workflow` and `digest` trigger
//! workflow runs and digests and read what the webhooks say (see the
//! `workflows` module). `fanout` sends once to a topic of a million
//! subscribers and times its background fan-out (see the `fanout` module).
//!
//! Results go to stdout (one JSON line per scenario), progress to stderr.
//!
//! ```text
//! cargo build --release        # missive and missive-bench, from the workspace root
//! target/release/missive-bench all --n 0.1
//! target/release/missive-bench enqueue batch --database-url postgres://user:pw@localhost/db
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::Parser;
use missive_testkit::{free_port, Arrivals, ChildGuard, Receiver, SmtpServer};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::{sleep, MissedTickBehavior};

mod fanout;
mod workflows;

/// Linux reports process CPU times in /proc/<pid>/stat in clock ticks;
/// `sysconf(_SC_CLK_TCK)` is 100 on every mainstream Linux build. Hard-coded
/// to avoid a libc dependency.
const CLOCK_TICKS_PER_S: f64 = 100.0;
/// How long the server may take to answer `/readyz` with 200.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// How long to wait for all accepted deliveries to reach the receiver.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(120);
/// How long the server may take to exit after SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// Timeout of any single HTTP request the bench makes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How many times one POST is retried after a 429 before giving up.
const MAX_429_RETRIES: u32 = 50;
/// A load stops early once this many requests have failed.
const MAX_FAILURES: usize = 100;
/// Interval of progress lines on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

#[derive(Parser, Debug)]
#[command(name = "missive-bench", about = "Load benchmarks for missive")]
struct Args {
    /// Scenarios to run: enqueue, batch, e2e-webhook, e2e-webhook-flow, e2e-email, latency, inbox-fanout,
    /// console-pages, workflow, digest, fanout (a send to a topic of 1,000,000 × --n subscribers),
    /// or all (every one but console-pages, workflow, digest and fanout).
    #[arg(required = true)]
    scenarios: Vec<String>,

    /// Run against this PostgreSQL (a fresh schema is created and dropped)
    /// instead of a fresh temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,

    /// Path of the missive server binary (default: `missive` next to this binary).
    #[arg(long)]
    missive: Option<PathBuf>,

    /// Scale factor applied to request counts and durations (e.g. 0.1 for a smoke run);
    /// console-pages fills the log with 1,000,000 × this deliveries.
    #[arg(long, default_value_t = 1.0)]
    n: f64,

    /// Give every request its own Idempotency-Key (what most production
    /// callers do), so the keys' writes are measured too.
    #[arg(long)]
    idempotency_keys: bool,

    /// PostgreSQL only: run this many `missive serve` processes on the one
    /// database, the load spread over them in turn (CPU is their sum).
    #[arg(long, default_value_t = 1)]
    instances: usize,

    /// workflow: the second step's condition, `sent` (the first webhook was
    /// delivered: the run waits for it) or `field` (on the data: decided at once).
    #[arg(long, default_value = "sent")]
    workflow_condition: String,

    /// digest: events to send (default 100,000 × --n).
    #[arg(long)]
    events: Option<usize>,

    /// digest: distinct digest keys the events are spread over, each key's
    /// events sent one after another.
    #[arg(long, default_value_t = 1_000)]
    digest_keys: usize,

    /// digest: the digest window in seconds (from a key's first event).
    #[arg(long, default_value_t = 10.0)]
    window: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scenario {
    Enqueue,
    Batch,
    E2eWebhook,
    E2eWebhookFlow,
    E2eEmail,
    Latency,
    InboxFanout,
    ConsolePages,
    Workflow,
    Digest,
    Fanout,
}

impl Scenario {
    fn parse_list(names: &[String]) -> Result<Vec<Scenario>> {
        let mut out = Vec::new();
        for name in names {
            match name.as_str() {
                "enqueue" => out.push(Scenario::Enqueue),
                "batch" => out.push(Scenario::Batch),
                "e2e-webhook" => out.push(Scenario::E2eWebhook),
                "e2e-webhook-flow" => out.push(Scenario::E2eWebhookFlow),
                "e2e-email" => out.push(Scenario::E2eEmail),
                "latency" => out.push(Scenario::Latency),
                "inbox-fanout" => out.push(Scenario::InboxFanout),
                "console-pages" => out.push(Scenario::ConsolePages),
                "workflow" => out.push(Scenario::Workflow),
                "digest" => out.push(Scenario::Digest),
                "fanout" => out.push(Scenario::Fanout),
                "all" => out.extend([
                    Scenario::Enqueue,
                    Scenario::Batch,
                    Scenario::E2eWebhook,
                    Scenario::E2eWebhookFlow,
                    Scenario::E2eEmail,
                    Scenario::Latency,
                    Scenario::InboxFanout,
                ]),
                other => bail!(
                    "unknown scenario {other:?} (expected enqueue, batch, e2e-webhook, e2e-webhook-flow, e2e-email, latency, inbox-fanout, console-pages, workflow, digest, fanout or all)"
                ),
            }
        }
        Ok(out)
    }
}

/// Options shared by every scenario.
struct Options {
    missive: PathBuf,
    database_url: Option<String>,
    scale: f64,
    instances: usize,
    idempotency_keys: bool,
}

impl Options {
    fn backend(&self) -> &'static str {
        if self.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// `count` scaled by `--n`, at least 1.
    fn scaled(&self, count: usize) -> usize {
        ((count as f64 * self.scale).round() as usize).max(1)
    }
}

/// Where the deliveries go: the in-process webhook receiver, or the
/// in-process SMTP sink (the server then sends email through its `smtp`
/// provider).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Webhook,
    /// Webhooks with flow control on: a dedup key per request and a rate
    /// limit far above the load (what flow control costs).
    WebhookFlow,
    Email,
    /// In-app messages to recipients `u_0`.. (see [`run_inbox_fanout`]).
    InApp {
        recipients: usize,
    },
    /// Triggers of the `workflow` scenario's escalation, one recipient each.
    Workflow,
    /// Events of the `digest` scenario: `events` over `keys` digest keys.
    Digest {
        events: usize,
        keys: usize,
    },
}

/// What load a scenario applies.
#[derive(Debug, Clone, Copy)]
enum Load {
    /// `requests` POSTs with `recipients` each, from `concurrency` client tasks.
    ClosedLoop {
        requests: usize,
        recipients: usize,
        concurrency: usize,
    },
    /// Single-recipient POSTs fired on schedule at `rate` per second for `duration`.
    OpenLoop { rate: f64, duration: Duration },
}

// ---------------------------------------------------------------------------
// Server child process
// ---------------------------------------------------------------------------

/// A running `missive serve` child with its temp dir.
struct Server {
    child: ChildGuard,
    pid: u32,
    base_url: String,
    api_key: String,
    dir: PathBuf,
    /// (database url, schema) to drop at the end when running on PostgreSQL.
    pg_schema: Option<(String, String)>,
    /// Keep the temp dir (so the server log can be read) when the server died.
    keep_dir: bool,
}

fn random_hex(len: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..len].to_string()
}

fn make_temp_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("missive-bench-{}", random_hex(12)));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

async fn start_server(opts: &Options, extra_env: &[(&str, String)]) -> Result<Server> {
    start_server_on(opts, extra_env, None).await
}

/// As [`start_server`]; with `join` = (schema, API key), the server uses the
/// schema another server made (it drops nothing and writes no key).
async fn start_server_on(
    opts: &Options,
    extra_env: &[(&str, String)],
    join: Option<(&str, &str)>,
) -> Result<Server> {
    if !opts.missive.is_file() {
        bail!(
            "server binary {} not found (build it with `cargo build --release`, or pass --missive PATH)",
            opts.missive.display()
        );
    }
    let dir = make_temp_dir()?;
    let port = free_port();

    let mut cmd = Command::new(&opts.missive);
    cmd.arg("serve")
        .env("MISSIVE__DATA_DIR", &dir)
        .env("MISSIVE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("MISSIVE__CHANNELS__WEBHOOK__ALLOW_PRIVATE", "true")
        // No load balancer to drain for: stop at once.
        .env("MISSIVE__SERVER__SHUTDOWN_DRAIN", "0s")
        .env("RUST_LOG", "warn")
        .envs(extra_env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null());
    let pg_schema = match &opts.database_url {
        Some(url) => {
            let schema = match join {
                Some((schema, _)) => schema.to_string(),
                None => format!("bench_{}", random_hex(12)),
            };
            cmd.env("MISSIVE__DATABASE__URL", url)
                .env("MISSIVE__DATABASE__SCHEMA", &schema);
            // Only the server that made the schema drops it.
            join.is_none().then(|| (url.clone(), schema))
        }
        None => {
            cmd.env(
                "MISSIVE__DATABASE__URL",
                format!("sqlite://{}", dir.join("missive.db").display()),
            );
            None
        }
    };

    let child = ChildGuard::spawn(cmd, &dir, port, "server")
        .with_context(|| format!("starting {} serve", opts.missive.display()))?;
    let pid = child.id();
    let mut server = Server {
        base_url: child.base.clone(),
        child,
        pid,
        api_key: String::new(),
        dir,
        pg_schema,
        keep_dir: false,
    };
    eprintln!(
        "[bench] started missive (pid {pid}) on {} , data dir {}",
        server.base_url,
        server.dir.display()
    );
    server.wait_ready().await?;
    server.api_key = match join {
        Some((_, key)) => key.to_string(),
        None => server.read_admin_key().await?,
    };
    Ok(server)
}

/// The servers of a scenario: `--instances` of them on PostgreSQL, else one.
async fn start_servers(opts: &Options, extra_env: &[(&str, String)]) -> Result<Vec<Server>> {
    let first = start_server(opts, extra_env).await?;
    let mut servers = Vec::with_capacity(opts.instances);
    let join = first
        .pg_schema
        .as_ref()
        .map(|(_, schema)| (schema.clone(), first.api_key.clone()));
    servers.push(first);
    if let Some((schema, key)) = join {
        for _ in 1..opts.instances {
            servers.push(start_server_on(opts, extra_env, Some((&schema, &key))).await?);
        }
    }
    Ok(servers)
}

impl Server {
    /// Errors (and keeps the temp dir) if the child has exited.
    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_exit() {
            self.keep_dir = true;
            bail!(
                "missive server exited unexpectedly ({status}); its stderr is in {}{}",
                self.child.stderr_path.display(),
                tail_of_file(&self.child.stderr_path, 20)
            );
        }
        Ok(())
    }

    async fn wait_ready(&mut self) -> Result<()> {
        if let Err(e) = self.child.try_wait_ready(READY_DEADLINE).await {
            self.keep_dir = true;
            bail!("{e}");
        }
        Ok(())
    }

    /// The admin key written by the server on first start.
    async fn read_admin_key(&mut self) -> Result<String> {
        let path = self.dir.join("admin.key");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(text) = std::fs::read_to_string(&path) {
                let key = text.trim();
                if !key.is_empty() {
                    return Ok(key.to_string());
                }
            }
            self.check_alive()?;
            sleep(Duration::from_millis(50)).await;
        }
        self.keep_dir = true;
        bail!(
            "the server is ready but wrote no admin key to {}",
            path.display()
        )
    }

    /// Graceful stop: SIGTERM, wait, then SIGKILL. Removes the temp dir.
    async fn stop(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_exit() {
            self.keep_dir = true;
            bail!(
                "missive server had already exited ({status}) before the end of the scenario; its stderr is in {}{}",
                self.child.stderr_path.display(),
                tail_of_file(&self.child.stderr_path, 20)
            );
        }
        self.child.sigterm();
        match self.child.wait_exit(STOP_DEADLINE).await {
            Some(status) if !status.success() => {
                eprintln!(
                    "[bench] warning: missive exited with {status} after SIGTERM (stderr: {})",
                    self.child.stderr_path.display()
                );
                self.keep_dir = true;
            }
            Some(_) => {}
            None => {
                eprintln!(
                    "[bench] warning: missive did not exit within {}s of SIGTERM; killing it",
                    STOP_DEADLINE.as_secs()
                );
                self.child.kill();
            }
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill();
        if let Some((url, schema)) = &self.pg_schema {
            let _ = Command::new("psql")
                .arg(url)
                .arg("-q")
                .arg("-c")
                .arg(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if self.keep_dir {
            eprintln!("[bench] keeping {} for inspection", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn tail_of_file(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    if all.is_empty() {
        return String::new();
    }
    let start = all.len().saturating_sub(lines);
    format!(
        "\n--- last lines of server stderr ---\n{}",
        all[start..].join("\n")
    )
}

// ---------------------------------------------------------------------------
// /proc readings
// ---------------------------------------------------------------------------

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces;
    // fields after the last ')' start at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// utime + stime of every process named `postgres` on this machine (the
/// database's backends and helpers), in clock ticks: the database's side of
/// a PostgreSQL run. Anything else using PostgreSQL meanwhile counts too.
fn postgres_cpu_ticks() -> Option<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let is_postgres = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.trim() == "postgres");
        if is_postgres {
            total += cpu_ticks(pid).unwrap_or(0);
        }
    }
    Some(total)
}

/// A `VmXxx:   1234 kB` line of /proc/<pid>/status, in MiB.
fn status_mb(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line[field.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

// ---------------------------------------------------------------------------
// Where deliveries arrive
// ---------------------------------------------------------------------------

/// The in-process receiver of a scenario's deliveries; both count arrivals
/// by delivery id only.
enum Sink {
    Webhook(Receiver),
    Email(SmtpServer),
}

impl Sink {
    fn arrivals(&self) -> &Arc<Arrivals> {
        match self {
            Sink::Webhook(r) => r.arrivals(),
            Sink::Email(s) => s.arrivals(),
        }
    }

    /// Where the server sends: the webhook URL, or the SMTP port.
    fn address(&self) -> String {
        match self {
            Sink::Webhook(r) => r.url.clone(),
            Sink::Email(s) => s.port.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------

/// What a client needs to send notifications.
struct Sender {
    client: reqwest::Client,
    /// One per server; requests take them in turn.
    notifications_urls: Vec<String>,
    next_url: AtomicUsize,
    auth: String,
    hook_url: String,
    target: Target,
    accepted: AtomicUsize,
    failures: AtomicUsize,
    /// Each request gets the next `Idempotency-Key` (`--idempotency-keys`).
    keys: Option<AtomicUsize>,
}

#[derive(Deserialize)]
struct Accepted {
    #[allow(dead_code)]
    id: String,
    deliveries: Vec<AcceptedDelivery>,
}

#[derive(Deserialize)]
struct AcceptedDelivery {
    id: String,
    #[serde(default)]
    status: String,
}

/// Outcome of a load run.
#[derive(Default)]
struct Sent {
    /// (delivery id, instant its 202 came back) for every delivery expected to arrive.
    deliveries: Vec<(String, Instant)>,
    /// Notifications (POSTs) answered 202.
    notifications: usize,
    /// (request number, instant its 202 came back) for every POST answered 202.
    by_n: Vec<(usize, Instant)>,
    /// Deliveries the 202 answers reported as not going to be sent (suppressed, ...).
    not_sent: usize,
    failures: usize,
    first_error: Option<String>,
    last_accept: Option<Instant>,
}

impl Sent {
    fn merge(&mut self, other: Sent) {
        self.deliveries.extend(other.deliveries);
        self.notifications += other.notifications;
        self.by_n.extend(other.by_n);
        self.not_sent += other.not_sent;
        self.failures += other.failures;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.last_accept = self.last_accept.max(other.last_accept);
    }

    /// The answer to request number `n`.
    fn record(&mut self, n: usize, result: Result<(Accepted, Instant)>) {
        match result {
            Ok((accepted, at)) => {
                self.notifications += 1;
                self.by_n.push((n, at));
                self.last_accept = self.last_accept.max(Some(at));
                for d in accepted.deliveries {
                    if matches!(d.status.as_str(), "suppressed" | "cancelled" | "failed") {
                        self.not_sent += 1;
                    } else {
                        self.deliveries.push((d.id, at));
                    }
                }
            }
            Err(e) => {
                self.failures += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{e:#}"));
                }
            }
        }
    }
}

impl Sender {
    fn body(&self, n: usize, recipients: usize) -> Vec<u8> {
        if let Target::InApp {
            recipients: streams,
        } = self.target
        {
            let body = serde_json::json!({
                "content": { "in_app": { "title": "Order {{n}}", "body": "Order {{n}} shipped" } },
                "to": [{ "id": format!("u_{}", n % streams) }],
                "data": { "n": n },
            });
            return serde_json::to_vec(&body).expect("serializing a JSON value");
        }
        match self.target {
            Target::Workflow => {
                let body = serde_json::json!({
                    "workflow": workflows::ESCALATION_KEY,
                    "to": [{ "webhook_url": self.hook_url }],
                    "data": { "n": n },
                });
                return serde_json::to_vec(&body).expect("serializing a JSON value");
            }
            Target::Digest { events, keys } => {
                let body = serde_json::json!({
                    "workflow": workflows::DIGEST_KEY,
                    "to": [{ "id": workflows::DIGEST_RECIPIENT, "webhook_url": self.hook_url }],
                    "data": { "n": n, "key": workflows::digest_key(n, events, keys) },
                });
                return serde_json::to_vec(&body).expect("serializing a JSON value");
            }
            _ => {}
        }
        if self.target == Target::Email {
            let to: Vec<serde_json::Value> = (0..recipients)
                .map(|_| serde_json::json!({ "email": "bench@example.com" }))
                .collect();
            let body = serde_json::json!({
                "content": { "email": { "subject": "Order {{n}}", "text": "Hi {{n}}" } },
                "to": to,
                "data": { "n": n },
            });
            return serde_json::to_vec(&body).expect("serializing a JSON value");
        }
        let to: Vec<serde_json::Value> = (0..recipients)
            .map(|_| serde_json::json!({ "webhook_url": self.hook_url }))
            .collect();
        let mut body = serde_json::json!({
            "content": { "webhook": { "body": "{\"n\": {{json n}} }" } },
            "to": to,
            "data": { "n": n },
        });
        if self.target == Target::WebhookFlow {
            body["dedup_key"] = serde_json::json!(format!("bench-{n}"));
        }
        serde_json::to_vec(&body).expect("serializing a JSON value")
    }

    /// True once so many requests failed that the load should stop.
    fn too_many_failures(&self) -> bool {
        self.failures.load(Ordering::Relaxed) >= MAX_FAILURES
    }

    /// One POST /v1/notifications; counts a failure and prints the first one.
    async fn send(&self, body: Vec<u8>) -> Result<(Accepted, Instant)> {
        let result = self.post(body).await;
        if let Err(e) = &result {
            if self.failures.fetch_add(1, Ordering::Relaxed) == 0 {
                eprintln!("[bench] request failed: {e:#}");
            }
        }
        result
    }

    /// One POST /v1/notifications; returns the 202 answer and the instant it arrived.
    /// 429 answers are retried after `Retry-After` (bounded).
    async fn post(&self, body: Vec<u8>) -> Result<(Accepted, Instant)> {
        let body = Bytes::from(body);
        // A retry after a 429 keeps the request's key.
        let key = self
            .keys
            .as_ref()
            .map(|k| format!("bench-{}", k.fetch_add(1, Ordering::Relaxed)));
        for _ in 0..=MAX_429_RETRIES {
            let i = self.next_url.fetch_add(1, Ordering::Relaxed) % self.notifications_urls.len();
            let mut req = self
                .client
                .post(&self.notifications_urls[i])
                .header("authorization", &self.auth)
                .header("content-type", "application/json");
            if let Some(k) = &key {
                req = req.header("idempotency-key", k);
            }
            let resp = req
                .body(body.clone())
                .send()
                .await
                .context("POST /v1/notifications")?;
            let at = Instant::now();
            let status = resp.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .unwrap_or(1.0)
                    .clamp(0.01, 10.0);
                sleep(Duration::from_secs_f64(wait)).await;
                continue;
            }
            let text = resp.text().await.context("reading the answer")?;
            if status != StatusCode::ACCEPTED {
                bail!(
                    "POST /v1/notifications answered {status} (expected 202): {}",
                    truncate(&text, 500)
                );
            }
            let accepted: Accepted = serde_json::from_str(&text)
                .with_context(|| format!("unexpected 202 body: {}", truncate(&text, 500)))?;
            self.accepted
                .fetch_add(accepted.deliveries.len(), Ordering::Relaxed);
            return Ok((accepted, at));
        }
        bail!("POST /v1/notifications still answered 429 after {MAX_429_RETRIES} retries")
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `requests` POSTs shared by `concurrency` tasks, each sending as fast as answers come back.
async fn run_closed_loop(
    sender: Arc<Sender>,
    requests: usize,
    recipients: usize,
    concurrency: usize,
) -> Result<Sent> {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<JoinHandle<Sent>> = (0..concurrency.min(requests))
        .map(|_| {
            let sender = sender.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut sent = Sent::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= requests || sender.too_many_failures() {
                        break;
                    }
                    let body = sender.body(n, recipients);
                    sent.record(n, sender.send(body).await);
                }
                sent
            })
        })
        .collect();
    let mut total = Sent::default();
    for task in tasks {
        total.merge(task.await.context("client task panicked")?);
    }
    Ok(total)
}

/// Request number `n` and its answer.
type Answered = (usize, Result<(Accepted, Instant)>);

/// Open loop: one single-recipient POST fired every 1/rate s for `duration`,
/// each in its own task so a slow answer does not delay the next send.
async fn run_open_loop(sender: Arc<Sender>, rate: f64, duration: Duration) -> Result<Sent> {
    let count = ((rate * duration.as_secs_f64()).round() as usize).max(1);
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut tasks: Vec<JoinHandle<Answered>> = Vec::with_capacity(count);
    for n in 0..count {
        interval.tick().await;
        if sender.too_many_failures() {
            break;
        }
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            let body = sender.body(n, 1);
            (n, sender.send(body).await)
        }));
    }
    let mut total = Sent::default();
    for task in tasks {
        let (n, result) = task.await.context("send task panicked")?;
        total.record(n, result);
    }
    Ok(total)
}

// ---------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------

/// Percentiles over a sorted sample.
struct Stats {
    sorted: Vec<f64>,
}

impl Stats {
    fn new(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        Stats { sorted: values }
    }

    /// Nearest-rank percentile, `p` in 0..=100; None for an empty sample.
    fn percentile(&self, p: f64) -> Option<f64> {
        if self.sorted.is_empty() {
            return None;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        Some(self.sorted[rank.clamp(1, self.sorted.len()) - 1])
    }
}

/// Waits until `expected` distinct deliveries have arrived or the deadline passes.
/// Returns false on timeout.
async fn wait_for_deliveries(sink: &Sink, servers: &mut [Server], expected: usize) -> Result<bool> {
    let deadline = Instant::now() + DELIVERY_DEADLINE;
    let mut next_progress = Instant::now() + PROGRESS_EVERY;
    loop {
        let received = sink.arrivals().distinct();
        if received >= expected {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        for server in servers.iter_mut() {
            server.check_alive()?;
        }
        if Instant::now() >= next_progress {
            eprintln!("[bench]   waiting: {received}/{expected} deliveries received");
            next_progress += PROGRESS_EVERY;
        }
        sleep(Duration::from_millis(20)).await;
    }
}

/// One result line.
#[derive(Serialize)]
struct Report {
    scenario: String,
    backend: &'static str,
    notifications: usize,
    deliveries: usize,
    accepted_per_s: Option<f64>,
    delivered_per_s: Option<f64>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    cpu_ms_per_delivery: Option<f64>,
    /// PostgreSQL runs: the database processes' CPU per delivery, to add
    /// to the server's.
    #[serde(skip_serializing_if = "Option::is_none")]
    db_cpu_ms_per_delivery: Option<f64>,
    peak_rss_mb: Option<f64>,
    idle_rss_mb: Option<f64>,
    elapsed_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn r2(x: f64) -> Option<f64> {
    x.is_finite().then(|| (x * 100.0).round() / 100.0)
}

fn per_s(count: usize, secs: f64) -> Option<f64> {
    if count == 0 || secs <= 0.0 {
        None
    } else {
        r2(count as f64 / secs)
    }
}

/// Prints sent/received counts every few seconds while a load runs.
fn spawn_progress(sender: Arc<Sender>, arrivals: Arc<Arrivals>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            eprintln!(
                "[bench]   accepted {} deliveries, received {}",
                sender.accepted.load(Ordering::Relaxed),
                arrivals.distinct()
            );
        }
    })
}

async fn run_scenario(
    name: &str,
    load: Load,
    target: Target,
    opts: &Options,
    client: &reqwest::Client,
) -> Result<Report> {
    eprintln!("[bench] scenario {name}: {load:?}");
    let (sink, extra_env) = match target {
        Target::Webhook | Target::InApp { .. } | Target::Workflow | Target::Digest { .. } => {
            (Sink::Webhook(Receiver::counting().await), vec![])
        }
        Target::WebhookFlow => (
            Sink::Webhook(Receiver::counting().await),
            vec![(
                "MISSIVE__CHANNELS__WEBHOOK__RATE_LIMIT",
                "1000000/s".to_string(),
            )],
        ),
        Target::Email => {
            let sink = Sink::Email(SmtpServer::counting().await);
            let port = sink.address();
            let env = vec![
                ("MISSIVE__CHANNELS__EMAIL__PROVIDERS", "smtp".to_string()),
                (
                    "MISSIVE__CHANNELS__EMAIL__SMTP__HOST",
                    "127.0.0.1".to_string(),
                ),
                ("MISSIVE__CHANNELS__EMAIL__SMTP__PORT", port),
                ("MISSIVE__CHANNELS__EMAIL__SMTP__TLS", "none".to_string()),
                (
                    "MISSIVE__CHANNELS__EMAIL__SMTP__POOL_SIZE",
                    "16".to_string(),
                ),
            ];
            (sink, env)
        }
    };
    let mut servers = start_servers(opts, &extra_env).await?;
    let cpu_of =
        |servers: &[Server]| -> Option<u64> { servers.iter().map(|s| cpu_ticks(s.pid)).sum() };
    let sender = Arc::new(Sender {
        client: client.clone(),
        notifications_urls: servers
            .iter()
            .map(|s| format!("{}/v1/notifications", s.base_url))
            .collect(),
        next_url: AtomicUsize::new(0),
        auth: format!("Bearer {}", servers[0].api_key),
        hook_url: sink.address(),
        target,
        accepted: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        keys: opts.idempotency_keys.then(|| AtomicUsize::new(0)),
    });

    let idle_rss = status_mb(servers[0].pid, "VmRSS");
    let pg = opts.database_url.is_some();
    let db_cpu_before = pg.then(postgres_cpu_ticks).flatten();
    let cpu_before = cpu_of(&servers);
    let progress = spawn_progress(sender.clone(), sink.arrivals().clone());
    let start = Instant::now();
    let sent = match load {
        Load::ClosedLoop {
            requests,
            recipients,
            concurrency,
        } => run_closed_loop(sender.clone(), requests, recipients, concurrency).await,
        Load::OpenLoop { rate, duration } => run_open_loop(sender.clone(), rate, duration).await,
    };
    progress.abort();
    let sent = sent?;
    eprintln!(
        "[bench]   sending done: {} notifications, {} deliveries accepted, {} failed requests in {:.2}s",
        sent.notifications,
        sent.deliveries.len() + sent.not_sent,
        sent.failures,
        start.elapsed().as_secs_f64()
    );
    if sent.not_sent > 0 {
        eprintln!(
            "[bench]   {} deliveries were not queued (suppressed/failed)",
            sent.not_sent
        );
    }

    let expected = sent.deliveries.len();
    let complete = wait_for_deliveries(&sink, &mut servers, expected).await?;
    let cpu_after = cpu_of(&servers);
    let db_cpu_after = pg.then(postgres_cpu_ticks).flatten();
    let end = Instant::now();
    let peak_rss = status_mb(servers[0].pid, "VmHWM");

    // Match arrivals to accepted deliveries.
    let arrivals = sink.arrivals().first();
    let mut latencies = Vec::with_capacity(expected);
    let mut last_receipt: Option<Instant> = None;
    for (id, accepted_at) in &sent.deliveries {
        if let Some(arrived) = arrivals.get(id) {
            latencies.push(
                arrived
                    .saturating_duration_since(*accepted_at)
                    .as_secs_f64()
                    * 1000.0,
            );
            last_receipt = last_receipt.max(Some(*arrived));
        }
    }
    let matched = latencies.len();
    let unknown = arrivals.len().saturating_sub(matched);
    let duplicates = sink.arrivals().duplicates();
    let missing_id = sink.arrivals().missing_id();
    if unknown > 0 || duplicates > 0 || missing_id > 0 {
        eprintln!(
            "[bench]   receiver: {unknown} unknown delivery ids, {duplicates} duplicate requests, {missing_id} requests without webhook-id"
        );
    }
    let stats = Stats::new(latencies);

    let mut errors = Vec::new();
    if let Some(e) = &sent.first_error {
        let stopped = if sent.failures >= MAX_FAILURES {
            " (load stopped early)"
        } else {
            ""
        };
        errors.push(format!(
            "{} requests failed{stopped}, first: {e}",
            sent.failures
        ));
    }
    if !complete {
        errors.push(format!(
            "only {matched} of {expected} deliveries arrived within {}s",
            DELIVERY_DEADLINE.as_secs()
        ));
    }

    for server in &mut servers {
        server.stop().await?;
    }
    drop(sink);

    let accepted = sent.deliveries.len() + sent.not_sent;
    let accept_secs = sent
        .last_accept
        .map(|t| t.saturating_duration_since(start).as_secs_f64())
        .unwrap_or(0.0);
    let deliver_secs = last_receipt
        .map(|t| t.saturating_duration_since(start).as_secs_f64())
        .unwrap_or(0.0);
    let cpu_ms_per_delivery = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) if matched > 0 => {
            r2((a.saturating_sub(b)) as f64 / CLOCK_TICKS_PER_S * 1000.0 / matched as f64)
        }
        _ => None,
    };
    // First POST to the last receipt, or to the end of the wait when deliveries are missing.
    let elapsed = match last_receipt {
        Some(_) if complete => deliver_secs,
        _ => end.duration_since(start).as_secs_f64(),
    };

    Ok(Report {
        scenario: name.to_string(),
        backend: opts.backend(),
        notifications: sent.notifications,
        deliveries: accepted,
        accepted_per_s: per_s(accepted, accept_secs),
        delivered_per_s: per_s(matched, deliver_secs),
        p50_ms: stats.percentile(50.0).and_then(r2),
        p99_ms: stats.percentile(99.0).and_then(r2),
        cpu_ms_per_delivery,
        db_cpu_ms_per_delivery: match (db_cpu_before, db_cpu_after) {
            (Some(b), Some(a)) if matched > 0 => {
                r2((a.saturating_sub(b)) as f64 / CLOCK_TICKS_PER_S * 1000.0 / matched as f64)
            }
            _ => None,
        },
        peak_rss_mb: peak_rss.and_then(r2),
        idle_rss_mb: idle_rss.and_then(r2),
        elapsed_s: r2(elapsed),
        received: (!errors.is_empty()).then_some(matched),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    })
}

// ---------------------------------------------------------------------------
// In-app inbox fan-out
// ---------------------------------------------------------------------------

/// Recipients (`u_0`..), one open SSE stream each, in `inbox-fanout`
/// (scaled by `--n`).
const FANOUT_STREAMS: usize = 1_000;
/// How long opening every stream may take.
const STREAMS_DEADLINE: Duration = Duration::from_secs(60);

/// What the SSE clients saw.
#[derive(Default)]
struct StreamsState {
    /// delivery id -> (arrival, store→client latency in ms).
    arrivals: Mutex<HashMap<String, (Instant, f64)>>,
    duplicates: AtomicUsize,
    open: AtomicUsize,
    /// Streams that ended or failed before the scenario did.
    lost: AtomicUsize,
    first_error: Mutex<Option<String>>,
}

impl StreamsState {
    fn error(&self, e: String) {
        self.lost.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap();
        if first.is_none() {
            eprintln!("[bench] inbox stream failed: {e}");
            *first = Some(e);
        }
    }

    /// Records a `message` event's data.
    fn message(&self, data: &str) {
        let now = Instant::now();
        let wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        let Ok(m) = serde_json::from_str::<serde_json::Value>(data) else {
            return;
        };
        let stored_ms = m["created_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis() as f64);
        let (Some(id), Some(stored_ms)) = (m["delivery_id"].as_str(), stored_ms) else {
            return;
        };
        match self.arrivals.lock().unwrap().entry(id.to_string()) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert((now, (wall_ms - stored_ms).max(0.0)));
            }
        }
    }
}

/// Holds one recipient's SSE stream open, recording every message event.
async fn hold_stream(client: reqwest::Client, url: String, state: Arc<StreamsState>) {
    let mut resp = match client.get(&url).send().await {
        Ok(r) if r.status() == StatusCode::OK => r,
        Ok(r) => return state.error(format!("GET stream answered {}", r.status())),
        Err(e) => return state.error(format!("GET stream: {e}")),
    };
    state.open.fetch_add(1, Ordering::Relaxed);
    let mut buf = String::new();
    loop {
        match resp.chunk().await {
            Ok(Some(bytes)) => buf.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(None) => return state.error("the server closed a stream".into()),
            Err(e) => return state.error(format!("reading a stream: {e}")),
        }
        while let Some(at) = buf.find("\n\n") {
            let frame: String = buf.drain(..at + 2).collect();
            let mut event = "message";
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = if v.trim() == "message" {
                        "message"
                    } else {
                        "other"
                    };
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if event == "message" && !data.is_empty() {
                state.message(&data);
            }
        }
    }
}

/// A token for each recipient, then one SSE stream each.
async fn open_streams(
    server: &Server,
    client: &reqwest::Client,
    streams: usize,
    state: &Arc<StreamsState>,
) -> Result<Vec<JoinHandle<()>>> {
    use futures::StreamExt;
    let tokens: Vec<Result<String>> = futures::stream::iter(0..streams)
        .map(|i| async move {
            let resp = client
                .post(format!("{}/v1/recipients/u_{i}/token", server.base_url))
                .bearer_auth(&server.api_key)
                .send()
                .await
                .context("POST /v1/recipients/{id}/token")?;
            if resp.status() != StatusCode::CREATED {
                bail!("POST /v1/recipients/u_{i}/token answered {}", resp.status());
            }
            let v: serde_json::Value = resp.json().await?;
            v["token"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("no token in the answer"))
        })
        .buffered(32)
        .collect()
        .await;
    // Streams outlive any request timeout.
    let stream_client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("building the stream client")?;
    let mut tasks = Vec::with_capacity(streams);
    for (i, token) in tokens.into_iter().enumerate() {
        let url = format!(
            "{}/v1/recipients/u_{i}/inbox/stream?token={}",
            server.base_url, token?
        );
        tasks.push(tokio::spawn(hold_stream(
            stream_client.clone(),
            url,
            state.clone(),
        )));
    }
    let deadline = Instant::now() + STREAMS_DEADLINE;
    while state.open.load(Ordering::Relaxed) + state.lost.load(Ordering::Relaxed) < streams {
        if Instant::now() > deadline {
            bail!(
                "only {} of {streams} inbox streams opened within {}s",
                state.open.load(Ordering::Relaxed),
                STREAMS_DEADLINE.as_secs()
            );
        }
        sleep(Duration::from_millis(20)).await;
    }
    if let Some(e) = state.first_error.lock().unwrap().clone() {
        bail!(
            "{} inbox streams did not open, first: {e}",
            state.lost.load(Ordering::Relaxed)
        );
    }
    Ok(tasks)
}

/// `inbox-fanout`: 1,000 open SSE inbox streams (recipients u_0..u_999,
/// one token each), then 10,000 single-recipient in-app notifications
/// spread over them (closed loop, 64 clients). Reports delivered/s (first
/// POST to the last message event) and the latency from the message being
/// stored (its `created_at`) to its event arriving at the client (p50_ms,
/// p99_ms); same clock, millisecond resolution.
async fn run_inbox_fanout(
    name: &str,
    load: Load,
    opts: &Options,
    client: &reqwest::Client,
) -> Result<Report> {
    let Load::ClosedLoop {
        requests,
        recipients,
        concurrency,
    } = load
    else {
        bail!("inbox-fanout takes a closed-loop load");
    };
    let streams = opts.scaled(FANOUT_STREAMS);
    eprintln!("[bench] scenario {name}: {streams} streams, {load:?}");
    let env = [
        (
            "MISSIVE__INBOX__MAX_CONNECTIONS",
            (streams + 100).to_string(),
        ),
        (
            "MISSIVE__SERVER__MAX_CONNECTIONS",
            (streams + 1_000).to_string(),
        ),
    ];
    let mut server = start_server(opts, &env).await?;
    let state = Arc::new(StreamsState::default());
    let tasks = open_streams(&server, client, streams, &state).await?;
    eprintln!("[bench]   {streams} inbox streams open");

    let sender = Arc::new(Sender {
        client: client.clone(),
        notifications_urls: vec![format!("{}/v1/notifications", server.base_url)],
        next_url: AtomicUsize::new(0),
        auth: format!("Bearer {}", server.api_key),
        hook_url: String::new(),
        target: Target::InApp {
            recipients: streams,
        },
        accepted: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        keys: opts.idempotency_keys.then(|| AtomicUsize::new(0)),
    });
    let idle_rss = status_mb(server.pid, "VmRSS");
    let cpu_before = cpu_ticks(server.pid);
    let start = Instant::now();
    let sent = run_closed_loop(sender.clone(), requests, recipients, concurrency).await?;
    let expected = sent.deliveries.len();
    eprintln!(
        "[bench]   sending done: {expected} in-app deliveries accepted in {:.2}s",
        start.elapsed().as_secs_f64()
    );

    let deadline = Instant::now() + DELIVERY_DEADLINE;
    let mut next_progress = Instant::now() + PROGRESS_EVERY;
    let complete = loop {
        let received = state.arrivals.lock().unwrap().len();
        if received >= expected {
            break true;
        }
        if Instant::now() >= deadline || state.lost.load(Ordering::Relaxed) > 0 {
            break false;
        }
        server.check_alive()?;
        if Instant::now() >= next_progress {
            eprintln!("[bench]   waiting: {received}/{expected} messages received");
            next_progress += PROGRESS_EVERY;
        }
        sleep(Duration::from_millis(20)).await;
    };
    let cpu_after = cpu_ticks(server.pid);
    let end = Instant::now();
    let peak_rss = status_mb(server.pid, "VmHWM");
    for t in &tasks {
        t.abort();
    }
    server.stop().await?;

    let arrivals = std::mem::take(&mut *state.arrivals.lock().unwrap());
    let mut latencies = Vec::with_capacity(expected);
    let mut last_receipt: Option<Instant> = None;
    for (id, _) in &sent.deliveries {
        if let Some((at, ms)) = arrivals.get(id) {
            latencies.push(*ms);
            last_receipt = last_receipt.max(Some(*at));
        }
    }
    let matched = latencies.len();
    let duplicates = state.duplicates.load(Ordering::Relaxed);
    if duplicates > 0 {
        eprintln!("[bench]   {duplicates} message events arrived twice");
    }
    let stats = Stats::new(latencies);
    let mut errors = Vec::new();
    if let Some(e) = &sent.first_error {
        errors.push(format!("{} requests failed, first: {e}", sent.failures));
    }
    if let Some(e) = state.first_error.lock().unwrap().clone() {
        errors.push(format!(
            "{} streams ended early, first: {e}",
            state.lost.load(Ordering::Relaxed)
        ));
    }
    if !complete {
        errors.push(format!(
            "only {matched} of {expected} messages reached their stream"
        ));
    }
    let secs = |t: Option<Instant>| {
        t.map(|t| t.saturating_duration_since(start).as_secs_f64())
            .unwrap_or(0.0)
    };
    let deliver_secs = secs(last_receipt);
    Ok(Report {
        scenario: name.to_string(),
        backend: opts.backend(),
        notifications: sent.notifications,
        deliveries: expected + sent.not_sent,
        accepted_per_s: per_s(expected + sent.not_sent, secs(sent.last_accept)),
        delivered_per_s: per_s(matched, deliver_secs),
        p50_ms: stats.percentile(50.0).and_then(r2),
        p99_ms: stats.percentile(99.0).and_then(r2),
        cpu_ms_per_delivery: match (cpu_before, cpu_after) {
            (Some(b), Some(a)) if matched > 0 => {
                r2(a.saturating_sub(b) as f64 / CLOCK_TICKS_PER_S * 1000.0 / matched as f64)
            }
            _ => None,
        },
        db_cpu_ms_per_delivery: None,
        peak_rss_mb: peak_rss.and_then(r2),
        idle_rss_mb: idle_rss.and_then(r2),
        elapsed_s: r2(if complete {
            deliver_secs
        } else {
            end.duration_since(start).as_secs_f64()
        }),
        received: (!errors.is_empty()).then_some(matched),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    })
}

/// The (name, load) lines a scenario produces.
fn plan(scenario: Scenario, opts: &Options) -> Vec<(String, Load)> {
    match scenario {
        Scenario::Enqueue => vec![(
            "enqueue".into(),
            Load::ClosedLoop {
                requests: opts.scaled(20_000),
                recipients: 1,
                concurrency: 64,
            },
        )],
        Scenario::Batch => vec![(
            "batch".into(),
            Load::ClosedLoop {
                requests: opts.scaled(100),
                recipients: 1_000,
                concurrency: 4,
            },
        )],
        Scenario::E2eEmail => vec![(
            "e2e-email".into(),
            Load::ClosedLoop {
                requests: opts.scaled(10_000),
                recipients: 1,
                concurrency: 64,
            },
        )],
        Scenario::E2eWebhook => vec![(
            "e2e-webhook".into(),
            Load::ClosedLoop {
                requests: opts.scaled(20_000),
                recipients: 1,
                concurrency: 64,
            },
        )],
        Scenario::E2eWebhookFlow => vec![(
            "e2e-webhook-flow".into(),
            Load::ClosedLoop {
                requests: opts.scaled(20_000),
                recipients: 1,
                concurrency: 64,
            },
        )],
        Scenario::InboxFanout => vec![(
            "inbox-fanout".into(),
            Load::ClosedLoop {
                requests: opts.scaled(10_000),
                recipients: 1,
                concurrency: 64,
            },
        )],
        // Measures pages, not a load: see run_console_pages.
        Scenario::ConsolePages => vec![],
        // Loads of their own: see the workflows module.
        Scenario::Workflow | Scenario::Digest | Scenario::Fanout => vec![],
        Scenario::Latency => {
            let duration = Duration::from_secs_f64((10.0 * opts.scale).max(0.1));
            vec![
                (
                    "latency-100".into(),
                    Load::OpenLoop {
                        rate: 100.0,
                        duration,
                    },
                ),
                (
                    "latency-1000".into(),
                    Load::OpenLoop {
                        rate: 1_000.0,
                        duration,
                    },
                ),
            ]
        }
    }
}

async fn run(args: Args) -> Result<bool> {
    let scenarios = Scenario::parse_list(&args.scenarios)?;
    if !(args.n.is_finite() && args.n > 0.0) {
        bail!("--n must be a positive number, got {}", args.n);
    }
    let missive = match args.missive {
        Some(p) => p,
        None => std::env::current_exe()
            .context("locating the bench executable")?
            .parent()
            .ok_or_else(|| anyhow!("the bench executable has no parent directory"))?
            .join("missive"),
    };
    let opts = Options {
        missive,
        database_url: args.database_url,
        scale: args.n,
        instances: args.instances.max(1),
        idempotency_keys: args.idempotency_keys,
    };
    if opts.instances > 1 && opts.database_url.is_none() {
        bail!("--instances needs --database-url: SQLite serves one process");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(REQUEST_TIMEOUT)
        .no_proxy()
        .build()
        .context("building the HTTP client")?;

    let condition = workflows::Condition::parse(&args.workflow_condition)?;
    if !(args.window.is_finite() && args.window > 0.0) {
        bail!(
            "--window must be a positive number of seconds, got {}",
            args.window
        );
    }
    let mut all_ok = true;
    for scenario in scenarios {
        if scenario == Scenario::Workflow {
            let (plain, report) = workflows::run_workflow(&opts, &client, condition)
                .await
                .context("scenario workflow")?;
            for e in [plain.error.as_deref(), report.error.as_deref()]
                .into_iter()
                .flatten()
            {
                eprintln!("[bench] scenario workflow had errors: {e}");
                all_ok = false;
            }
            println!("{}", serde_json::to_string(&plain)?);
            println!("{}", serde_json::to_string(&report)?);
            continue;
        }
        if scenario == Scenario::Digest {
            let events = args.events.unwrap_or_else(|| opts.scaled(100_000));
            let report = workflows::run_digest(
                &opts,
                &client,
                events,
                args.digest_keys,
                Duration::from_secs_f64(args.window),
            )
            .await
            .context("scenario digest")?;
            if let Some(e) = &report.error {
                eprintln!("[bench] scenario digest had errors: {e}");
                all_ok = false;
            }
            println!("{}", serde_json::to_string(&report)?);
            continue;
        }
        if scenario == Scenario::Fanout {
            let report = fanout::run_fanout(&opts, &client)
                .await
                .context("scenario fanout")?;
            if let Some(e) = &report.error {
                eprintln!("[bench] scenario fanout had errors: {e}");
                all_ok = false;
            }
            println!("{}", serde_json::to_string(&report)?);
            continue;
        }
        if scenario == Scenario::ConsolePages {
            let report = run_console_pages(&opts, &client)
                .await
                .context("scenario console-pages")?;
            println!("{}", serde_json::to_string(&report)?);
            continue;
        }
        for (name, load) in plan(scenario, &opts) {
            let report = match scenario {
                Scenario::InboxFanout => run_inbox_fanout(&name, load, &opts, &client).await,
                Scenario::E2eEmail => {
                    run_scenario(&name, load, Target::Email, &opts, &client).await
                }
                Scenario::E2eWebhookFlow => {
                    run_scenario(&name, load, Target::WebhookFlow, &opts, &client).await
                }
                _ => run_scenario(&name, load, Target::Webhook, &opts, &client).await,
            }
            .with_context(|| format!("scenario {name}"))?;
            if let Some(e) = &report.error {
                eprintln!("[bench] scenario {name} had errors: {e}");
                all_ok = false;
            }
            println!("{}", serde_json::to_string(&report)?);
        }
    }
    Ok(all_ok)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("missive-bench: error: starting the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // On Ctrl-C the run future is dropped, which kills and cleans up the server child.
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run(args) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("missive-bench: some scenarios reported errors (see the \"error\" fields)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("missive-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------
// console-pages: page times over a large delivery log
// ---------------------------------------------------------------------------

/// How far back the generated deliveries reach.
const CONSOLE_SPAN_MS: i64 = 3 * 86_400_000;
/// Distinct recipients the generated deliveries go to.
const CONSOLE_RECIPIENTS: i64 = 10_000;
/// How many times each page is fetched (after one warm-up fetch).
const CONSOLE_REPEATS: usize = 20;
/// How many `Older →` links the deep page follows.
const CONSOLE_DEEP_PAGES: usize = 20;

/// One result line of `console-pages`.
#[derive(Serialize)]
struct PagesReport {
    scenario: &'static str,
    backend: &'static str,
    deliveries: usize,
    fill_s: Option<f64>,
    repeats: usize,
    pages: Vec<PageTime>,
}

#[derive(Serialize)]
struct PageTime {
    page: String,
    path: String,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

/// SQL for the hex digits of `expr` padded to `width`.
fn hex_sql(pg: bool, expr: &str, width: usize) -> String {
    if pg {
        format!("lpad(to_hex({expr}), {width}, '0')")
    } else {
        format!("printf('%0{width}x', {expr})")
    }
}

/// The statements that fill a fresh database with `n` deliveries, one
/// notification each, attempts for the failed ones and every tenth sent one,
/// and the recipients they go to. Every value is derived from the row
/// number, so both backends get the same data. Ids have the UUIDv7 layout
/// (48-bit millisecond time first), so they sort by time like real ones.
fn console_fill_sql(pg: bool, n: i64, now: i64) -> Vec<String> {
    let start = now - CONSOLE_SPAN_MS;
    let series = if pg {
        format!("SELECT i FROM generate_series(0::bigint, {n} - 1) AS i")
    } else {
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n}) SELECT i FROM s"
        )
    };
    let id = |variant: &str| {
        format!(
            "{} || '-' || {} || '-{variant}-8000-' || {}",
            hex_sql(pg, "ts / 65536", 8),
            hex_sql(pg, "ts % 65536", 4),
            hex_sql(pg, "i", 12)
        )
    };
    let (delivery_id, notification_id) = (id("7000"), id("7001"));
    // Row number → time, status (85% sent, 6% failed, 4.5% suppressed, 1%
    // cancelled, 2% queued, 1.5% scheduled), channel, recipient, template.
    let gen = format!(
        "WITH g AS (SELECT i, {start} + i * {CONSOLE_SPAN_MS} / {n} AS ts, \
           CASE WHEN (i * 761) % 1000 < 850 THEN 'sent' WHEN (i * 761) % 1000 < 910 THEN 'failed' \
                WHEN (i * 761) % 1000 < 955 THEN 'suppressed' WHEN (i * 761) % 1000 < 965 THEN 'cancelled' \
                WHEN (i * 761) % 1000 < 985 THEN 'queued' ELSE 'scheduled' END AS status, \
           CASE WHEN (i * 37) % 100 < 40 THEN 'email' WHEN (i * 37) % 100 < 80 THEN 'webhook' \
                WHEN (i * 37) % 100 < 95 THEN 'sms' ELSE 'in_app' END AS channel, \
           'user_' || ((i * 7919) % {CONSOLE_RECIPIENTS}) AS recipient, \
           CASE (i / 3) % 5 WHEN 1 THEN 'welcome' WHEN 2 THEN 'receipt' WHEN 3 THEN 'password-reset' \
                WHEN 4 THEN 'weekly-digest' END AS template_key \
         FROM ({series}) AS s) "
    );
    let category = "CASE template_key WHEN 'password-reset' THEN 'auth' \
                    WHEN 'weekly-digest' THEN 'marketing' ELSE 'transactional' END";
    vec![
        format!(
            "INSERT INTO recipients (id, email, preferences, created_at, updated_at) \
             SELECT 'user_' || i, 'user_' || i || '@example.com', '{{}}', {start}, {start} \
             FROM ({}) AS s",
            if pg {
                format!("SELECT i FROM generate_series(0::bigint, {CONSOLE_RECIPIENTS} - 1) AS i")
            } else {
                format!(
                    "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {CONSOLE_RECIPIENTS}) SELECT i FROM s"
                )
            }
        ),
        format!(
            "INSERT INTO notifications (id, template_key, template_version, data, category, priority, created_at) \
             {gen} SELECT {notification_id}, template_key, CASE WHEN template_key IS NULL THEN NULL ELSE 1 END, \
             '{{\"order\":42}}', {category}, 'normal', ts FROM g"
        ),
        format!(
            "INSERT INTO deliveries (id, notification_id, template_key, recipient, recipient_data, channel, \
               category, address, content, status, reason, priority, attempts, due_at, last_error, provider, \
               created_at, updated_at) \
             {gen} SELECT {delivery_id}, {notification_id}, template_key, recipient, \
               '{{\"id\":\"' || recipient || '\"}}', channel, {category}, \
               CASE channel WHEN 'email' THEN recipient || '@example.com' \
                 WHEN 'webhook' THEN 'https://hooks.example.com/' || recipient \
                 WHEN 'sms' THEN '+1555' || ((i * 7919) % {CONSOLE_RECIPIENTS} + 1000000) ELSE recipient END, \
               '{{\"subject\":\"Your order\",\"text\":\"Order 42 is on its way.\"}}', status, \
               CASE status WHEN 'failed' THEN 'provider refused the message' \
                 WHEN 'suppressed' THEN 'preferences' WHEN 'cancelled' THEN 'cancelled by request' END, \
               1, CASE status WHEN 'sent' THEN 1 WHEN 'failed' THEN 3 ELSE 0 END, \
               CASE WHEN status IN ('queued', 'scheduled') THEN {now} + 3600000 + i END, \
               CASE status WHEN 'failed' THEN '550 mailbox unavailable' END, \
               CASE WHEN status IN ('sent', 'failed') THEN channel END, ts, ts + 1500 FROM g"
        ),
        format!(
            "INSERT INTO delivery_attempts (delivery_id, number, provider, started_at, duration_ms, outcome, \
               status_code, response, error) \
             {gen} SELECT {delivery_id}, 1, channel, ts + 1000, 120, \
               CASE status WHEN 'sent' THEN 'ok' ELSE 'permanent' END, \
               CASE status WHEN 'sent' THEN 200 ELSE 550 END, \
               CASE status WHEN 'sent' THEN 'accepted' END, \
               CASE status WHEN 'failed' THEN '550 mailbox unavailable' END \
             FROM g WHERE status = 'failed' OR (status = 'sent' AND i % 10 = 0)"
        ),
        // The per-minute statistics the writer would have kept for them:
        // each finished delivery counted at its `updated_at`, the sent ones'
        // 1.5 s from accepted to sent in the ≤ 2048 ms bucket (h11).
        format!(
            "INSERT INTO delivery_stats (minute, template, channel, provider, status, reason, shard, \
               n, {hs}) \
             SELECT updated_at - updated_at % 60000, COALESCE(template_key, ''), channel, \
               COALESCE(provider, ''), status, COALESCE(reason, ''), 0, COUNT(*), {vals} \
             FROM deliveries WHERE status IN ('sent', 'failed', 'suppressed') \
             GROUP BY 1, 2, 3, 4, 5, 6",
            hs = (0..20).map(|i| format!("h{i}")).collect::<Vec<_>>().join(", "),
            vals = (0..20)
                .map(|i| if i == 11 {
                    "SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END)".to_string()
                } else {
                    "0".to_string()
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
        // And the same per hour, as the writer upserts them beside the
        // minutes.
        format!(
            "INSERT INTO delivery_stats_hourly (hour, template, channel, provider, status, reason, \
               shard, n, {hs}) \
             SELECT minute - minute % 3600000, template, channel, provider, status, reason, shard, \
               SUM(n), {sums} \
             FROM delivery_stats GROUP BY 1, 2, 3, 4, 5, 6, 7",
            hs = (0..20).map(|i| format!("h{i}")).collect::<Vec<_>>().join(", "),
            sums = (0..20)
                .map(|i| format!("SUM(h{i})"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ]
}

/// Runs [`console_fill_sql`] on `$pool` in one transaction (a macro: the
/// two backends' pools are different types).
macro_rules! fill_in_one_transaction {
    ($pool:expr, $pg:expr, $n:expr, $now:expr) => {{
        let mut tx = $pool.begin().await?;
        for sql in console_fill_sql($pg, $n, $now) {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }};
}

/// Fills the server's database directly (much faster than the API).
async fn console_fill(server: &Server, n: i64) -> Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
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
            fill_in_one_transaction!(pool, true, n, now);
            // What autovacuum soon does on its own: statistics, and the
            // visibility map that lets index-only scans skip the table.
            sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
            pool.close().await;
        }
        None => {
            use sqlx::sqlite::SqliteConnectOptions;
            let options = SqliteConnectOptions::new()
                .filename(server.dir.join("missive.db"))
                .busy_timeout(Duration::from_secs(30))
                .pragma("cache_size", "-262144");
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .context("opening the SQLite database")?;
            fill_in_one_transaction!(pool, false, n, now);
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&pool)
                .await?;
            pool.close().await;
        }
    }
    Ok(())
}

/// Signs in to the console with the admin key; returns the session cookie.
async fn console_login(server: &Server) -> Result<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()?;
    let body = serde_urlencoded::to_string([("key", server.api_key.as_str())])?;
    let resp = client
        .post(format!("{}/console/login", server.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    let status = resp.status();
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("missive_session="))
        .and_then(|v| v.split(';').next())
        .map(String::from)
        .ok_or_else(|| anyhow!("console sign-in answered {status} without a session cookie"))
}

/// GETs `path` once and returns the body; errors unless the answer is 200.
async fn console_get(
    client: &reqwest::Client,
    server: &Server,
    cookie: &str,
    path: &str,
) -> Result<String> {
    let resp = client
        .get(format!("{}{path}", server.base_url))
        .header("cookie", cookie)
        .bearer_auth(&server.api_key)
        .send()
        .await?;
    let status = resp.status();
    let body = resp.text().await?;
    if status != StatusCode::OK {
        bail!("GET {path}: {status}: {}", truncate(&body, 300));
    }
    Ok(body)
}

/// The `Older →` link of a delivery list page.
fn older_link(html: &str) -> Option<String> {
    let tag = &html[html.find("<a class=\"older\"")?..];
    let href = &tag[tag.find("href=\"")? + 6..];
    Some(href[..href.find('"')?].replace("&amp;", "&"))
}

async fn run_console_pages(opts: &Options, client: &reqwest::Client) -> Result<PagesReport> {
    let n = opts.scaled(1_000_000);
    eprintln!("[bench] scenario console-pages: {n} deliveries");
    let mut server = start_server(opts, &[]).await?;
    let fill_start = Instant::now();
    console_fill(&server, n as i64)
        .await
        .context("filling the database")?;
    let fill_s = fill_start.elapsed().as_secs_f64();
    eprintln!("[bench]   filled in {fill_s:.1}s");
    server.check_alive()?;
    let cookie = console_login(&server).await?;

    // Ids to look at: a failed delivery (it has an attempt), a recipient.
    let api: serde_json::Value = serde_json::from_str(
        &console_get(
            client,
            &server,
            &cookie,
            "/v1/deliveries?status=failed&limit=1",
        )
        .await?,
    )?;
    let failed_id = api["items"][0]["id"]
        .as_str()
        .ok_or_else(|| anyhow!("no failed delivery in the list: {api}"))?
        .to_string();
    let fmt = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let now = chrono::Utc::now().timestamp_millis();
    let (since, until) = (fmt(now - 26 * 3_600_000), fmt(now - 24 * 3_600_000));

    let mut deep = "/console/deliveries".to_string();
    for _ in 0..CONSOLE_DEEP_PAGES {
        let html = console_get(client, &server, &cookie, &deep).await?;
        deep = older_link(&html).ok_or_else(|| anyhow!("no older link on {deep}"))?;
    }

    let pages: Vec<(&str, String)> = vec![
        ("overview", "/console".into()),
        ("deliveries", "/console/deliveries".into()),
        ("status=failed", "/console/deliveries?status=failed".into()),
        ("channel=sms", "/console/deliveries?channel=sms".into()),
        (
            "status=failed&channel=sms",
            "/console/deliveries?status=failed&channel=sms".into(),
        ),
        (
            "recipient",
            "/console/deliveries?recipient=user_4242".into(),
        ),
        (
            "template",
            "/console/deliveries?template=password-reset".into(),
        ),
        (
            "time range (2 h, a day ago)",
            format!("/console/deliveries?since={since}&until={until}"),
        ),
        (
            "time range + status=failed",
            format!("/console/deliveries?status=failed&since={since}&until={until}"),
        ),
        ("page 21 (20 × Older)", deep),
        ("delivery", format!("/console/deliveries/{failed_id}")),
        ("recipient page", "/console/recipients?id=user_4242".into()),
        (
            "API /v1/deliveries?status=failed",
            "/v1/deliveries?status=failed".into(),
        ),
        ("stats page (7 days)", "/console/stats?window=7d".into()),
        (
            "API /v1/stats?group_by=template&window=7d",
            "/v1/stats?group_by=template&window=7d".into(),
        ),
        (
            "API /v1/stats?group_by=provider&window=1h",
            "/v1/stats?group_by=provider&window=1h".into(),
        ),
    ];
    let mut times = Vec::new();
    for (name, path) in pages {
        console_get(client, &server, &cookie, &path).await?;
        let mut samples = Vec::with_capacity(CONSOLE_REPEATS);
        for _ in 0..CONSOLE_REPEATS {
            let t = Instant::now();
            console_get(client, &server, &cookie, &path).await?;
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let stats = Stats::new(samples);
        let (p50, p99) = (
            stats.percentile(50.0).and_then(r2),
            stats.percentile(99.0).and_then(r2),
        );
        eprintln!("[bench]   {name:<34} p50 {p50:?} ms, p99 {p99:?} ms");
        times.push(PageTime {
            page: name.to_string(),
            path,
            p50_ms: p50,
            p99_ms: p99,
        });
    }
    server.stop().await?;
    Ok(PagesReport {
        scenario: "console-pages",
        backend: opts.backend(),
        deliveries: n,
        fill_s: r2(fill_s),
        repeats: CONSOLE_REPEATS,
        pages: times,
    })
}
