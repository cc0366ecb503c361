//! Settings: `config/default.toml` (compiled in) → `--config FILE` → env
//! `MISSIVE__SECTION__KEY`. Raw values are read as written, then checked and
//! turned into typed settings by [`Config::load`], so a bad value is reported
//! with the key that holds it and what would be accepted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::Deserialize;

use crate::domain::{Category, Channel};

mod keys;

pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Read(String),
    #[error("configuration: `{key}` = {value:?} is not valid: {allowed}")]
    Invalid {
        key: &'static str,
        value: String,
        allowed: String,
    },
}

fn invalid(key: &'static str, value: impl ToString, allowed: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        allowed: allowed.to_string(),
    }
}

#[derive(Debug, Deserialize)]
struct Raw {
    data_dir: String,
    server: RawServer,
    database: RawDatabase,
    worker: RawWorker,
    maintenance: RawMaintenance,
    flow: RawFlow,
    channels: RawChannels,
    inbox: RawInbox,
    console: RawConsole,
    render: RawRender,
    receipts: RawReceipts,
    log: RawLog,
    events: RawEvents,
    telemetry: RawTelemetry,
}

#[derive(Debug, Deserialize)]
struct RawTelemetry {
    otlp_endpoint: String,
    otlp_protocol: String,
}

#[derive(Debug, Deserialize)]
struct RawLog {
    format: String,
}

#[derive(Debug, Deserialize)]
struct RawEvents {
    secret_grace: String,
    disable_after: String,
    refresh: String,
    concurrency: usize,
}

#[derive(Debug, Deserialize)]
struct RawReceipts {
    sendgrid_secret: String,
    sendgrid_secret_file: String,
    postmark_secret: String,
    postmark_secret_file: String,
    max_body_bytes: u64,
}

#[derive(Debug, Deserialize)]
struct RawRender {
    timeout: String,
    max_steps: u64,
    max_source_bytes: u64,
    template_cache_bytes: u64,
    inline_cache_bytes: u64,
    max_email_subject_bytes: u64,
    max_email_html_bytes: u64,
    max_email_text_bytes: u64,
    max_sms_text_bytes: u64,
    max_webhook_body_bytes: u64,
    max_in_app_title_bytes: u64,
    max_in_app_body_bytes: u64,
    max_in_app_action_url_bytes: u64,
    max_chat_title_bytes: u64,
    max_chat_text_bytes: u64,
    max_chat_blocks_bytes: u64,
}

#[derive(Debug, Deserialize)]
struct RawConsole {
    session_ttl: String,
    secure_cookie: bool,
    day_counts_max_age: String,
}

#[derive(Debug, Deserialize)]
struct RawInbox {
    token_ttl: String,
    preference_link_ttl: String,
    heartbeat: String,
    max_connections: u64,
    max_connections_per_recipient: u64,
    buffer: u64,
    cors_origins: StringList,
    token_secret: String,
    token_secret_file: String,
}

#[derive(Debug, Deserialize)]
struct RawServer {
    bind: String,
    max_body_bytes: u64,
    api_rate_limit: u32,
    metrics_token: String,
    public_url: String,
    header_read_timeout: String,
    max_connections: u64,
    shutdown_drain: String,
    metrics_refresh: String,
}

#[derive(Debug, Deserialize)]
struct RawDatabase {
    url: String,
    max_connections: u32,
    schema: String,
    sqlite_synchronous: String,
    sqlite_checkpoint_interval: String,
    sqlite_max_bytes: u64,
    acquire_timeout: String,
    writers: usize,
}

#[derive(Debug, Deserialize)]
struct RawWorker {
    concurrency: u32,
    batch_size: u32,
    max_in_flight_per_destination: u32,
    lease: String,
    poll_interval: String,
    shutdown_grace: String,
    schedule_tick: String,
    fanout_batch: u32,
}

#[derive(Debug, Deserialize)]
struct RawMaintenance {
    interval: String,
    idempotency_ttl: String,
    retention: String,
    stats_retention: String,
}

