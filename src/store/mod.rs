//! Storage: one [`Store`] trait, implemented for SQLite ([`sqlite`]) and
//! PostgreSQL ([`postgres`]), chosen once from the database URL.
//!
//! Both backends share the schema (times are Unix milliseconds, ids are
//! UUIDv7 text, JSON is text), so most statements are written once in
//! [`common`] and expanded for each backend's pool type. Only connecting,
//! claiming and waking differ.

#[macro_use]
pub mod common;
pub mod held;
pub mod postgres;
pub mod shared_state;
pub mod sqlite;

pub use shared_state::FlowState;

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::Serialize;

use crate::config::{Backend, DatabaseConfig};

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database writer has stopped")]
    WriterGone,
    /// A group of accepted requests failed for a reason that is not theirs
    /// (the disk is full, the database does not answer): each of them gets
    /// this copy of the error.
    #[error("{1}")]
    Unavailable(Unavailable, String),
}

/// Why the database can't do what was asked right now, when that is a
/// passing state of the database rather than a fault of the request: the
/// caller should try again later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// Writes fail for lack of space (SQLite's SQLITE_FULL or an I/O
    /// error writing the file, PostgreSQL's disk_full).
    Full,
    /// The database does not answer: no connection within
    /// `database.acquire_timeout`, a connection lost, or the server
    /// shutting down or starting.
    Down,
}

impl StoreError {
    /// Whether this is a passing state of the database (see
    /// [`Unavailable`]) rather than an error of the request or of missive.
    pub fn unavailable(&self) -> Option<Unavailable> {
        match self {
            StoreError::Db(e) => unavailable(e),
            StoreError::Unavailable(kind, _) => Some(*kind),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => unavailable(e),
            StoreError::Migrate(_) | StoreError::WriterGone => None,
        }
    }

    /// A copy for each request of a failed group, when the failure is the
    /// database's (see [`StoreError::unavailable`]).
    pub fn shared(&self) -> Option<StoreError> {
        self.unavailable()
            .map(|kind| StoreError::Unavailable(kind, self.to_string()))
    }
}

/// Classifies a driver error: see [`StoreError::unavailable`].
pub fn unavailable(e: &sqlx::Error) -> Option<Unavailable> {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Some(Unavailable::Down),
        sqlx::Error::Database(db) => {
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Extended result codes keep the primary code in the low byte.
                let code: i64 = db.code()?.parse().ok()?;
                match code & 0xff {
                    // SQLITE_IOERR, SQLITE_FULL
                    10 | 13 => Some(Unavailable::Full),
                    // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_CANTOPEN
                    5 | 6 | 14 => Some(Unavailable::Down),
                    _ => None,
                }
            } else {
                let state = db.code()?;
                match &*state {
                    // disk_full
                    "53100" => Some(Unavailable::Full),
                    // too_many_connections, admin_shutdown, crash_shutdown,
                    // cannot_connect_now, and every connection exception
                    "53300" | "57P01" | "57P02" | "57P03" => Some(Unavailable::Down),
                    s if s.starts_with("08") => Some(Unavailable::Down),
                    _ => None,
                }
            }
        }
        _ => None,
    }
}

/// Delivery statuses, as the API shows them and the rows store them:
/// [`Status`](crate::domain::Status)'s spellings.
pub mod status {
    use crate::domain::Status;

