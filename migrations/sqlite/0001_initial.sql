-- missive's tables. Times are Unix milliseconds (INTEGER), ids are UUIDv7
-- text (time-ordered, so "newest first" is "id descending"), JSON is TEXT.
-- The PostgreSQL schema in migrations/postgres is the same, column by column.

-- API keys: only the SHA-256 of a key is stored; `prefix` lets an operator
-- tell keys apart without the secret.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,          -- comma-separated: send,templates,read,admin
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- Process-wide settings made on first start (the webhook signing secret,
-- the key inbox tokens are signed with, the marker that the first admin key
-- was issued).
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE templates (
    key             TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    archived_at     INTEGER
);

-- Every change to a template is a new immutable version.
CREATE TABLE template_versions (
    template_key TEXT NOT NULL REFERENCES templates(key),
    version      INTEGER NOT NULL,
    name         TEXT NOT NULL,
    content      TEXT NOT NULL,          -- {"channels": {...}, "locales": {...}}
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (template_key, version)
);

-- Stored recipient profiles. A send's `to` entry with an `id` uses these
-- addresses and settings; inline fields override them.
CREATE TABLE recipients (
    id          TEXT PRIMARY KEY,
    email       TEXT,
    phone       TEXT,
    webhook_url TEXT,
    locale      TEXT,
    timezone    TEXT,
    preferences TEXT NOT NULL,           -- {"channels": {"sms": false}, "categories": {"marketing": false}}
    quiet_hours TEXT,                    -- {"start": "22:00", "end": "08:00"}
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE notifications (
    id               TEXT PRIMARY KEY,
    template_key     TEXT,               -- NULL for inline content
    template_version INTEGER,
    data             TEXT NOT NULL,
    category         TEXT NOT NULL,
    priority         TEXT NOT NULL,
    locale           TEXT,
    dedup_key        TEXT,
    send_at          INTEGER,
    api_key_id       TEXT,
    created_at       INTEGER NOT NULL
);

-- The queue. One row per delivery is both its log entry and its place in
-- line. `due_at` is when the row may next be claimed: for queued/scheduled/
-- retrying rows the time it may be sent, for a `sending` row the end of its
-- lease, after which another worker may claim it again.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications(id),
    template_key    TEXT,
    recipient       TEXT NOT NULL,       -- the recipient id, or the address for inline ones
    recipient_data  TEXT NOT NULL,       -- the `to` entry as given (JSON)
    channel         TEXT NOT NULL,
    category        TEXT NOT NULL,       -- the notification's: transactional, marketing, auth
    address         TEXT NOT NULL,
    content         TEXT NOT NULL,       -- rendered parts (JSON)
    status          TEXT NOT NULL,
    reason          TEXT,
    priority        INTEGER NOT NULL,    -- 0 high, 1 normal, 2 low
    attempts        INTEGER NOT NULL DEFAULT 0,
    retry_base      INTEGER NOT NULL DEFAULT 0, -- attempts made before the last manual retry
    due_at          INTEGER,
    claim_token     TEXT,
    last_error      TEXT,
    provider        TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Claiming: due rows by priority, earliest first (and the next wake-up
-- time). Partial, so finished rows cost the queue nothing.
CREATE INDEX deliveries_due ON deliveries (priority, due_at)
    WHERE status IN ('queued', 'scheduled', 'retrying', 'sending');
CREATE INDEX deliveries_notification ON deliveries (notification_id);
CREATE INDEX deliveries_status ON deliveries (status, id);
CREATE INDEX deliveries_recipient ON deliveries (recipient, id);
-- Frequency caps count a recipient's recent deliveries per channel and category.
CREATE INDEX deliveries_cap ON deliveries (recipient, channel, category, created_at);
CREATE INDEX deliveries_template ON deliveries (template_key, id);
CREATE INDEX deliveries_updated ON deliveries (updated_at)
    WHERE status IN ('sent', 'failed', 'suppressed', 'cancelled');

-- One row per try of a delivery against a provider.
CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL,
    number      INTEGER NOT NULL,
    provider    TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    outcome     TEXT NOT NULL,           -- ok | transient | permanent
    status_code INTEGER,
    response    TEXT,                    -- first 4 KiB of the answer
    error       TEXT,
    PRIMARY KEY (delivery_id, number)
);

-- Idempotency-Key answers, per API key, replayed until expires_at.
CREATE TABLE idempotency_keys (
    api_key_id      TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- In-app inbox: one message per in_app delivery (delivery_id is unique, so
-- a retried or reclaimed delivery can't store two). `id` is a UUIDv7 made
-- when the message is stored: "newest first" is "id descending", and a
-- stream resumed with Last-Event-ID replays the ids after it. Archived
-- messages are kept but no longer listed or counted.
CREATE TABLE inbox_messages (
    id              TEXT PRIMARY KEY,
    recipient       TEXT NOT NULL,       -- the recipient id
    delivery_id     TEXT NOT NULL UNIQUE,
    notification_id TEXT NOT NULL,
    title           TEXT,
    body            TEXT,
    action_url      TEXT,
    data            TEXT NOT NULL,       -- the notification's data (JSON)
    category        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    read_at         INTEGER,
    archived_at     INTEGER
);
CREATE INDEX inbox_messages_listed ON inbox_messages (recipient, id) WHERE archived_at IS NULL;
CREATE INDEX inbox_messages_unread ON inbox_messages (recipient, id) WHERE archived_at IS NULL AND read_at IS NULL;

-- Deduplication: a scope (a dedup_key, or rendered content, for one
-- recipient and channel) is held by the first delivery until expires_at;
-- later deliveries with the same scope are suppressed as duplicates.
CREATE TABLE dedup_keys (
    scope       TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;                         -- one B-tree instead of two
CREATE INDEX dedup_keys_expiry ON dedup_keys (expires_at);

-- Send-rate limits shared by every process: a token bucket per channel.
CREATE TABLE rate_buckets (
    name       TEXT PRIMARY KEY,
    tokens     REAL NOT NULL,
    updated_at INTEGER NOT NULL
);