#[derive(Debug, Deserialize)]
struct RawFlow {
    dedup_window: String,
    #[serde(default)]
    quiet_hours: String,
    #[serde(default)]
    frequency_caps: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct RawChannels {
    webhook: RawWebhook,
    email: RawChannel,
    sms: RawChannel,
    chat: RawChannel,
    push: RawChannel,
}

/// A channel sent through configured providers (email, sms, chat).
#[derive(Debug, Deserialize)]
struct RawChannel {
    providers: StringList,
    timeout: String,
    retry_schedule: StringList,
    max_retry_after: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    unsubscribe: Option<String>,
    breaker_threshold: u32,
    breaker_cool_down: String,
    rate_limit: String,
    rate_burst: u32,
    /// Provider tables, by name.
    #[serde(flatten)]
    tables: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RawWebhook {
    signing_secret: String,
    signing_secret_file: String,
    allow_private: bool,
    timeout: String,
    retry_schedule: StringList,
    max_retry_after: String,
    rate_limit: String,
    rate_burst: u32,
}

/// A list written either as an array or as one comma-separated string (the
/// form an environment variable can carry: `5s,30s,2m`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringList {
    List(Vec<String>),
    One(String),
}

impl StringList {
    fn items(&self) -> Vec<String> {
        match self {
            StringList::List(v) => v.clone(),
            StringList::One(s) => s
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(|p| p.trim().trim_matches('"').to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub worker: WorkerConfig,
    pub maintenance: MaintenanceConfig,
    pub flow: FlowConfig,
    pub webhook: WebhookConfig,
    pub email: ChannelConfig,
    pub sms: ChannelConfig,
    pub chat: ChannelConfig,
    pub push: ChannelConfig,
    pub inbox: InboxConfig,
    pub console: ConsoleConfig,
    pub render: RenderConfig,
    pub receipts: ReceiptsConfig,
    pub log: LogConfig,
    pub events: EventsConfig,
    pub telemetry: TelemetryConfig,
}

/// How OTLP traces are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// Protobuf over HTTP (`POST {endpoint}/v1/traces`).
    HttpProtobuf,
    /// gRPC.
    Grpc,
}

impl OtlpProtocol {
    /// The protocol an `OTEL_EXPORTER_OTLP_PROTOCOL` value or
    /// `telemetry.otlp_protocol` names.
    pub fn parse(s: &str) -> Option<OtlpProtocol> {
        match s.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
            "grpc" => Some(OtlpProtocol::Grpc),
            _ => None,
        }
    }
}

/// OpenTelemetry tracing. Both unset: the standard `OTEL_*` variables
/// decide (no endpoint there either: off).
#[derive(Clone, Debug, Default)]
pub struct TelemetryConfig {
    /// The collector's base URL (`http(s)://host:port`).
    pub otlp_endpoint: Option<String>,
    pub otlp_protocol: Option<OtlpProtocol>,
}

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event; coloured only on a terminal.
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

#[derive(Clone, Debug)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// Status events to registered endpoints. They are sent with the webhook
/// channel's client settings (`allow_private`, `timeout`) and retry
/// schedule.
#[derive(Clone, Debug)]
pub struct EventsConfig {
    /// How long an endpoint's previous secret still signs after a rotation.
    pub secret_grace: Duration,
    /// An endpoint whose attempts have all failed for this long is disabled.
    pub disable_after: Duration,
    /// How often each process reads which event types enabled endpoints
    /// want (a change made through this process applies at once).
    pub refresh: Duration,
    /// Events sent at once.
    pub concurrency: usize,
}

/// Receipts from providers: how each source's calls are authenticated.
#[derive(Clone, Debug)]
pub struct ReceiptsConfig {
    /// The basic-auth password SendGrid's event webhook URL carries;
    /// empty: the endpoint refuses every call.
    pub sendgrid_secret: Hidden,
    /// The same for Postmark's webhooks.
    pub postmark_secret: Hidden,
    pub max_body_bytes: usize,
}

/// The web console at /console.
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (send it over HTTPS only).
    pub secure_cookie: bool,
    /// How old the overview's last-24-hours counts may be before they are
    /// counted again (zero: on every load).
    pub day_counts_max_age: Duration,
}

/// The in-app inbox: recipient tokens and live streams.
#[derive(Clone, Debug)]
pub struct InboxConfig {
    pub token_ttl: Duration,
    /// How long a preference or unsubscribe link stays valid.
    pub preference_link_ttl: Duration,
    /// SSE comment / WebSocket ping interval on idle streams.
    pub heartbeat: Duration,
    /// Open streams (SSE and WebSocket) in this process.
    pub max_connections: usize,
    pub max_connections_per_recipient: usize,
    /// Events buffered per recipient; a client further behind is dropped.
    pub buffer: usize,
    /// Origins browsers may call the inbox from; `["*"]` for any, empty for
    /// none (no CORS headers).
    pub cors_origins: Vec<String>,
    /// The recipient-token signing secret from the settings or a file;
    /// empty: the one stored in the database (generated on first start).
    pub token_secret: Hidden,
}

/// Whether the setting at `key` holds a secret, whose value an error must
/// not repeat.
fn holds_secret(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    ["secret", "token", "password"]
        .iter()
        .any(|s| last.contains(s))
        && !last.ends_with("_file")
        && !last.ends_with("_ttl")
}

/// A secret setting: printed as `***` (or `""` when unset) by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Hidden(pub String);

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

/// A secret given in the settings (`key`) or as a file holding it
/// (`file_key`, e.g. a mounted container secret). Errors name the key and
/// the file, never the secret.
fn secret(
    key: &'static str,
    value: &str,
    file_key: &'static str,
    file: &str,
) -> Result<String, ConfigError> {
    let (value, file) = (value.trim(), file.trim());
    match (value.is_empty(), file.is_empty()) {
        (_, true) => Ok(value.to_string()),
        (false, false) => Err(invalid(
            file_key,
            file,
            format!("set either `{key}` or `{file_key}`, not both"),
        )),
        (true, false) => {
            let read = std::fs::read_to_string(file)
                .map_err(|e| invalid(file_key, file, format!("a readable file ({e})")))?;
            let s = read.trim();
            if s.is_empty() {
                return Err(invalid(
                    file_key,
                    file,
                    "a file holding the secret (it is empty)",
                ));
            }
            Ok(s.to_string())
        }
    }
}

/// Settings of a channel that sends through providers (email, sms).
#[derive(Clone, Debug)]
pub struct ChannelConfig {
    pub timeout: Duration,
    pub retry_schedule: Vec<Duration>,
    pub max_retry_after: Duration,
    /// In failover order.
    pub providers: Vec<ProviderConfig>,
    /// Consecutive transient failures that open a provider's circuit
    /// breaker, and how long it stays open before one probe.
    pub breaker_threshold: u32,
    pub breaker_cool_down: Duration,
    /// Email only: the From and Reply-To headers, and the List-Unsubscribe
    /// target for marketing mail (`{recipient}` is replaced).
    pub from: String,
    pub reply_to: Option<String>,
    pub unsubscribe: String,
}

/// One provider's table (`channels.<channel>.<name>`): its type and raw
/// settings, which the channel's module reads and checks at start-up.
#[derive(Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: String,
    /// `channels.<channel>.<name>`, for error messages.
    pub key: String,
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The provider's own send-rate limit (`rate_limit`, `rate_burst` in
    /// its table), held across processes like a channel's.
    pub rate_limit: Option<RateLimit>,
}

impl std::fmt::Debug for ProviderConfig {
    // Settings hold passwords and tokens: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

impl ProviderConfig {
    /// Reads the settings into `T`; an error names the key.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let mut settings = self.settings.clone();
        for common in ["type", "rate_limit", "rate_burst"] {
            settings.remove(common);
        }
        serde_path_to_error::deserialize(serde_json::Value::Object(settings)).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." {
                self.key.clone()
            } else {
                format!("{}.{path}", self.key)
            };
            if holds_secret(&key) {
                return ConfigError::Read(format!(
                    "`{key}`: not valid (the value is not shown: it is a secret)"
                ));
            }
            ConfigError::Read(format!("`{key}`: {}", e.into_inner()))
        })
    }

    /// A setting error at `<key>.<field>`.
    pub fn invalid(&self, field: &str, allowed: impl ToString) -> ConfigError {
        ConfigError::Read(format!(
            "`{}.{field}` is not valid: {}",
            self.key,
            allowed.to_string()
        ))
    }
}

#[derive(Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub max_body_bytes: usize,
    pub api_rate_limit: u32,
    /// Bearer token `/metrics` requires; empty means open.
    pub metrics_token: String,
    /// Where providers reach this server from outside, without a trailing
    /// slash (`https://missive.example.com`); none: no callbacks asked for.
    pub public_url: Option<String>,
    /// A connection must send a request's headers within this.
    pub header_read_timeout: Duration,
    /// Open HTTP connections at most; more wait to be accepted.
    pub max_connections: usize,
    /// On a stop: how long /readyz says 503 while requests are still served.
    pub shutdown_drain: Duration,
    /// How often the queue gauges of `/metrics` are read from the database.
    pub metrics_refresh: Duration,
}

impl std::fmt::Debug for ServerConfig {
    // The metrics token is a secret: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("bind", &self.bind)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("api_rate_limit", &self.api_rate_limit)
            .field(
                "metrics_token",
                &if self.metrics_token.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .field("public_url", &self.public_url)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("shutdown_drain", &self.shutdown_drain)
            .field("metrics_refresh", &self.metrics_refresh)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct DatabaseConfig {
    pub url: String,
    pub backend: Backend,
    pub max_connections: u32,
    pub schema: Option<String>,
    pub sqlite_full_sync: bool,
    /// SQLite only: how soon after a write the WAL is checkpointed by a
    /// connection of its own, off the writer's path; `None`: the writer
    /// checkpoints itself (SQLite's default).
    pub sqlite_checkpoint_interval: Option<Duration>,
    /// SQLite only: the most the database file may hold; at it, writes
    /// fail as on a full disk. `None`: no limit but the disk's.
    pub sqlite_max_bytes: Option<u64>,
    /// How long a request waits for a database connection before it is
    /// answered 503 (PostgreSQL, and SQLite's readers).
    pub acquire_timeout: Duration,
    /// PostgreSQL only: group-commit writer tasks in this process.
    pub writers: usize,
}

impl std::fmt::Debug for DatabaseConfig {
    // The URL may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("backend", &self.backend)
            .field("max_connections", &self.max_connections)
            .field("schema", &self.schema)
            .field("sqlite_full_sync", &self.sqlite_full_sync)
            .field(
                "sqlite_checkpoint_interval",
                &self.sqlite_checkpoint_interval,
            )
            .field("sqlite_max_bytes", &self.sqlite_max_bytes)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("writers", &self.writers)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub concurrency: usize,
    pub batch_size: usize,
    /// Sends in flight at once to one destination (a webhook's host and
    /// port, an SMS or email provider).
    pub max_in_flight_per_destination: usize,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub shutdown_grace: Duration,
    /// How often recurring schedules are looked at (a whole number of
    /// seconds that divides a minute).
    pub schedule_tick: Duration,
    /// Subscribers a topic's fan-out admits and writes in one transaction.
    pub fanout_batch: usize,
}

#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// How long a `dedup_key` suppresses repeats to the same recipient and
    /// channel.
    pub dedup_window: Duration,
    /// Quiet hours for recipients whose profile sets none.
    pub quiet_hours: Option<crate::domain::QuietHours>,
    /// Caps per category, counted per recipient and channel.
    pub frequency_caps: std::collections::BTreeMap<String, crate::domain::Rate>,
    /// Send-rate limits per channel (`channels.<channel>.rate_limit`), with
    /// their burst: held across every process sharing the database.
    pub rate_limits: std::collections::BTreeMap<String, RateLimit>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub rate: crate::domain::Rate,
    pub burst: u32,
}

/// `channels.<channel>.rate_limit` and `rate_burst` (0: a tenth of the
/// rate's count, at least 1).
fn rate_limit(channel: &str, limit: &str, burst: u32) -> Result<Option<RateLimit>, ConfigError> {
    if limit.trim().is_empty() {
        return Ok(None);
    }
    let key: &'static str = Box::leak(format!("channels.{channel}.rate_limit").into_boxed_str());
    let rate = crate::domain::Rate::parse(limit).map_err(|m| invalid(key, limit, m))?;
    let burst = if burst == 0 {
        (rate.count / 10).max(1)
    } else {
        burst
    };
    Ok(Some(RateLimit { rate, burst }))
}

#[derive(Clone, Debug)]
pub struct MaintenanceConfig {
    pub interval: Duration,
    pub idempotency_ttl: Duration,
    /// `None`: keep finished deliveries for ever.
    pub retention: Option<Duration>,
    /// `None`: keep per-minute delivery statistics for ever.
    pub stats_retention: Option<Duration>,
}

#[derive(Clone)]
pub struct WebhookConfig {
    /// Empty until [`crate::App::build`] fills it from the database.
    pub signing_secret: String,
    pub allow_private: bool,
    pub timeout: Duration,
    pub retry_schedule: Vec<Duration>,
    pub max_retry_after: Duration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("signing_secret", &"***")
            .field("allow_private", &self.allow_private)
            .field("timeout", &self.timeout)
            .field("retry_schedule", &self.retry_schedule)
            .finish()
    }
}

