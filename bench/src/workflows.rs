//! `workflow` and `digest`: what the run engine costs end to end.
//!
//! `workflow` runs a two-step escalation per trigger (a webhook, then a
//! second webhook only once the first was delivered: `{"step": "first",
//! "is": "sent"}`, or with `--workflow-condition field` a condition on the
//! data, which the run decides without waiting) and, on a fresh server in
//! the same invocation, the plain send it replaces (two webhook deliveries
//! per notification), so the overhead comes from one run.
//!
//! `digest` sends 100,000 events (`--events`) over 1,000 digest keys
//! (`--digest-keys`) to one recipient, each key's events one after another
//! so they all land in its window (`--window`), then waits for the 1,000
//! digest webhooks and checks each one's `count` and events against what
//! was sent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use missive_testkit::Receiver;
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::sleep;

use crate::{
    cpu_ticks, per_s, postgres_cpu_ticks, r2, run_closed_loop, run_scenario, spawn_progress,
    start_servers, status_mb, Load, Options, Report, Sender, Server, Stats, Target,
    CLOCK_TICKS_PER_S, MAX_FAILURES, PROGRESS_EVERY,
};

/// The workflow `workflow` triggers.
pub(crate) const ESCALATION_KEY: &str = "bench-escalation";
/// The workflow `digest` triggers.
pub(crate) const DIGEST_KEY: &str = "bench-digest";
/// The one recipient of every digest event.
pub(crate) const DIGEST_RECIPIENT: &str = "bench-digest-reader";
/// Client tasks sending at once (as e2e-webhook).
const CONCURRENCY: usize = 64;
/// How long, after the load, every run may take to send both webhooks.
/// A step waiting on a delivery looks again after 1 s, doubling to 60 s.
const RUNS_DEADLINE: Duration = Duration::from_secs(300);
/// How long, after the load and the window, the digests may take to arrive.
const DIGESTS_DEADLINE: Duration = Duration::from_secs(600);

/// How the second step of the escalation is conditioned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Condition {
    /// `{"step": "first", "is": "sent"}`: the run waits for the first
    /// webhook's outcome (looks again after 1 s, doubling).
    Sent,
    /// `{"field": "data.n", "op": "gte", "value": 0}`: decided at once.
    Field,
}

impl Condition {
    pub(crate) fn parse(s: &str) -> Result<Condition> {
        match s {
            "sent" => Ok(Condition::Sent),
            "field" => Ok(Condition::Field),
            other => bail!("--workflow-condition {other:?}: expected sent or field"),
        }
    }

    fn json(self) -> Value {
        match self {
            Condition::Sent => json!([{"step": "first", "is": "sent"}]),
            Condition::Field => json!([{"field": "data.n", "op": "gte", "value": 0}]),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Condition::Sent => "step first is sent",
            Condition::Field => "data.n gte 0",
        }
    }
}

/// The escalation: a webhook, then a second one if the condition holds.
/// Each body says which run (`n`) and step it is.
fn escalation(condition: Condition) -> Value {
    let body = |step: u32| json!({"webhook": {"body": format!("{{\"n\": {{{{json n}}}}, \"step\": {step}}}")}});
    json!({"name": "Bench escalation", "steps": [
        {"id": "first", "type": "send", "channel": "webhook", "content": body(1)},
        {"id": "escalate", "type": "send", "channel": "webhook", "content": body(2),
         "if": condition.json()}
    ]})
}

/// The digest: events merged per `data.key` for `window`, then one webhook
/// with the key, the count and every event's `n`.
fn digest(window: &str, max_events: usize) -> Value {
    json!({"name": "Bench digest", "steps": [
        {"id": "collect", "type": "digest", "key": "{{data.key}}", "window": window,
         "max_events": max_events},
        {"id": "send", "type": "send", "channel": "webhook", "content": {"webhook": {"body":
            "{\"key\": {{json key}}, \"count\": {{count}}, \"ns\": [{{#each events}}{{json n}}{{#unless @last}},{{/unless}}{{/each}}]}"}}}
    ]})
}

