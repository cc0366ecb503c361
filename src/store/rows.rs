//! The rows the store reads and writes, shared by every aggregate's trait
//! and both backends. They live apart from the traits because several
//! aggregates share them (a delivery row is queued, listed and replayed)
//! and `sqlx::FromRow` derives them once for both backends.

use serde::Serialize;

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

/// One version of a template or workflow, with its resource's state.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Versioned {
    pub key: String,
    pub name: String,
    pub version: i64,
    pub content: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

/// A recipient's device for the push channel (see migrations `devices`).
#[derive(Clone, Debug, Default, Serialize, sqlx::FromRow)]
pub struct DeviceRow {
    pub id: String,
    pub recipient: String,
    /// `webpush`, `fcm` or `apns`.
    pub kind: String,
    pub endpoint: Option<String>,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
    pub token: Option<String>,
    pub platform: Option<String>,
    pub app: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What storing a device did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutDevice {
    Created,
    Replaced,
    /// The recipient has its maximum of devices already; nothing stored.
    Full,
    /// There is no such recipient; nothing stored.
    NoRecipient,
}

#[derive(Clone, Debug, Default, Serialize, sqlx::FromRow)]
pub struct RecipientRow {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub webhook_url: Option<String>,
    /// `NAME` or `NAME:TARGET` (domain::chat).
    pub chat: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    /// JSON: {"channels": {..}, "categories": {..}}
    pub preferences: String,
    /// JSON: {"start": "22:00", "end": "08:00"}, or none.
    pub quiet_hours: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A template or workflow in the list: its current version and state.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VersionedSummary {
    pub key: String,
    pub name: String,
    pub current_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VersionRow {
    pub version: i64,
    pub name: String,
    pub content: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, Default, sqlx::FromRow)]
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
    /// The workflow it triggers, and the version.
    pub workflow_key: Option<String>,
    pub workflow_version: Option<i64>,
    /// Lets a later event cancel the runs it started.
    pub cancel_key: Option<String>,
    /// The run whose send step made it.
    pub parent_run: Option<String>,
    /// The W3C `traceparent` of the span that accepted it, when tracing is
    /// exported; stored with each of its deliveries (not a notifications
    /// column).
    #[sqlx(default)]
    pub traceparent: Option<String>,
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

/// An Idempotency-Key as an accept writes it: (api key id, key, the
/// record answering later uses, when it expires).
pub type IdempotencyKey = (String, String, IdempotencyRecord, i64);

/// Everything one accepted request writes, in one transaction.
#[derive(Clone, Debug)]
pub struct Accept {
    pub notification: NotificationRow,
    pub deliveries: Vec<NewDelivery>,
    /// (api key id, Idempotency-Key, record, expires_at)
    pub idempotency: Option<IdempotencyKey>,
    /// The 202 answer, with one entry per delivery in the same order, and
    /// its JSON (re-made only if deduplication changes it).
    pub answer: Accepted,
    pub answer_json: String,
    /// For a batch of a topic's fan-out: the notification exists already,
    /// and the batch is written only if the fan-out's row is still this
    /// worker's and still at the place the batch starts from; its row
    /// moves on in the same transaction.
    pub fence: Option<Fence>,
}

/// The fan-out row's move that a batch is written with (see
/// [`Accept::fence`]).
#[derive(Clone, Debug)]
pub struct Fence {
    /// The fan-out's row in `deliveries` (its id is the notification's).
    pub row_id: String,
    pub token: String,
    /// Its `content` (the place) as read before the batch.
    pub from: String,
    /// Its `content` after the batch.
    pub to: String,
    /// The end of the renewed lease; `None` when this batch is the last
    /// (the row becomes `sent`).
    pub lease_until: Option<i64>,
}

/// One delivery a send made (or suppressed).
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DeliverySummary {
    pub id: String,
    pub recipient: String,
    pub channel: String,
    pub status: String,
    /// Why the delivery was suppressed: `duplicate`, `preference`,
    /// `frequency_cap`, `no_address`, or `bounced` / `complained` (the
    /// address is on the suppression list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer to an accepted send.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: String,
    pub deliveries: Vec<DeliverySummary>,
    /// For a send to a topic: `pending` (the deliveries are made in the
    /// background; `GET /v1/notifications/{id}` shows how far). Absent
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients: Option<String>,
    /// For a send to a topic: the topic, and how many were subscribed when
    /// it was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
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
    /// A fan-out batch whose row is no longer held (cancelled, or its
    /// lease ended and another worker took it): nothing written.
    Lost,
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
    /// The trace context its attempts continue (see `crate::telemetry`).
    pub traceparent: Option<String>,
    /// The template it was rendered from (`None` for inline content).
    pub template_key: Option<String>,
    /// When its notification was accepted.
    pub created_at: i64,
}

impl Claimed {
    /// A delivery claimed as it is written (store::handoff).
    pub fn fresh(n: &NotificationRow, d: &NewDelivery, token: &str) -> Claimed {
        Claimed {
            id: d.id.clone(),
            notification_id: n.id.clone(),
            recipient: d.recipient.clone(),
            channel: d.channel.clone(),
            category: n.category.clone(),
            address: d.address.clone(),
            content: d.content.clone(),
            attempts: 0,
            retry_base: 0,
            claim_token: token.to_string(),
            traceparent: n.traceparent.clone(),
            template_key: d.template_key.clone(),
            created_at: n.created_at,
        }
    }
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
    /// When the session's key was last used (sessions count as its use).
    pub key_last_used_at: Option<i64>,
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
    /// What the delivery statistics count it under: its template (`None`
    /// for inline content), channel, and when it was accepted.
    pub template: Option<String>,
    pub channel: String,
    pub accepted_at: i64,
    /// The `traceparent` of the attempt's span when tracing is exported
    /// (the span recording the batch links to it).
    pub trace: Option<String>,
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

/// The result of asking for a state change (retry, cancel).
#[derive(Clone, Debug)]
pub enum Transition {
    Done(Box<DeliveryRow>),
    NotFound,
    /// The delivery is in a status the change does not apply to.
    WrongStatus(String),
}