fn duration(key: &'static str, value: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(value.trim())
        .map_err(|_| invalid(key, value, "a duration such as 500ms, 10s, 2m, 1h or 30d"))
}

fn positive_duration(key: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let d = duration(key, value)?;
    if d.is_zero() {
        return Err(invalid(key, value, "a duration greater than zero"));
    }
    Ok(d)
}

/// The `MISSIVE__SECTION__KEY` variables as settings (`section.key`).
/// A value is read as TOML would read it (`true`, `42`, `[1, 2]`), except
/// that text a number would lose something of stays text: `+15005550006`
/// (a phone number's `+`) and `0123` (its leading zero).
struct EnvVars(figment::value::Dict);

impl<I: IntoIterator<Item = (String, String)>> From<I> for EnvVars {
    fn from(vars: I) -> EnvVars {
        use figment::value::{Dict, Value};
        fn insert(dict: &mut Dict, path: &[String], value: Value) {
            match path {
                [] => {}
                [last] => {
                    dict.insert(last.clone(), value);
                }
                [first, rest @ ..] => {
                    let entry = dict
                        .entry(first.clone())
                        .or_insert_with(|| Value::from(Dict::new()));
                    if !matches!(entry, Value::Dict(..)) {
                        *entry = Value::from(Dict::new());
                    }
                    if let Value::Dict(_, d) = entry {
                        insert(d, rest, value);
                    }
                }
            }
        }
        let mut dict = Dict::new();
        for (name, raw) in vars {
            let Some(rest) = name.strip_prefix("MISSIVE__") else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            if path.iter().any(String::is_empty) {
                continue;
            }
            insert(&mut dict, &path, env_value(&raw));
        }
        EnvVars(dict)
    }
}

impl figment::Provider for EnvVars {
    fn metadata(&self) -> figment::Metadata {
        // `keys` names a variable's source from this name.
        figment::Metadata::named("`MISSIVE__` environment variable(s)")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        Ok(figment::Profile::Default.collect(self.0.clone()))
    }
}