/// The digest key of event `n` of `events` over `keys`: each key's events
/// are consecutive.
pub(crate) fn digest_key(n: usize, events: usize, keys: usize) -> String {
    format!("k{}", n * keys / events)
}

async fn put_workflow(
    server: &Server,
    client: &reqwest::Client,
    key: &str,
    wf: &Value,
) -> Result<()> {
    let resp = client
        .put(format!("{}/v1/workflows/{key}", server.base_url))
        .bearer_auth(&server.api_key)
        .json(wf)
        .send()
        .await
        .with_context(|| format!("PUT /v1/workflows/{key}"))?;
    let status = resp.status();
    if !matches!(status, StatusCode::CREATED | StatusCode::OK) {
        bail!(
            "PUT /v1/workflows/{key} answered {status}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

fn sender_for(
    servers: &[Server],
    client: &reqwest::Client,
    hook_url: String,
    target: Target,
) -> Arc<Sender> {
    Arc::new(Sender {
        client: client.clone(),
        notifications_urls: servers
            .iter()
            .map(|s| format!("{}/v1/notifications", s.base_url))
            .collect(),
        next_url: AtomicUsize::new(0),
        auth: format!("Bearer {}", servers[0].api_key),
        hook_url,
        target,
        accepted: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        keys: None,
    })
}

fn cpu_of(servers: &[Server]) -> Option<u64> {
    servers.iter().map(|s| cpu_ticks(s.pid)).sum()
}

/// CPU ms per unit between two readings.
fn ms_per(before: Option<u64>, after: Option<u64>, units: usize) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if units > 0 => {
            r2(a.saturating_sub(b) as f64 / CLOCK_TICKS_PER_S * 1000.0 / units as f64)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Looking at the database afterwards
// ---------------------------------------------------------------------------

/// A second connection to the server's database, to read what the runs
/// left behind once the load is over.
enum Db {
    Pg(sqlx::PgPool),
    Lite(sqlx::SqlitePool),
}

impl Db {
    async fn open(server: &Server) -> Result<Db> {
        Ok(match &server.pg_schema {
            Some((url, schema)) => {
                let options: sqlx::postgres::PgConnectOptions =
                    url.parse().context("parsing --database-url")?;
                let options = options.options([("search_path", schema.as_str())]);
                Db::Pg(
                    sqlx::postgres::PgPoolOptions::new()
                        .max_connections(1)
                        .connect_with(options)
                        .await
                        .context("connecting to PostgreSQL")?,
                )
            }
            None => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(server.dir.join("missive.db"))
                    .busy_timeout(Duration::from_secs(30));
                Db::Lite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(options)
                        .await
                        .context("opening the SQLite database")?,
                )
            }
        })
    }

    /// Rows of (text, count).
    async fn pairs(&self, sql: &'static str) -> Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> = match self {
            Db::Pg(p) => sqlx::query_as(sql).fetch_all(p).await?,
            Db::Lite(p) => sqlx::query_as(sql).fetch_all(p).await?,
        };
        Ok(rows.into_iter().collect())
    }

    /// One nullable number.
    async fn scalar(&self, sql: &'static str) -> Result<Option<i64>> {
        let row: (Option<i64>,) = match self {
            Db::Pg(p) => sqlx::query_as(sql).fetch_one(p).await?,
            Db::Lite(p) => sqlx::query_as(sql).fetch_one(p).await?,
        };
        Ok(row.0)
    }

    async fn close(self) {
        match self {
            Db::Pg(p) => p.close().await,
            Db::Lite(p) => p.close().await,
        }
    }
}

/// Run rows by status.
const RUNS_BY_STATUS: &str =
    "SELECT status, COUNT(*) FROM deliveries WHERE channel = 'workflow' GROUP BY status";

/// Whether the runs all ended `sent` (the status of a finished run's row).
fn unfinished_runs(by_status: &BTreeMap<String, i64>) -> i64 {
    by_status
        .iter()
        .filter(|(s, _)| s.as_str() != "sent")
        .map(|(_, n)| n)
        .sum()
}

// ---------------------------------------------------------------------------
// workflow
// ---------------------------------------------------------------------------

/// The `workflow` line.
#[derive(Serialize)]
pub(crate) struct WorkflowReport {
    scenario: &'static str,
    backend: &'static str,
    /// The second step's condition.
    condition: &'static str,
    /// Triggers answered 202 (one run each).
    runs: usize,
    /// Runs whose two webhooks both arrived.
    runs_completed: usize,
    /// Distinct webhooks received (two per run).
    webhooks: usize,
    accepted_per_s: Option<f64>,
    /// Completed runs per second, first POST to the last run's second webhook.
    runs_per_s: Option<f64>,
    /// Webhooks per second, first POST to the last webhook.
    webhooks_per_s: Option<f64>,
    /// A run's 202 to its second webhook.
    run_p50_ms: Option<f64>,
    run_p99_ms: Option<f64>,
    cpu_ms_per_run: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    db_cpu_ms_per_run: Option<f64>,
    peak_rss_mb: Option<f64>,
    elapsed_s: Option<f64>,
    /// The run rows by status once everything arrived (all `sent`).
    runs_by_status: BTreeMap<String, i64>,
    /// The plain send of two webhooks per notification, measured just before.
    plain_notifications_per_s: Option<f64>,
    plain_webhooks_per_s: Option<f64>,
    plain_cpu_ms_per_notification: Option<f64>,
    /// Server CPU per run over CPU per plain notification (same webhooks).
    cpu_ratio_over_plain: Option<f64>,
    /// Plain notifications per second over runs per second.
    throughput_ratio_plain_over_workflow: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// Runs `workflow`: the plain send first (printed as its own line), then
/// the workflow; returns the workflow's line.
pub(crate) async fn run_workflow(
    opts: &Options,
    client: &reqwest::Client,
    condition: Condition,
) -> Result<(Report, WorkflowReport)> {
    let runs = opts.scaled(10_000);
    let plain = run_scenario(
        "workflow-plain",
        Load::ClosedLoop {
            requests: runs,
            recipients: 2,
            concurrency: CONCURRENCY,
        },
        Target::Webhook,
        opts,
        client,
    )
    .await
    .context("scenario workflow-plain")?;

    eprintln!(
        "[bench] scenario workflow: {runs} runs of a two-step escalation (second step if {}), {CONCURRENCY} clients",
        condition.describe()
    );
    // Keeps every request: the bodies say which run and step each is.
    let rx = Receiver::start().await;
    let mut servers = start_servers(opts, &[]).await?;
    put_workflow(&servers[0], client, ESCALATION_KEY, &escalation(condition)).await?;
    let sender = sender_for(&servers, client, rx.url.clone(), Target::Workflow);

    let pg = opts.database_url.is_some();
    let db_cpu_before = pg.then(postgres_cpu_ticks).flatten();
    let cpu_before = cpu_of(&servers);
    let progress = spawn_progress(sender.clone(), rx.arrivals().clone());
    let start = Instant::now();
    let sent = run_closed_loop(sender.clone(), runs, 1, CONCURRENCY).await;
    progress.abort();
    let sent = sent?;
    eprintln!(
        "[bench]   sending done: {} runs triggered, {} failed requests in {:.2}s",
        sent.notifications,
        sent.failures,
        start.elapsed().as_secs_f64()
    );
    let expected = 2 * sent.notifications;
    let deadline = Instant::now() + RUNS_DEADLINE;
    let mut next_progress = Instant::now() + PROGRESS_EVERY;
    let complete = loop {
        let got = rx.arrivals().distinct();
        if got >= expected {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        for s in servers.iter_mut() {
            s.check_alive()?;
        }
        if Instant::now() >= next_progress {
            eprintln!("[bench]   waiting: {got}/{expected} webhooks received");
            next_progress += PROGRESS_EVERY;
        }
        sleep(Duration::from_millis(20)).await;
    };
    let cpu_after = cpu_of(&servers);
    let db_cpu_after = pg.then(postgres_cpu_ticks).flatten();
    let end = Instant::now();
    let peak_rss = status_mb(servers[0].pid, "VmHWM");
    // Every webhook sent is in; what the rows say.
    let db = Db::open(&servers[0]).await?;
    let runs_by_status = db.pairs(RUNS_BY_STATUS).await?;
    db.close().await;
    for s in &mut servers {
        s.stop().await?;
    }

    // Which run and step each webhook was.
    let accepted_at: HashMap<usize, Instant> = sent.by_n.iter().copied().collect();
    let mut steps: HashMap<usize, [Option<Instant>; 2]> = HashMap::new();
    let mut unreadable = 0usize;
    let mut repeated = 0usize;
    for r in rx.received() {
        let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        let (Some(n), Some(step)) = (v["n"].as_u64(), v["step"].as_u64()) else {
            unreadable += 1;
            continue;
        };
        if !(1..=2).contains(&step) {
            unreadable += 1;
            continue;
        }
        let slot = &mut steps.entry(n as usize).or_default()[step as usize - 1];
        if slot.is_some() {
            repeated += 1;
        } else {
            *slot = Some(r.at);
        }
    }
    let webhooks = rx.arrivals().distinct();
    let mut latencies = Vec::with_capacity(accepted_at.len());
    let mut last_run: Option<Instant> = None;
    let mut last_webhook: Option<Instant> = None;
    let mut second_before_first = 0usize;
    for (n, at) in &accepted_at {
        let Some([first, second]) = steps.get(n) else {
            continue;
        };
        last_webhook = last_webhook.max(*first).max(*second);
        if let (Some(first), Some(second)) = (first, second) {
            if condition == Condition::Sent && second < first {
                second_before_first += 1;
            }
            latencies.push(second.saturating_duration_since(*at).as_secs_f64() * 1000.0);
            last_run = last_run.max(Some(*second));
        }
    }
    let completed = latencies.len();
    let stats = Stats::new(latencies);

    let mut errors = Vec::new();
    if let Some(e) = &sent.first_error {
        let stopped = if sent.failures >= MAX_FAILURES {
            " (load stopped early)"
        } else {
            ""
        };
        errors.push(format!(
            "{} triggers failed{stopped}, first: {e}",
            sent.failures
        ));
    }
    if !complete {
        errors.push(format!(
            "only {webhooks} of {expected} webhooks ({completed} of {} runs complete) arrived within {}s of the load",
            sent.notifications,
            RUNS_DEADLINE.as_secs()
        ));
    }
    if unreadable > 0 || repeated > 0 || rx.arrivals().duplicates() > 0 {
        errors.push(format!(
            "{unreadable} webhooks not from a run's step, {repeated} steps delivered twice, {} repeated webhook ids",
            rx.arrivals().duplicates()
        ));
    }
    if second_before_first > 0 {
        errors.push(format!(
            "{second_before_first} runs' second webhook arrived before their first"
        ));
    }
    let unfinished = unfinished_runs(&runs_by_status);
    if complete && unfinished > 0 {
        errors.push(format!(
            "every webhook arrived but {unfinished} run rows are not finished: {runs_by_status:?}"
        ));
    }

    let secs = |t: Option<Instant>| {
        t.map(|t| t.saturating_duration_since(start).as_secs_f64())
            .unwrap_or(0.0)
    };
    let runs_per_s = per_s(completed, secs(last_run));
    // Two deliveries per plain notification.
    let plain_notifications_per_s = plain.delivered_per_s.map(|d| d / 2.0).and_then(r2);
    let plain_cpu = plain.cpu_ms_per_delivery.map(|c| c * 2.0).and_then(r2);
    let cpu_ms_per_run = ms_per(cpu_before, cpu_after, completed);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => r2(a / b),
        _ => None,
    };
    let report = WorkflowReport {
        scenario: "workflow",
        backend: opts.backend(),
        condition: condition.describe(),
        runs: sent.notifications,
        runs_completed: completed,
        webhooks,
        accepted_per_s: per_s(sent.notifications, secs(sent.last_accept)),
        runs_per_s,
        webhooks_per_s: per_s(webhooks, secs(last_webhook)),
        run_p50_ms: stats.percentile(50.0).and_then(r2),
        run_p99_ms: stats.percentile(99.0).and_then(r2),
        cpu_ms_per_run,
        db_cpu_ms_per_run: ms_per(db_cpu_before, db_cpu_after, completed),
        peak_rss_mb: peak_rss.and_then(r2),
        elapsed_s: r2(if complete {
            secs(last_webhook)
        } else {
            end.duration_since(start).as_secs_f64()
        }),
        runs_by_status,
        plain_notifications_per_s,
        plain_webhooks_per_s: plain.delivered_per_s,
        plain_cpu_ms_per_notification: plain_cpu,
        cpu_ratio_over_plain: ratio(cpu_ms_per_run, plain_cpu),
        throughput_ratio_plain_over_workflow: ratio(plain_notifications_per_s, runs_per_s),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    };
    Ok((plain, report))
}

// ---------------------------------------------------------------------------
// digest
// ---------------------------------------------------------------------------

/// The `digest` line.
#[derive(Serialize)]
pub(crate) struct DigestReport {
    scenario: &'static str,
    backend: &'static str,
    /// Events answered 202 (one run each).
    events: usize,
    keys: usize,
    window_s: f64,
    /// Events accepted per second (first POST to the last 202).
    events_accepted_per_s: Option<f64>,
    accept_s: Option<f64>,
    /// First POST to the last event merged into its digest by a worker
    /// (the last `merged into` step record's time).
    merged_s: Option<f64>,
    /// Events merged per second by the workers (first POST to the last merge).
    events_merged_per_s: Option<f64>,
    /// Digest webhooks received (one per key when right).
    digests: usize,
    /// First POST to the last digest webhook.
    all_digests_s: Option<f64>,
    /// Last 202 to the last digest webhook (includes one window).
    after_last_accept_s: Option<f64>,
    /// How late digests came: arrival minus (their key's first 202 + the
    /// window), median and worst.
    late_p50_s: Option<f64>,
    late_max_s: Option<f64>,
    /// Widest spread of one key's 202s (must stay below the window).
    widest_key_spread_s: Option<f64>,
    cpu_ms_per_event: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    db_cpu_ms_per_event: Option<f64>,
    peak_rss_mb: Option<f64>,
    /// Every run row by status at the end (all `sent`).
    runs_by_status: BTreeMap<String, i64>,
    /// Digests still open at the end (0).
    open_digests: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// One digest webhook, read.
struct Digest {
    key: String,
    count: usize,
    ns: Vec<usize>,
    at: Instant,
}

fn read_digests(rx: &Receiver) -> (Vec<Digest>, usize) {
    let mut out = Vec::new();
    let mut unreadable = 0;
    for r in rx.received() {
        let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        let ns: Option<Vec<usize>> = v["ns"]
            .as_array()
            .and_then(|a| a.iter().map(|n| n.as_u64().map(|n| n as usize)).collect());
        match (v["key"].as_str(), v["count"].as_u64(), ns) {
            (Some(key), Some(count), Some(ns)) => out.push(Digest {
                key: key.to_string(),
                count: count as usize,
                ns,
                at: r.at,
            }),
            _ => unreadable += 1,
        }
    }
    (out, unreadable)
}

pub(crate) async fn run_digest(
    opts: &Options,
    client: &reqwest::Client,
    events: usize,
    keys: usize,
    window: Duration,
) -> Result<DigestReport> {
    if keys == 0 || events < keys {
        bail!(
            "--events ({events}) must be at least --digest-keys ({keys}), which must be at least 1"
        );
    }
    let per_key_max = events.div_ceil(keys);
    if per_key_max > 1_000 {
        bail!("{per_key_max} events per key: a digest lists at most 1,000 (max_events)");
    }
    let window_text = format!("{}ms", window.as_millis());
    eprintln!(
        "[bench] scenario digest: {events} events over {keys} keys, window {window_text}, {CONCURRENCY} clients"
    );
    let rx = Receiver::start().await;
    let mut servers = start_servers(opts, &[]).await?;
    put_workflow(
        &servers[0],
        client,
        DIGEST_KEY,
        &digest(&window_text, per_key_max),
    )
    .await?;
    let sender = sender_for(
        &servers,
        client,
        rx.url.clone(),
        Target::Digest { events, keys },
    );

    let pg = opts.database_url.is_some();
    let db_cpu_before = pg.then(postgres_cpu_ticks).flatten();
    let cpu_before = cpu_of(&servers);
    let progress = spawn_progress(sender.clone(), rx.arrivals().clone());
    let start = Instant::now();
    let start_wall_ms = chrono::Utc::now().timestamp_millis();
    let sent = run_closed_loop(sender.clone(), events, 1, CONCURRENCY).await;
    progress.abort();
    let sent = sent?;
    let accepted = sent.notifications;
    eprintln!(
        "[bench]   sending done: {accepted} events accepted, {} failed requests in {:.2}s",
        sent.failures,
        start.elapsed().as_secs_f64()
    );

    // Events expected per key: those answered 202.
    let mut expected: HashMap<String, Vec<usize>> = HashMap::new();
    let mut spread: HashMap<String, (Instant, Instant)> = HashMap::new();
    for (n, at) in &sent.by_n {
        let key = digest_key(*n, events, keys);
        expected.entry(key.clone()).or_default().push(*n);
        let s = spread.entry(key).or_insert((*at, *at));
        s.0 = s.0.min(*at);
        s.1 = s.1.max(*at);
    }
    let widest = spread
        .values()
        .map(|(a, b)| b.saturating_duration_since(*a).as_secs_f64())
        .fold(0.0, f64::max);

    // Wait for one digest per key, and as many events in them as were
    // accepted; a key split over two digests needs a second window.
    let deadline = Instant::now() + window + DIGESTS_DEADLINE;
    let mut next_progress = Instant::now() + PROGRESS_EVERY;
    let mut all_keys_at: Option<Instant> = None;
    let complete = loop {
        let (got, _) = read_digests(&rx);
        let counted: usize = got.iter().map(|d| d.count).sum();
        if got.len() >= expected.len() && counted >= accepted {
            break true;
        }
        if got.len() >= expected.len() {
            // Every key has a digest but events are missing: give split
            // digests a window (and a margin) to come in.
            let since = *all_keys_at.get_or_insert_with(Instant::now);
            if since.elapsed() > window + Duration::from_secs(10) {
                break false;
            }
        }
        if Instant::now() >= deadline {
            break false;
        }
        for s in servers.iter_mut() {
            s.check_alive()?;
        }
        if Instant::now() >= next_progress {
            eprintln!(
                "[bench]   waiting: {}/{} digests received, {counted}/{accepted} events in them",
                got.len(),
                expected.len()
            );
            next_progress += PROGRESS_EVERY;
        }
        sleep(Duration::from_millis(100)).await;
    };
    let cpu_after = cpu_of(&servers);
    let db_cpu_after = pg.then(postgres_cpu_ticks).flatten();
    let peak_rss = status_mb(servers[0].pid, "VmHWM");
    // A digest more than one per key would come a window later: look once more.
    if complete {
        sleep(Duration::from_millis(500)).await;
    }
    let db = Db::open(&servers[0]).await?;
    let runs_by_status = db.pairs(RUNS_BY_STATUS).await?;
    let open_digests = db.scalar("SELECT COUNT(*) FROM workflow_digests").await?;
    let last_merge = db
        .scalar("SELECT MAX(updated_at) FROM workflow_steps WHERE detail LIKE 'merged into%'")
        .await?;
    db.close().await;
    for s in &mut servers {
        s.stop().await?;
    }

    // Check every digest against what was sent.
    let (digests, unreadable) = read_digests(&rx);
    let mut problems: Vec<String> = Vec::new();
    let mut by_key: HashMap<&str, Vec<&Digest>> = HashMap::new();
    for d in &digests {
        by_key.entry(d.key.as_str()).or_default().push(d);
    }
    let mut wrong = 0usize;
    for (key, ns) in &expected {
        let want: HashSet<usize> = ns.iter().copied().collect();
        match by_key.get(key.as_str()).map(Vec::as_slice) {
            None => {
                wrong += 1;
                if problems.len() < 5 {
                    problems.push(format!("{key}: no digest ({} events)", ns.len()));
                }
            }
            Some([d]) => {
                let got: HashSet<usize> = d.ns.iter().copied().collect();
                if d.count != ns.len() || got != want || d.ns.len() != ns.len() {
                    wrong += 1;
                    if problems.len() < 5 {
                        problems.push(format!(
                            "{key}: count {} and {} events listed ({} distinct, {} of them sent to this key), expected {}",
                            d.count,
                            d.ns.len(),
                            got.len(),
                            got.intersection(&want).count(),
                            ns.len()
                        ));
                    }
                }
            }
            Some(split) => {
                wrong += 1;
                if problems.len() < 5 {
                    let counts: Vec<usize> = split.iter().map(|d| d.count).collect();
                    problems.push(format!(
                        "{key}: {} digests with counts {counts:?}, expected one of {}",
                        split.len(),
                        ns.len()
                    ));
                }
            }
        }
    }
    let strays = by_key
        .keys()
        .filter(|k| !expected.contains_key(**k))
        .count();
    let mut errors = Vec::new();
    if let Some(e) = &sent.first_error {
        errors.push(format!("{} events failed, first: {e}", sent.failures));
    }
    if wrong > 0 {
        errors.push(format!(
            "{wrong} of {} keys' digests are wrong, e.g. {}",
            expected.len(),
            problems.join("; ")
        ));
    }
    if !complete {
        errors.push(format!(
            "the digests did not all arrive ({} of {} within {}s after the load)",
            digests.len(),
            expected.len(),
            (window + DIGESTS_DEADLINE).as_secs()
        ));
    }
    if strays > 0 || unreadable > 0 || rx.arrivals().duplicates() > 0 {
        errors.push(format!(
            "{strays} digests for keys never sent, {unreadable} unreadable webhooks, {} repeated webhook ids",
            rx.arrivals().duplicates()
        ));
    }
    if widest >= window.as_secs_f64() {
        errors.push(format!(
            "one key's events took {widest:.1}s to send, longer than the window: raise --window"
        ));
    }
    let unfinished = unfinished_runs(&runs_by_status);
    if unfinished > 0 || open_digests.unwrap_or(0) > 0 {
        errors.push(format!(
            "at the end {unfinished} run rows are not finished ({runs_by_status:?}) and {} digests are open",
            open_digests.unwrap_or(0)
        ));
    }

    let late = Stats::new(
        digests
            .iter()
            .filter_map(|d| {
                let (first, _) = spread.get(&d.key)?;
                Some(
                    d.at.saturating_duration_since(*first + window)
                        .as_secs_f64(),
                )
            })
            .collect(),
    );
    let secs = |t: Option<Instant>| t.map(|t| t.saturating_duration_since(start).as_secs_f64());
    let last_digest = digests.iter().map(|d| d.at).max();
    let merged_s = last_merge.map(|ms| (ms - start_wall_ms) as f64 / 1000.0);
    Ok(DigestReport {
        scenario: "digest",
        backend: opts.backend(),
        events: accepted,
        keys: expected.len(),
        window_s: window.as_secs_f64(),
        events_accepted_per_s: per_s(accepted, secs(sent.last_accept).unwrap_or(0.0)),
        accept_s: secs(sent.last_accept).and_then(r2),
        merged_s: merged_s.and_then(r2),
        events_merged_per_s: merged_s.and_then(|s| per_s(accepted, s)),
        digests: digests.len(),
        all_digests_s: secs(last_digest).and_then(r2),
        after_last_accept_s: match (last_digest, sent.last_accept) {
            (Some(d), Some(a)) => r2(d.saturating_duration_since(a).as_secs_f64()),
            _ => None,
        },
        late_p50_s: late.percentile(50.0).and_then(r2),
        late_max_s: late.percentile(100.0).and_then(r2),
        widest_key_spread_s: r2(widest),
        cpu_ms_per_event: ms_per(cpu_before, cpu_after, accepted),
        db_cpu_ms_per_event: ms_per(db_cpu_before, db_cpu_after, accepted),
        peak_rss_mb: peak_rss.and_then(r2),
        runs_by_status,
        open_digests,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    })
}