    pub const QUEUED: &str = Status::Queued.as_str();
    pub const SCHEDULED: &str = Status::Scheduled.as_str();
    pub const SENDING: &str = Status::Sending.as_str();
    pub const RETRYING: &str = Status::Retrying.as_str();
    pub const SENT: &str = Status::Sent.as_str();
    pub const FAILED: &str = Status::Failed.as_str();
    pub const SUPPRESSED: &str = Status::Suppressed.as_str();
    pub const CANCELLED: &str = Status::Cancelled.as_str();
    pub const ALL: [&str; 8] = {
        let mut all = [""; 8];
        let mut i = 0;
        while i < all.len() {
            all[i] = Status::ALL[i].as_str();
            i += 1;
        }
        all
    };
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    #[serde(skip)]
    pub key_hash: String,
    pub scopes: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TemplateRow {
    pub key: String,
    pub name: String,
    pub version: i64,
    pub content: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

#[derive(Clone, Debug, Default, Serialize, sqlx::FromRow)]
pub struct RecipientRow {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub webhook_url: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    /// JSON: {"channels": {..}, "categories": {..}}
    pub preferences: String,
    /// JSON: {"start": "22:00", "end": "08:00"}, or none.
    pub quiet_hours: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A template in the list: its current version and state.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TemplateSummary {
    pub key: String,
    pub name: String,
    pub current_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TemplateVersionRow {
    pub version: i64,
    pub name: String,
    pub content: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: String,
    pub template_key: Option<String>,
    pub template_version: Option<i64>,
    pub data: String,
    pub category: String,
    pub priority: String,
    pub locale: Option<String>,
    pub dedup_key: Option<String>,
    pub send_at: Option<i64>,
    pub api_key_id: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub id: String,
    pub template_key: Option<String>,
    pub recipient: String,
    pub recipient_data: String,
    pub channel: String,
    pub address: String,
    pub content: String,
    pub status: &'static str,
    pub reason: Option<String>,
    pub priority: i64,
    pub due_at: Option<i64>,
    /// Deduplication scope and the end of its window (ms): a delivery whose
    /// scope was seen inside the window is suppressed as a duplicate.
    pub dedup: Option<(String, i64)>,
    /// Frequency cap for this recipient, channel and category (and
    /// template, when the cap is the template's): at most `count`
    /// deliveries per `window_ms`; over it the delivery is suppressed with
    /// reason `frequency_cap`.
    pub cap: Option<(i64, i64, Option<String>)>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub notification_id: String,
    pub template_key: Option<String>,
    pub recipient: String,
    pub recipient_data: String,
    pub channel: String,
    pub category: String,
    pub address: String,
    pub content: String,
    pub status: String,
    pub reason: Option<String>,
    pub priority: i64,
    pub attempts: i64,
    pub due_at: Option<i64>,
    pub last_error: Option<String>,
    pub provider: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub number: i64,
    pub provider: String,
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: String,
    pub status_code: Option<i64>,
    pub response: Option<String>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IdempotencyRecord {
    pub request_hash: String,
    pub response_status: i64,
    pub response_body: String,
}

/// Everything one accepted request writes, in one transaction.
#[derive(Clone, Debug)]
pub struct Accept {
    pub notification: NotificationRow,
    pub deliveries: Vec<NewDelivery>,
    /// (api key id, Idempotency-Key, record, expires_at)
    pub idempotency: Option<(String, String, IdempotencyRecord, i64)>,
    /// The 202 answer, with one entry per delivery in the same order, and
    /// its JSON (re-made only if deduplication changes it).
    pub answer: Accepted,
    pub answer_json: String,
}

/// One delivery a send made (or suppressed).
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DeliverySummary {
    pub id: String,
    pub recipient: String,
    pub channel: String,
    pub status: String,
    /// Why the delivery was suppressed: `duplicate`, `preference`,
    /// `frequency_cap` or `no_address`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer to an accepted send.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: String,
    pub deliveries: Vec<DeliverySummary>,
    /// `true` when this answers a repeated `Idempotency-Key`: nothing new
    /// was queued, and each delivery's `status` is its status now (see
    /// `GET /v1/notifications/{id}` for more). Absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

#[derive(Clone, Debug)]
pub enum AcceptOutcome {
    /// Committed; the answer body, after deduplication.
    Created(String),
    /// The Idempotency-Key was already used; this is its record.
    Existing(IdempotencyRecord),
}

/// A delivery handed to a worker.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claimed {
    pub id: String,
    pub notification_id: String,
    pub recipient: String,
    pub channel: String,
    pub category: String,
    pub address: String,
    pub content: String,
    pub attempts: i64,
    pub retry_base: i64,
    pub claim_token: String,
}

/// A console sign-in as stored (`id` is the SHA-256 of the cookie value).
#[derive(Clone, Debug)]
pub struct ConsoleSessionRow {
    pub id: String,
    pub key_id: String,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What deleting a recipient removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasedRecipient {
    /// There was a stored profile.
    pub profile: bool,
    /// Inbox messages deleted.
    pub messages: u64,
    /// The recipient's token generation now (older tokens are refused).
    pub token_generation: i64,
}

/// A live console session with the key that opened it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionView {
    pub key_id: String,
    pub key_name: String,
    pub scopes: String,
    pub csrf: String,
    pub expires_at: i64,
}

/// How many deliveries of one status and channel (console overview).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct StatusCount {
    pub status: String,
    pub channel: String,
    pub n: i64,
}

/// Deliveries created in one minute (`minute` = Unix ms / 60,000), by status
/// and channel.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct MinuteCount {
    pub minute: i64,
    pub status: String,
    pub channel: String,
    pub n: i64,
}

/// Waiting deliveries of one status, and the earliest time one of them
/// became due.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct QueueDepth {
    pub status: String,
    pub n: i64,
    pub oldest_due: Option<i64>,
}

/// What a worker learnt from one attempt, and the delivery's next state.
#[derive(Clone, Debug)]
pub struct Completion {
    pub delivery_id: String,
    pub claim_token: String,
    pub status: &'static str,
    pub reason: Option<String>,
    pub due_at: Option<i64>,
    pub attempt: AttemptRow,
}

impl Completion {
    /// What the delivery keeps as its `last_error`: the attempt's error, or
    /// for an attempt the receiver answered but refused, that answer (its
    /// status code and the start of its body), so the log shows why a
    /// delivery failed and not only that it did.
    pub fn last_error(&self) -> Option<String> {
        const KEEP: usize = 200;
        let a = &self.attempt;
        if a.outcome == "ok" {
            return a.error.clone();
        }
        let body = a
            .response
            .as_deref()
            .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|r| !r.is_empty())
            .map(|r| match r.char_indices().nth(KEEP) {
                Some((i, _)) => format!("{}…", &r[..i]),
                None => r,
            });
        let head = a
            .error
            .clone()
            .or_else(|| a.status_code.map(|c| format!("answered {c}")));
        match (head, body) {
            (Some(h), Some(b)) => Some(format!("{h}: {b}")),
            (h, b) => h.or(b),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub channel: Option<String>,
    pub recipient: Option<String>,
    pub template: Option<String>,
    pub notification: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// A message in a recipient's in-app inbox.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct InboxMessage {
    pub id: String,
    pub recipient: String,
    pub delivery_id: String,
    pub notification_id: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub action_url: Option<String>,
    /// The notification's data (JSON).
    pub data: String,
    pub category: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
    pub archived_at: Option<i64>,
}

/// An in-app message to store; its data is copied from the notification.
#[derive(Clone, Debug)]
pub struct NewInboxMessage {
    pub id: String,
    pub recipient: String,
    pub delivery_id: String,
    pub notification_id: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub action_url: Option<String>,
    pub category: String,
    pub created_at: i64,
}

/// A provider's state shared by every process (`provider_state`): a pause
/// it asked for and an open circuit breaker, as Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ProviderStateRow {
    /// `<channel>:<provider>`.
    pub key: String,
    pub paused_until: Option<i64>,
    /// The breaker is open until then, half-open after.
    pub open_until: Option<i64>,
}

/// The result of asking for a state change (retry, cancel).
#[derive(Clone, Debug)]
pub enum Transition {
    Done(DeliveryRow),
    NotFound,
    /// The delivery is in a status the change does not apply to.
    WrongStatus(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// True when the database answers and every migration is applied.
    async fn ready(&self) -> StoreResult<bool>;

    async fn count_active_keys(&self) -> StoreResult<i64>;
    async fn insert_key(&self, key: &ApiKeyRow) -> StoreResult<()>;
    async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRow>>;
    async fn list_keys(&self) -> StoreResult<Vec<ApiKeyRow>>;
    async fn revoke_key(&self, id: &str, now: i64) -> StoreResult<bool>;
    async fn touch_key(&self, id: &str, now: i64) -> StoreResult<()>;

    async fn session_insert(&self, s: &ConsoleSessionRow) -> StoreResult<()>;
    /// The session with this id hash, if it has not expired and its key is
    /// not revoked.
    async fn session_get(&self, id: &str, now: i64) -> StoreResult<Option<SessionView>>;
    async fn session_delete(&self, id: &str) -> StoreResult<()>;

    /// Deliveries created since `since`, counted by status and channel.
    async fn delivery_counts(&self, since: i64) -> StoreResult<Vec<StatusCount>>;
    /// Deliveries created since `since`, counted per minute and status.
    async fn deliveries_per_minute(&self, since: i64) -> StoreResult<Vec<MinuteCount>>;
    /// Waiting deliveries by status (queued, scheduled, retrying, sending),
    /// with the earliest due time among those due by `now`.
    async fn queue_depth(&self, now: i64) -> StoreResult<Vec<QueueDepth>>;

    /// Stores `value` under `name` unless something is there already;
    /// returns what is stored (so concurrent first starts agree).
    async fn setting_init(&self, name: &str, value: &str) -> StoreResult<(String, bool)>;

    async fn get_template(
        &self,
        key: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<TemplateRow>>;
    /// Adds a version unless `content` equals the current one. Returns the
    /// current version and whether it is new.
    async fn put_template(
        &self,
        key: &str,
        name: &str,
        content: &str,
        now: i64,
    ) -> StoreResult<(i64, bool)>;

    async fn list_templates(&self, include_archived: bool) -> StoreResult<Vec<TemplateSummary>>;
    async fn template_versions(&self, key: &str) -> StoreResult<Vec<TemplateVersionRow>>;
    /// Makes version `version` current again (rollback). False if the
    /// template or version does not exist.
    async fn activate_template_version(
        &self,
        key: &str,
        version: i64,
        now: i64,
    ) -> StoreResult<bool>;
    /// Archives a template: it stays readable but can't be sent with.
    async fn archive_template(&self, key: &str, now: i64) -> StoreResult<bool>;

    /// Creates or replaces a profile; true if it was new.
    async fn put_recipient(&self, r: &RecipientRow) -> StoreResult<bool>;
    async fn get_recipients(&self, ids: &[String]) -> StoreResult<Vec<RecipientRow>>;
    /// Erases a recipient: its profile, its inbox messages, and (by
    /// raising its token generation) every inbox token issued for it.
    async fn delete_recipient(&self, id: &str) -> StoreResult<ErasedRecipient>;
    /// The generation a recipient's inbox tokens must carry (0 until its
    /// tokens are first revoked).
    async fn inbox_token_generation(&self, recipient: &str) -> StoreResult<i64>;
    /// Revokes every inbox token issued for `recipient`; returns the new
    /// generation.
    async fn revoke_inbox_tokens(&self, recipient: &str) -> StoreResult<i64>;

    async fn find_idempotency(
        &self,
        api_key_id: &str,
        key: &str,
        now: i64,
    ) -> StoreResult<Option<IdempotencyRecord>>;
    async fn accept(&self, accept: Accept) -> StoreResult<AcceptOutcome>;
    async fn get_notification(&self, id: &str) -> StoreResult<Option<NotificationRow>>;
    async fn deliveries_of(&self, notification_id: &str) -> StoreResult<Vec<DeliveryRow>>;

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRow>>;
    async fn get_delivery(&self, id: &str) -> StoreResult<Option<DeliveryRow>>;
    async fn attempts_of(&self, delivery_id: &str) -> StoreResult<Vec<AttemptRow>>;
    /// failed → queued, now, recording an audit entry (`note`) in its
    /// attempt log, as the bulk replay does.
    async fn retry_delivery(&self, id: &str, note: &str, now: i64) -> StoreResult<Transition>;
    /// queued/scheduled/retrying → cancelled.
    async fn cancel_delivery(&self, id: &str, now: i64) -> StoreResult<Transition>;
    /// Cancels every waiting delivery of a notification; returns how many.
    async fn cancel_notification(&self, notification_id: &str, now: i64) -> StoreResult<u64>;
    /// As [`Store::cancel_notification`], returning the channel of each
    /// delivery cancelled.
    async fn cancel_notification_channels(
        &self,
        notification_id: &str,
        now: i64,
    ) -> StoreResult<Vec<String>>;
    /// Re-queues every failed delivery matching `filter` (the dead-letter
    /// replay), recording an audit entry in each one's attempt log; returns
    /// how many.
    async fn retry_failed(&self, filter: &DeliveryFilter, note: &str, now: i64)
        -> StoreResult<u64>;

    /// Claims up to `limit` due deliveries (including `sending` ones whose
    /// lease ended) for `lease_until`, marking them with `token`.
    async fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
        token: &str,
    ) -> StoreResult<Vec<Claimed>>;
    /// Records attempts and the next state of each delivery, in one transaction.
    async fn complete(&self, completions: &[Completion], now: i64) -> StoreResult<()>;
    /// Takes up to `want` tokens from the bucket `name` (refilled at
    /// `per_ms` tokens a millisecond, holding at most `burst`); returns how
    /// many were granted.
    async fn take_tokens(
        &self,
        name: &str,
        per_ms: f64,
        burst: f64,
        want: i64,
        now: i64,
    ) -> StoreResult<i64>;
    /// Puts claimed deliveries back to wait until their time, with a reason
    /// (e.g. rate_limited): not an attempt.
    async fn defer(
        &self,
        token: &str,
        waits: &[(String, i64)],
        reason: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// Hands claimed deliveries back to the queue (shutdown).
    async fn release(&self, token: &str, now: i64) -> StoreResult<u64>;
    /// The earliest `due_at` among waiting deliveries.
    async fn next_due(&self) -> StoreResult<Option<i64>>;
    /// A stream that yields whenever another process accepted work
    /// (PostgreSQL LISTEN/NOTIFY); `None` where the backend has none.
    async fn wakeups(&self) -> StoreResult<Option<BoxStream<'static, ()>>>;

    /// Stores an in-app message unless its delivery stored one already;
    /// returns it if it is new. `event` is announced to other processes in
    /// the same transaction (see [`Store::inbox_announce`]).
    async fn inbox_insert(
        &self,
        m: &NewInboxMessage,
        event: &str,
    ) -> StoreResult<Option<InboxMessage>>;
    /// A recipient's listed (not archived) messages, newest first.
    async fn inbox_list(
        &self,
        recipient: &str,
        unread_only: bool,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<InboxMessage>>;
    async fn inbox_unread_count(&self, recipient: &str) -> StoreResult<i64>;
    /// Listed messages stored after `after_id`, oldest first (stream replay).
    async fn inbox_after(
        &self,
        recipient: &str,
        after_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<InboxMessage>>;
    async fn inbox_get(&self, recipient: &str, id: &str) -> StoreResult<Option<InboxMessage>>;
    /// Marks a listed message read. `None` if there is none; the flag says
    /// whether it was unread until now.
    async fn inbox_mark_read(
        &self,
        recipient: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<Option<(InboxMessage, bool)>>;
    /// Marks every listed message read; returns the ids that were unread.
    async fn inbox_mark_all_read(&self, recipient: &str, now: i64) -> StoreResult<Vec<String>>;
    async fn inbox_archive(&self, recipient: &str, id: &str, now: i64) -> StoreResult<bool>;
    /// Tells every process (PostgreSQL NOTIFY on `missive_inbox`, or
    /// `missive_inbox_<schema>`) about an inbox change; does nothing on
    /// SQLite, where one process holds the streams.
    async fn inbox_announce(&self, event: &str) -> StoreResult<()>;
    /// The inbox events announced by any process, this one included; `None`
    /// where the backend has none.
    async fn inbox_events(&self) -> StoreResult<Option<BoxStream<'static, String>>>;

    /// Every provider's shared state.
    async fn provider_states(&self) -> StoreResult<Vec<ProviderStateRow>>;
    /// Pauses a provider until `until` (a later pause already held stays).
    async fn provider_pause(&self, key: &str, until: i64, now: i64) -> StoreResult<()>;
    /// Opens a provider's breaker until `until` (`Some`), or closes it.
    async fn provider_breaker(
        &self,
        key: &str,
        open_until: Option<i64>,
        now: i64,
    ) -> StoreResult<()>;
    /// Takes the half-open probe of a provider whose breaker was seen open
    /// until `seen` (already past): moves `open_until` on to `lease_until`
    /// only if no other process has changed it since. True for the one
    /// process that wins.
    async fn provider_claim_probe(
        &self,
        key: &str,
        seen: i64,
        lease_until: i64,
        now: i64,
    ) -> StoreResult<bool>;

    async fn purge_idempotency(&self, now: i64) -> StoreResult<u64>;
    async fn purge_finished(&self, before: i64) -> StoreResult<u64>;
}

/// Opens the database named by the config, creating and migrating it.
pub async fn open(cfg: &DatabaseConfig) -> StoreResult<Arc<dyn Store>> {
    Ok(match cfg.backend {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::open(cfg).await?),
        Backend::Postgres => Arc::new(postgres::PgStore::open(cfg).await?),
    })
}