/// One variable's value: parsed, unless as a number it would lose its
/// leading `+` or zero.
fn env_value(raw: &str) -> figment::value::Value {
    let parsed: figment::value::Value = raw.parse().expect("parsing a value never fails");
    let t = raw.trim();
    let lossy = matches!(parsed, figment::value::Value::Num(..))
        && (t.starts_with('+')
            || (t.len() > 1 && t.starts_with('0') && t.as_bytes()[1].is_ascii_digit()));
    if lossy {
        figment::value::Value::from(raw.to_string())
    } else {
        parsed
    }
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Read(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(EnvVars::from(std::env::vars()));
        Self::from_figment(fig)
    }

    /// Defaults overridden by the given TOML text only (no environment).
    pub fn from_toml(overrides: &str) -> Result<Config, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(overrides)))
    }

    fn from_figment(fig: Figment) -> Result<Config, ConfigError> {
        keys::check(&fig, DEFAULT_TOML)
            .map_err(|unknown| ConfigError::Read(unknown.join("\nconfiguration: ")))?;
        let raw: Raw = fig.extract().map_err(|e| {
            let key = e.path.join(".");
            let msg = if holds_secret(&key) {
                "not valid (the value is not shown: it is a secret); expected a string".to_string()
            } else {
                e.kind.to_string()
            };
            if key.is_empty() {
                ConfigError::Read(msg)
            } else {
                ConfigError::Read(format!("`{key}`: {msg}"))
            }
        })?;
        Self::validate(raw)
    }

    fn validate(raw: Raw) -> Result<Config, ConfigError> {
        let bind: SocketAddr = raw.server.bind.parse().map_err(|_| {
            invalid(
                "server.bind",
                &raw.server.bind,
                "an address and port such as 127.0.0.1:8080",
            )
        })?;

        let url = match raw.database.url.trim() {
            // The database file goes where the data dir does.
            "" => format!(
                "sqlite://{}",
                Path::new(&raw.data_dir).join("missive.db").display()
            ),
            url => url.to_string(),
        };
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(invalid(
                "database.url",
                redact_url(&url),
                "sqlite://PATH or postgres://USER@HOST/DB",
            ));
        };
        if raw.database.max_connections == 0 {
            return Err(invalid("database.max_connections", 0, "at least 1"));
        }
        if !(1..=8).contains(&raw.database.writers) {
            return Err(invalid("database.writers", raw.database.writers, "1 to 8"));
        }
        let schema = raw.database.schema.trim().to_string();
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid(
                "database.schema",
                &schema,
                "letters, digits and _ only",
            ));
        }
        let sqlite_full_sync = match raw
            .database
            .sqlite_synchronous
            .to_ascii_lowercase()
            .as_str()
        {
            "normal" => false,
            "full" => true,
            other => {
                return Err(invalid(
                    "database.sqlite_synchronous",
                    other,
                    "\"normal\" or \"full\"",
                ))
            }
        };
        let sqlite_checkpoint_interval = Some(duration(
            "database.sqlite_checkpoint_interval",
            &raw.database.sqlite_checkpoint_interval,
        )?)
        .filter(|d| !d.is_zero());
        let acquire_timeout =
            positive_duration("database.acquire_timeout", &raw.database.acquire_timeout)?;
        let sqlite_max_bytes = match raw.database.sqlite_max_bytes {
            0 => None,
            n if n < 1 << 20 => {
                return Err(invalid(
                    "database.sqlite_max_bytes",
                    n,
                    "0 (no limit) or at least 1048576 (1 MiB)",
                ))
            }
            n => Some(n),
        };

        if raw.worker.concurrency == 0 || raw.worker.concurrency > 10_000 {
            return Err(invalid(
                "worker.concurrency",
                raw.worker.concurrency,
                "1 to 10000",
            ));
        }
        if raw.worker.batch_size == 0 || raw.worker.batch_size > 1_000 {
            return Err(invalid(
                "worker.batch_size",
                raw.worker.batch_size,
                "1 to 1000",
            ));
        }
        if raw.worker.fanout_batch == 0 || raw.worker.fanout_batch > 10_000 {
            return Err(invalid(
                "worker.fanout_batch",
                raw.worker.fanout_batch,
                "1 to 10000",
            ));
        }
        if raw.worker.max_in_flight_per_destination > 10_000 {
            return Err(invalid(
                "worker.max_in_flight_per_destination",
                raw.worker.max_in_flight_per_destination,
                "0 (half of worker.concurrency) to 10000",
            ));
        }
        let worker = WorkerConfig {
            concurrency: raw.worker.concurrency as usize,
            batch_size: raw.worker.batch_size as usize,
            fanout_batch: raw.worker.fanout_batch as usize,
            max_in_flight_per_destination: match raw.worker.max_in_flight_per_destination {
                0 => (raw.worker.concurrency as usize / 2).max(1),
                n => n as usize,
            },
            lease: positive_duration("worker.lease", &raw.worker.lease)?,
            poll_interval: positive_duration("worker.poll_interval", &raw.worker.poll_interval)?,
            shutdown_grace: duration("worker.shutdown_grace", &raw.worker.shutdown_grace)?,
            schedule_tick: {
                let d = positive_duration("worker.schedule_tick", &raw.worker.schedule_tick)?;
                let s = d.as_secs();
                if d.subsec_nanos() != 0 || s == 0 || 60 % s != 0 {
                    return Err(invalid(
                        "worker.schedule_tick",
                        &raw.worker.schedule_tick,
                        "whole seconds that divide a minute: 1s, 2s, 5s, 10s, 15s, 20s, 30s or 60s",
                    ));
                }
                d
            },
        };

        let retention = duration("maintenance.retention", &raw.maintenance.retention)?;
        let stats_retention = duration(
            "maintenance.stats_retention",
            &raw.maintenance.stats_retention,
        )?;
        let maintenance = MaintenanceConfig {
            interval: positive_duration("maintenance.interval", &raw.maintenance.interval)?,
            idempotency_ttl: positive_duration(
                "maintenance.idempotency_ttl",
                &raw.maintenance.idempotency_ttl,
            )?,
            retention: (!retention.is_zero()).then_some(retention),
            stats_retention: (!stats_retention.is_zero()).then_some(stats_retention),
        };

        let w = raw.channels.webhook;
        let secret = secret(
            "channels.webhook.signing_secret",
            &w.signing_secret,
            "channels.webhook.signing_secret_file",
            &w.signing_secret_file,
        )?;
        if !secret.is_empty() && crate::domain::secrets::decode_webhook_secret(&secret).is_none() {
            return Err(invalid(
                if w.signing_secret_file.trim().is_empty() {
                    "channels.webhook.signing_secret"
                } else {
                    "channels.webhook.signing_secret_file"
                },
                "(hidden)",
                "\"whsec_\" followed by base64 of at least 24 bytes, or empty to generate one",
            ));
        }
        let mut retry_schedule = Vec::new();
        for item in w.retry_schedule.items() {
            retry_schedule.push(duration("channels.webhook.retry_schedule", &item)?);
        }
        let webhook = WebhookConfig {
            signing_secret: secret,
            allow_private: w.allow_private,
            timeout: positive_duration("channels.webhook.timeout", &w.timeout)?,
            retry_schedule,
            max_retry_after: duration("channels.webhook.max_retry_after", &w.max_retry_after)?,
        };
        let mut rate_limits = std::collections::BTreeMap::new();
        for (channel, limit, burst) in [
            (Channel::Webhook, &w.rate_limit, w.rate_burst),
            (
                Channel::Email,
                &raw.channels.email.rate_limit,
                raw.channels.email.rate_burst,
            ),
            (
                Channel::Sms,
                &raw.channels.sms.rate_limit,
                raw.channels.sms.rate_burst,
            ),
            (
                Channel::Chat,
                &raw.channels.chat.rate_limit,
                raw.channels.chat.rate_burst,
            ),
            (
                Channel::Push,
                &raw.channels.push.rate_limit,
                raw.channels.push.rate_burst,
            ),
        ] {
            let channel = channel.as_str();
            if let Some(l) = rate_limit(channel, limit, burst)? {
                rate_limits.insert(channel.to_string(), l);
            }
        }
        let email = provider_channel(
            Channel::Email.as_str(),
            raw.channels.email,
            &["file", "smtp"],
        )?;
        let sms = provider_channel(
            Channel::Sms.as_str(),
            raw.channels.sms,
            &["file", "twilio", "http"],
        )?;
        let chat = provider_channel(Channel::Chat.as_str(), raw.channels.chat, CHAT_PROVIDERS)?;
        let push = provider_channel(
            Channel::Push.as_str(),
            raw.channels.push,
            &["file", "webpush", "fcm", "apns"],
        )?;
        let (longest_key, longest) = [
            ("channels.webhook.timeout", webhook.timeout),
            ("channels.email.timeout", email.timeout),
            ("channels.sms.timeout", sms.timeout),
            ("channels.chat.timeout", chat.timeout),
            ("channels.push.timeout", push.timeout),
        ]
        .into_iter()
        .fold(("", Duration::ZERO), |a, b| if b.1 > a.1 { b } else { a });
        if worker.lease <= longest {
            return Err(ConfigError::Read(format!(
                "`worker.lease` = {} is too short: it must be longer than every channel's timeout \
                 (the longest is `{longest_key}` = {}), or a delivery could be sent twice while still in flight",
                humantime::format_duration(worker.lease),
                humantime::format_duration(longest)
            )));
        }

        let inbox = inbox(raw.inbox)?;
        let receipts = ReceiptsConfig {
            sendgrid_secret: Hidden(self::secret(
                "receipts.sendgrid_secret",
                &raw.receipts.sendgrid_secret,
                "receipts.sendgrid_secret_file",
                &raw.receipts.sendgrid_secret_file,
            )?),
            postmark_secret: Hidden(self::secret(
                "receipts.postmark_secret",
                &raw.receipts.postmark_secret,
                "receipts.postmark_secret_file",
                &raw.receipts.postmark_secret_file,
            )?),
            max_body_bytes: match raw.receipts.max_body_bytes {
                n @ 1024..=67_108_864 => n as usize,
                n => {
                    return Err(invalid(
                        "receipts.max_body_bytes",
                        n,
                        "1024 to 67108864 (64 MiB)",
                    ))
                }
            },
        };
        let console = ConsoleConfig {
            session_ttl: positive_duration("console.session_ttl", &raw.console.session_ttl)?,
            secure_cookie: raw.console.secure_cookie,
            day_counts_max_age: duration(
                "console.day_counts_max_age",
                &raw.console.day_counts_max_age,
            )?,
        };

        let log = LogConfig {
            format: match raw.log.format.trim().to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    return Err(invalid(
                        "log.format",
                        &raw.log.format,
                        "\"text\" or \"json\"",
                    ))
                }
            },
        };
        let telemetry = TelemetryConfig {
            otlp_endpoint: match raw.telemetry.otlp_endpoint.trim() {
                "" => None,
                e => match url::Url::parse(e) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
                        Some(e.to_string())
                    }
                    _ => {
                        return Err(invalid(
                            "telemetry.otlp_endpoint",
                            e,
                            "an http(s):// URL, or empty for off",
                        ))
                    }
                },
            },
            otlp_protocol: match raw.telemetry.otlp_protocol.trim() {
                "" => None,
                p => Some(OtlpProtocol::parse(p).ok_or_else(|| {
                    invalid(
                        "telemetry.otlp_protocol",
                        p,
                        "\"http/protobuf\" or \"grpc\" (or empty: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)",
                    )
                })?),
            },
        };
        Ok(Config {
            log,
            telemetry,
            data_dir: PathBuf::from(raw.data_dir),
            server: ServerConfig {
                bind,
                max_body_bytes: raw.server.max_body_bytes as usize,
                api_rate_limit: raw.server.api_rate_limit,
                metrics_token: raw.server.metrics_token.trim().to_string(),
                public_url: public_url(&raw.server.public_url)?,
                header_read_timeout: positive_duration(
                    "server.header_read_timeout",
                    &raw.server.header_read_timeout,
                )?,
                max_connections: match raw.server.max_connections {
                    n @ 1..=1_000_000 => n as usize,
                    n => return Err(invalid("server.max_connections", n, "1 to 1000000")),
                },
                shutdown_drain: duration("server.shutdown_drain", &raw.server.shutdown_drain)?,
                metrics_refresh: positive_duration(
                    "server.metrics_refresh",
                    &raw.server.metrics_refresh,
                )?,
            },
            database: DatabaseConfig {
                url,
                backend,
                max_connections: raw.database.max_connections,
                schema: (!schema.is_empty()).then_some(schema),
                sqlite_full_sync,
                sqlite_checkpoint_interval,
                sqlite_max_bytes,
                acquire_timeout,
                writers: raw.database.writers,
            },
            worker,
            maintenance,
            flow: FlowConfig {
                rate_limits,
                ..flow(raw.flow)?
            },
            webhook,
            email,
            sms,
            chat,
            push,
            inbox,
            console,
            render: render(raw.render)?,
            receipts,
            events: EventsConfig {
                secret_grace: duration("events.secret_grace", &raw.events.secret_grace)?,
                disable_after: positive_duration(
                    "events.disable_after",
                    &raw.events.disable_after,
                )?,
                refresh: positive_duration("events.refresh", &raw.events.refresh)?,
                concurrency: match raw.events.concurrency {
                    n @ 1..=256 => n,
                    n => return Err(invalid("events.concurrency", n, "a number from 1 to 256")),
                },
            },
        })
    }
}

/// `server.public_url`: empty, or an http(s) URL with no query or
/// fragment; kept without its trailing slash.
fn public_url(raw: &str) -> Result<Option<String>, ConfigError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let allowed = "empty, or the http(s) URL providers reach this server at, such as \
                   \"https://missive.example.com\" (no query, no fragment)";
    let url = url::Url::parse(raw)
        .map_err(|e| invalid("server.public_url", raw, format!("{allowed} ({e})")))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(invalid("server.public_url", raw, allowed));
    }
    Ok(Some(raw.trim_end_matches('/').to_string()))
}

fn inbox(raw: RawInbox) -> Result<InboxConfig, ConfigError> {
    let token_ttl = positive_duration("inbox.token_ttl", &raw.token_ttl)?;
    if token_ttl > Duration::from_secs(30 * 86_400) {
        return Err(invalid(
            "inbox.token_ttl",
            &raw.token_ttl,
            "at most 30d: tokens can't be revoked, only expire",
        ));
    }
    if raw.max_connections == 0 || raw.max_connections > 1_000_000 {
        return Err(invalid(
            "inbox.max_connections",
            raw.max_connections,
            "1 to 1000000",
        ));
    }
    if raw.max_connections_per_recipient == 0
        || raw.max_connections_per_recipient > raw.max_connections
    {
        return Err(invalid(
            "inbox.max_connections_per_recipient",
            raw.max_connections_per_recipient,
            format!("1 to inbox.max_connections ({})", raw.max_connections),
        ));
    }
    if raw.buffer == 0 || raw.buffer > 65_536 {
        return Err(invalid("inbox.buffer", raw.buffer, "1 to 65536"));
    }
    let cors_origins = raw.cors_origins.items();
    for o in &cors_origins {
        if o == "*" {
            if cors_origins.len() > 1 {
                return Err(invalid(
                    "inbox.cors_origins",
                    o,
                    "\"*\" alone, or a list of origins",
                ));
            }
        } else if !is_origin(o) {
            return Err(invalid(
                "inbox.cors_origins",
                o,
                "an origin (scheme://host[:port], no path) such as https://app.example.com, or \"*\"",
            ));
        }
    }
    let token_secret = secret(
        "inbox.token_secret",
        &raw.token_secret,
        "inbox.token_secret_file",
        &raw.token_secret_file,
    )?;
    if !token_secret.is_empty()
        && crate::domain::secrets::decode_inbox_secret(&token_secret).is_none()
    {
        return Err(invalid(
            if raw.token_secret_file.trim().is_empty() {
                "inbox.token_secret"
            } else {
                "inbox.token_secret_file"
            },
            "(hidden)",
            "base64 of at least 32 bytes (e.g. `openssl rand -base64 32`), or empty to generate one",
        ));
    }
    Ok(InboxConfig {
        token_secret: Hidden(token_secret),
        token_ttl,
        preference_link_ttl: {
            let ttl = positive_duration("inbox.preference_link_ttl", &raw.preference_link_ttl)?;
            if ttl > Duration::from_secs(400 * 86_400) {
                return Err(invalid(
                    "inbox.preference_link_ttl",
                    &raw.preference_link_ttl,
                    "at most 400d",
                ));
            }
            ttl
        },
        heartbeat: positive_duration("inbox.heartbeat", &raw.heartbeat)?,
        max_connections: raw.max_connections as usize,
        max_connections_per_recipient: raw.max_connections_per_recipient as usize,
        buffer: raw.buffer as usize,
        cors_origins,
    })
}

/// `https://app.example.com` or `http://localhost:3000`: what a browser
/// sends as Origin.
fn is_origin(s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) => {
            (u.scheme() == "http" || u.scheme() == "https")
                && u.host().is_some()
                && u.path() == "/"
                && !s.ends_with('/')
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty()
        }
        Err(_) => false,
    }
}

fn flow(raw: RawFlow) -> Result<FlowConfig, ConfigError> {
    let mut frequency_caps = std::collections::BTreeMap::new();
    for (category, rate) in raw.frequency_caps {
        if Category::parse(&category).is_err() {
            return Err(invalid(
                "flow.frequency_caps",
                &category,
                format!("a category: {}", Category::names()),
            ));
        }
        let r = crate::domain::Rate::parse(&rate)
            .map_err(|m| invalid("flow.frequency_caps", &rate, m))?;
        frequency_caps.insert(category, r);
    }
    let quiet_hours = match raw.quiet_hours.trim() {
        "" => None,
        q => {
            let (start, end) = q
                .split_once('-')
                .ok_or_else(|| invalid("flow.quiet_hours", q, "a window such as 22:00-08:00"))?;
            for t in [start, end] {
                crate::domain::check::check_clock(t.trim())
                    .map_err(|m| invalid("flow.quiet_hours", q, m))?;
            }
            Some(crate::domain::QuietHours {
                start: start.trim().into(),
                end: end.trim().into(),
            })
        }
    };
    Ok(FlowConfig {
        quiet_hours,
        dedup_window: positive_duration("flow.dedup_window", &raw.dedup_window)?,
        frequency_caps,
        rate_limits: Default::default(),
    })
}

fn schedule(key: &'static str, list: &StringList) -> Result<Vec<Duration>, ConfigError> {
    list.items()
        .iter()
        .map(|item| duration(key, item))
        .collect()
}

/// The types a `channels.chat` provider may have.
pub const CHAT_PROVIDERS: &[&str] = &[
    "file",
    "slack",
    "slack_webhook",
    "teams",
    "feishu",
    "dingtalk",
    "wecom",
    "telegram",
];

fn provider_channel(
    channel: &'static str,
    raw: RawChannel,
    kinds: &[&str],
) -> Result<ChannelConfig, ConfigError> {
    // Keys as operators write them, leaked once per start for the error type.
    let key =
        |k: &str| -> &'static str { Box::leak(format!("channels.{channel}.{k}").into_boxed_str()) };
    let mut providers = Vec::new();
    for name in raw.providers.items() {
        let table = match raw.tables.get(&name) {
            Some(serde_json::Value::Object(t)) => t.clone(),
            Some(_) => {
                return Err(invalid(
                    key(&name),
                    "(not a table)",
                    "a table of provider settings",
                ))
            }
            None if kinds.contains(&name.as_str()) => serde_json::Map::new(),
            None => {
                return Err(invalid(
                    key("providers"),
                    &name,
                    format!(
                        "a provider with a [channels.{channel}.{name}] table, or one of {}",
                        kinds.join(", ")
                    ),
                ))
            }
        };
        let kind = table
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or(&name)
            .to_string();
        if !kinds.contains(&kind.as_str()) {
            return Err(invalid(
                key(&format!("{name}.type")),
                &kind,
                format!("one of {}", kinds.join(", ")),
            ));
        }
        // A table of the operator's naming takes its type's limit unless it
        // sets its own (a DingTalk robot named `ops` keeps DingTalk's).
        let own_or_type = |k: &str| {
            table.get(k).or_else(|| match raw.tables.get(&kind) {
                Some(serde_json::Value::Object(t)) if kind != name => t.get(k),
                _ => None,
            })
        };
        let limit = own_or_type("rate_limit")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let burst = own_or_type("rate_burst")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32;
        let rate_limit = rate_limit(&format!("{channel}.{name}"), &limit, burst)?;
        providers.push(ProviderConfig {
            name: name.clone(),
            kind,
            key: format!("channels.{channel}.{name}"),
            settings: table,
            rate_limit,
        });
    }
    if providers.is_empty() {
        return Err(invalid(
            key("providers"),
            "[]",
            format!("at least one of {}", kinds.join(", ")),
        ));
    }
    Ok(ChannelConfig {
        timeout: positive_duration(key("timeout"), &raw.timeout)?,
        retry_schedule: schedule(key("retry_schedule"), &raw.retry_schedule)?,
        max_retry_after: duration(key("max_retry_after"), &raw.max_retry_after)?,
        providers,
        breaker_threshold: raw.breaker_threshold.max(1),
        breaker_cool_down: positive_duration(key("breaker_cool_down"), &raw.breaker_cool_down)?,
        from: raw.from.unwrap_or_default(),
        reply_to: raw.reply_to.filter(|r| !r.is_empty()),
        unsubscribe: raw.unsubscribe.unwrap_or_default(),
    })
}

/// Limits on what a template can make missive do (`[render]`).
#[derive(Clone, Debug)]
pub struct RenderConfig {
    /// Longest a template part may take to render.
    pub timeout: Duration,
    /// Loop iterations and partial inclusions one part may take.
    pub max_steps: u64,
    /// Longest source of one template part.
    pub max_source_bytes: usize,
    /// Compiled stored templates and inline contents kept, in bytes.
    pub template_cache_bytes: usize,
    pub inline_cache_bytes: usize,
    /// Largest rendered output per `channel.part`, with the key that sets it.
    pub max_output: Vec<(&'static str, &'static str, usize)>,
}

impl RenderConfig {
    /// The largest output of a part, and the setting that says so.
    pub fn max_output(&self, channel: &str, part: &str) -> (usize, &'static str) {
        self.max_output
            .iter()
            .find(|(p, _, _)| p.split_once('.') == Some((channel, part)))
            .map(|(_, key, n)| (*n, *key))
            .unwrap_or((1 << 20, "render"))
    }
}

impl Default for RenderConfig {
    fn default() -> Self {
        let raw: Raw = Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .expect("default.toml reads");
        render(raw.render).expect("default.toml is valid")
    }
}

fn render(raw: RawRender) -> Result<RenderConfig, ConfigError> {
    let timeout = positive_duration("render.timeout", &raw.timeout)?;
    if timeout > Duration::from_secs(60) {
        return Err(invalid("render.timeout", &raw.timeout, "at most 60s"));
    }
    let positive = |key: &'static str, n: u64| {
        if n == 0 {
            Err(invalid(key, n, "a number greater than zero"))
        } else {
            Ok(n as usize)
        }
    };
    let max_output = [
        (
            "email.subject",
            "render.max_email_subject_bytes",
            raw.max_email_subject_bytes,
        ),
        (
            "email.html",
            "render.max_email_html_bytes",
            raw.max_email_html_bytes,
        ),
        (
            "email.text",
            "render.max_email_text_bytes",
            raw.max_email_text_bytes,
        ),
        (
            "sms.text",
            "render.max_sms_text_bytes",
            raw.max_sms_text_bytes,
        ),
        (
            "webhook.body",
            "render.max_webhook_body_bytes",
            raw.max_webhook_body_bytes,
        ),
        (
            "in_app.title",
            "render.max_in_app_title_bytes",
            raw.max_in_app_title_bytes,
        ),
        (
            "in_app.body",
            "render.max_in_app_body_bytes",
            raw.max_in_app_body_bytes,
        ),
        (
            "in_app.action_url",
            "render.max_in_app_action_url_bytes",
            raw.max_in_app_action_url_bytes,
        ),
        (
            "chat.title",
            "render.max_chat_title_bytes",
            raw.max_chat_title_bytes,
        ),
        (
            "chat.text",
            "render.max_chat_text_bytes",
            raw.max_chat_text_bytes,
        ),
        (
            "chat.blocks",
            "render.max_chat_blocks_bytes",
            raw.max_chat_blocks_bytes,
        ),
    ]
    .into_iter()
    .map(|(part, key, n)| positive(key, n).map(|n| (part, key, n)))
    .collect::<Result<Vec<_>, _>>()?;
    Ok(RenderConfig {
        timeout,
        max_steps: positive("render.max_steps", raw.max_steps)? as u64,
        max_source_bytes: positive("render.max_source_bytes", raw.max_source_bytes)?,
        template_cache_bytes: raw.template_cache_bytes as usize,
        inline_cache_bytes: raw.inline_cache_bytes as usize,
        max_output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_file_follows_the_data_dir_unless_a_url_is_given() {
        let c = Config::from_toml("data_dir = \"/var/lib/missive\"").unwrap();
        assert_eq!(c.database.url, "sqlite:///var/lib/missive/missive.db");
        assert_eq!(c.database.backend, Backend::Sqlite);
        let c = Config::from_toml(
            "data_dir = \"/var/lib/missive\"\n[database]\nurl = \"sqlite:///srv/m.db\"",
        )
        .unwrap();
        assert_eq!(c.database.url, "sqlite:///srv/m.db");
    }

    #[test]
    fn defaults_load_and_match_the_design() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database.backend, Backend::Sqlite);
        assert_eq!(c.database.url, "sqlite://data/missive.db");
        assert_eq!(c.webhook.retry_schedule.len(), 7);
        assert_eq!(c.webhook.retry_schedule[0], Duration::from_secs(5));
        assert!(!c.webhook.allow_private);
    }

    #[test]
    fn environment_variables_keep_a_phone_numbers_plus() {
        let vars = [
            ("MISSIVE__CHANNELS__SMS__PROVIDERS", "[\"twilio\"]"),
            ("MISSIVE__CHANNELS__SMS__TWILIO__ACCOUNT_SID", "AC1"),
            ("MISSIVE__CHANNELS__SMS__TWILIO__AUTH_TOKEN", "t"),
            ("MISSIVE__CHANNELS__SMS__TWILIO__FROM", "+15005550006"),
            ("MISSIVE__WORKER__CONCURRENCY", "7"),
            ("MISSIVE__CHANNELS__WEBHOOK__ALLOW_PRIVATE", "true"),
            ("OTHER__WORKER__CONCURRENCY", "9"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let c = Config::from_figment(
            Figment::from(Toml::string(DEFAULT_TOML)).merge(EnvVars::from(vars)),
        )
        .unwrap();
        let twilio = &c.sms.providers[0];
        assert_eq!(twilio.settings["from"], "+15005550006");
        assert_eq!(c.worker.concurrency, 7);
        assert!(c.webhook.allow_private);
        assert_eq!(
            env_value("0123"),
            figment::value::Value::from("0123".to_string())
        );
        assert_eq!(env_value("0"), figment::value::Value::from(0u8));
        assert!(matches!(env_value("-5"), figment::value::Value::Num(..)));
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let e = Config::from_toml("[server]\nbind = \"nowhere\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.bind"), "{e}");
        let e = Config::from_toml("[channels.webhook]\ntimeout = \"10 parsecs\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("channels.webhook.timeout"), "{e}");
        let e = Config::from_toml("[database]\nurl = \"mysql://x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("database.url"), "{e}");
        let e = Config::from_toml("[worker]\nconcurrency = \"many\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("worker.concurrency"), "{e}");
        let e = Config::from_toml("[channels.webhook]\nsigning_secret = \"hunter2\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("channels.webhook.signing_secret") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn database_waits_are_short_and_the_sqlite_size_limit_is_checked() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.database.acquire_timeout, Duration::from_secs(3));
        assert_eq!(c.database.sqlite_max_bytes, None);
        let c = Config::from_toml(
            "[database]\nsqlite_max_bytes = 1048576\nacquire_timeout = \"500ms\"",
        )
        .unwrap();
        assert_eq!(c.database.sqlite_max_bytes, Some(1 << 20));
        assert_eq!(c.database.acquire_timeout, Duration::from_millis(500));
        assert_eq!(c.database.writers, 2);
        let c = Config::from_toml("[database]\nwriters = 1").unwrap();
        assert_eq!(c.database.writers, 1);
        for (toml, key) in [
            (
                "[database]\nacquire_timeout = \"0s\"",
                "database.acquire_timeout",
            ),
            (
                "[database]\nsqlite_max_bytes = 4096",
                "database.sqlite_max_bytes",
            ),
            ("[database]\nwriters = 0", "database.writers"),
            ("[database]\nwriters = 9", "database.writers"),
        ] {
            let e = Config::from_toml(toml).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn the_share_per_destination_defaults_to_half_of_the_workers() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.worker.max_in_flight_per_destination, 32);
        let c = Config::from_toml("[worker]\nconcurrency = 2").unwrap();
        assert_eq!(c.worker.max_in_flight_per_destination, 1);
        let c = Config::from_toml("[worker]\nmax_in_flight_per_destination = 5").unwrap();
        assert_eq!(c.worker.max_in_flight_per_destination, 5);
        let e = Config::from_toml("[worker]\nmax_in_flight_per_destination = 20000")
            .unwrap_err()
            .to_string();
        assert!(e.contains("worker.max_in_flight_per_destination"), "{e}");
    }

    #[test]
    fn the_public_url_is_checked() {
        let c = Config::from_toml("[server]\npublic_url = \"https://m.example.com/n/\"").unwrap();
        assert_eq!(
            c.server.public_url.as_deref(),
            Some("https://m.example.com/n")
        );
        assert_eq!(Config::from_toml("").unwrap().server.public_url, None);
        for bad in [
            "ftp://m.example.com",
            "https://m.example.com/?a=1",
            "m.example.com",
        ] {
            let e = Config::from_toml(&format!("[server]\npublic_url = \"{bad}\"")).unwrap_err();
            assert!(e.to_string().contains("server.public_url"), "{e}");
        }
    }

    #[test]
    fn receipt_secrets_are_never_printed() {
        let c = Config::from_toml("[receipts]\nsendgrid_secret = \"sg-hunter2\"").unwrap();
        assert_eq!(c.receipts.sendgrid_secret.0, "sg-hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.receipts.postmark_secret.0, "");
    }

    #[test]
    fn the_metrics_token_is_read_and_never_printed() {
        let c = Config::from_toml("[server]\nmetrics_token = \" hunter2 \"").unwrap();
        assert_eq!(c.server.metrics_token, "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        let open = Config::from_toml("").unwrap();
        assert_eq!(open.server.metrics_token, "");
    }

    #[test]
    fn secrets_are_read_from_files_and_never_repeated_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        let secret = crate::domain::secrets::generate_inbox_secret();
        std::fs::write(&file, format!("{secret}\n")).unwrap();
        let c = Config::from_toml(&format!("[inbox]\ntoken_secret_file = {:?}", file)).unwrap();
        assert_eq!(c.inbox.token_secret.0, secret);
        assert!(!format!("{c:?}").contains(&secret));
        let c = Config::from_toml(&format!("[inbox]\ntoken_secret = {secret:?}")).unwrap();
        assert_eq!(c.inbox.token_secret.0, secret);
        for (toml, key) in [
            ("[server]\nmetrics_token = 12345678", "server.metrics_token"),
            ("[inbox]\ntoken_secret = 12345678", "inbox.token_secret"),
            (
                "[channels.webhook]\nsigning_secret = 12345678",
                "channels.webhook.signing_secret",
            ),
            ("[inbox]\ntoken_secret = \"12345678\"", "inbox.token_secret"),
        ] {
            let e = Config::from_toml(toml).unwrap_err().to_string();
            assert!(e.contains(key) && !e.contains("12345678"), "{e}");
        }
        let both = format!("[inbox]\ntoken_secret = {secret:?}\ntoken_secret_file = {file:?}");
        let e = Config::from_toml(&both).unwrap_err().to_string();
        assert!(
            e.contains("inbox.token_secret_file") && !e.contains(&secret),
            "{e}"
        );
        let e = Config::from_toml("[inbox]\ntoken_secret_file = \"/nonexistent/x\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("inbox.token_secret_file") && e.contains("/nonexistent/x"),
            "{e}"
        );
    }

    #[test]
    fn server_limits_are_read_and_checked() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.server.header_read_timeout, Duration::from_secs(10));
        assert_eq!(c.server.max_connections, 20_000);
        assert_eq!(c.server.shutdown_drain, Duration::from_secs(5));
        assert_eq!(c.server.metrics_refresh, Duration::from_secs(10));
        let c = Config::from_toml("[server]\nshutdown_drain = \"0s\"").unwrap();
        assert_eq!(c.server.shutdown_drain, Duration::ZERO);
        for (toml, key) in [
            ("header_read_timeout = \"0s\"", "server.header_read_timeout"),
            (
                "header_read_timeout = \"soon\"",
                "server.header_read_timeout",
            ),
            ("max_connections = 0", "server.max_connections"),
            ("shutdown_drain = \"later\"", "server.shutdown_drain"),
            ("metrics_refresh = \"0s\"", "server.metrics_refresh"),
        ] {
            let e = Config::from_toml(&format!("[server]\n{toml}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{toml}: {e}");
        }
    }

    #[test]
    fn lease_must_outlast_the_timeout() {
        let e = Config::from_toml("[worker]\nlease = \"5s\"")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "configuration: `worker.lease` = 5s is too short: it must be longer than every \
             channel's timeout (the longest is `channels.email.timeout` = 20s), or a delivery \
             could be sent twice while still in flight"
        );
        let e = Config::from_toml("[worker]\nlease = \"20s\"\n[channels.sms]\ntimeout = \"30s\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`worker.lease` = 20s is too short: it must be longer")
                && e.contains("(the longest is `channels.sms.timeout` = 30s)"),
            "{e}"
        );
        assert!(Config::from_toml("[worker]\nlease = \"21s\"").is_ok());
    }

    #[test]
    fn providers_are_listed_in_order_and_checked() {
        let c = Config::from_toml("[channels.email]\nproviders = [\"smtp\", \"backup\"]\n[channels.email.backup]\ntype = \"file\"").unwrap();
        let names: Vec<_> = c
            .email
            .providers
            .iter()
            .map(|p| (p.name.as_str(), p.kind.as_str()))
            .collect();
        assert_eq!(names, vec![("smtp", "smtp"), ("backup", "file")]);
        let e = Config::from_toml("[channels.sms]\nproviders = [\"pigeon\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("channels.sms.providers"), "{e}");
        let e = Config::from_toml(
            "[channels.sms]\nproviders = [\"x\"]\n[channels.sms.x]\ntype = \"fax\"",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("channels.sms.x.type"), "{e}");
        let e = Config::from_toml("[channels.email]\nproviders = \"\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("channels.email.providers"), "{e}");
    }

    #[test]
    fn flow_settings_are_checked() {
        let c = Config::from_toml("[flow]\nquiet_hours = \"22:00-08:00\"\nfrequency_caps = { marketing = \"5/1d\" }\n[channels.sms]\nrate_limit = \"50/s\"").unwrap();
        assert_eq!(c.flow.quiet_hours.unwrap().start, "22:00");
        assert_eq!(c.flow.frequency_caps["marketing"].count, 5);
        assert_eq!(c.flow.rate_limits["sms"].burst, 5);
        for (toml, key) in [
            ("[flow]\nquiet_hours = \"late\"", "flow.quiet_hours"),
            (
                "[flow]\nfrequency_caps = { spam = \"1/1d\" }",
                "flow.frequency_caps",
            ),
            (
                "[flow]\nfrequency_caps = { marketing = \"often\" }",
                "flow.frequency_caps",
            ),
            (
                "[channels.webhook]\nrate_limit = \"fast\"",
                "channels.webhook.rate_limit",
            ),
        ] {
            let e = Config::from_toml(toml).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn retry_schedule_accepts_a_comma_separated_string() {
        let c = Config::from_toml("[channels.webhook]\nretry_schedule = \"10ms, 20ms\"").unwrap();
        assert_eq!(
            c.webhook.retry_schedule,
            vec![Duration::from_millis(10), Duration::from_millis(20)]
        );
    }

    #[test]
    fn inbox_settings_are_checked() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.inbox.token_ttl, Duration::from_secs(3600));
        assert_eq!(c.inbox.heartbeat, Duration::from_secs(15));
        assert_eq!(
            (
                c.inbox.max_connections,
                c.inbox.max_connections_per_recipient,
                c.inbox.buffer
            ),
            (10_000, 10, 256)
        );
        assert!(c.inbox.cors_origins.is_empty());
        let c = Config::from_toml(
            "[inbox]\ncors_origins = [\"https://app.example.com\", \"http://localhost:3000\"]",
        )
        .unwrap();
        assert_eq!(c.inbox.cors_origins.len(), 2);
        assert_eq!(
            Config::from_toml("[inbox]\ncors_origins = \"*\"")
                .unwrap()
                .inbox
                .cors_origins,
            vec!["*"]
        );
        for (toml, key) in [
            ("[inbox]\ntoken_ttl = \"0s\"", "inbox.token_ttl"),
            ("[inbox]\ntoken_ttl = \"90d\"", "inbox.token_ttl"),
            ("[inbox]\nheartbeat = \"often\"", "inbox.heartbeat"),
            ("[inbox]\nmax_connections = 0", "inbox.max_connections"),
            (
                "[inbox]\nmax_connections = 5\nmax_connections_per_recipient = 6",
                "inbox.max_connections_per_recipient",
            ),
            ("[inbox]\nbuffer = 0", "inbox.buffer"),
            (
                "[inbox]\ncors_origins = [\"https://app.example.com/inbox\"]",
                "inbox.cors_origins",
            ),
            (
                "[inbox]\ncors_origins = [\"app.example.com\"]",
                "inbox.cors_origins",
            ),
            (
                "[inbox]\ncors_origins = [\"*\", \"https://a.example\"]",
                "inbox.cors_origins",
            ),
        ] {
            let e = Config::from_toml(toml).unwrap_err().to_string();
            assert!(e.contains(key), "{toml}: {e}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn telemetry_keys_are_checked() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.telemetry.otlp_endpoint, None);
        assert_eq!(c.telemetry.otlp_protocol, None);
        let c = Config::from_toml(
            "[telemetry]\notlp_endpoint = \"http://127.0.0.1:4317\"\notlp_protocol = \"GRPC\"",
        )
        .unwrap();
        assert_eq!(
            c.telemetry.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4317")
        );
        assert_eq!(c.telemetry.otlp_protocol, Some(OtlpProtocol::Grpc));
        let c = Config::from_toml("[telemetry]\notlp_protocol = \"http/protobuf\"").unwrap();
        assert_eq!(c.telemetry.otlp_protocol, Some(OtlpProtocol::HttpProtobuf));
        let e = Config::from_toml("[telemetry]\notlp_protocol = \"http/json\"").unwrap_err();
        assert!(e.to_string().contains("telemetry.otlp_protocol"), "{e}");
        let e = Config::from_toml("[telemetry]\notlp_endpoint = \"collector:4318\"").unwrap_err();
        assert!(e.to_string().contains("telemetry.otlp_endpoint"), "{e}");
    }

    #[test]
    fn the_log_format_is_text_or_json() {
        assert_eq!(Config::from_toml("").unwrap().log.format, LogFormat::Text);
        let c = Config::from_toml("[log]\nformat = \"JSON\"").unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        let e = Config::from_toml("[log]\nformat = \"xml\"").unwrap_err();
        assert!(e.to_string().contains("log.format"), "{e}");
    }

    #[test]
    fn render_limits_are_read_and_checked() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.render.timeout, Duration::from_secs(2));
        assert_eq!(
            c.render.max_output("email", "html"),
            (1 << 20, "render.max_email_html_bytes")
        );
        assert_eq!(
            c.render.max_output("sms", "text"),
            (65536, "render.max_sms_text_bytes")
        );
        assert_eq!(c.render.inline_cache_bytes, 32 << 20);
        let c = Config::from_toml("[render]\nmax_sms_text_bytes = 1000\ninline_cache_bytes = 1024")
            .unwrap();
        assert_eq!(c.render.max_output("sms", "text").0, 1000);
        assert_eq!(c.render.inline_cache_bytes, 1024);
        for (toml, key) in [
            ("timeout = \"0s\"", "render.timeout"),
            ("timeout = \"5m\"", "render.timeout"),
            ("max_steps = 0", "render.max_steps"),
            (
                "max_webhook_body_bytes = 0",
                "render.max_webhook_body_bytes",
            ),
        ] {
            let e = Config::from_toml(&format!("[render]\n{toml}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("`{key}`")), "{toml}: {e}");
        }
    }
}
