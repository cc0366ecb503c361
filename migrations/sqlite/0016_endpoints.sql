-- Status events sent back to the business system. An endpoint is a URL
-- registered through the API with the event types it wants and a Standard
-- Webhooks secret of its own; after a rotation the previous secret keeps
-- signing beside the new one until `previous_secret_until`. `failing_since`
-- is when its current run of failed attempts began (NULL while it
-- succeeds): an endpoint failing for `events.disable_after` is disabled.
CREATE TABLE endpoints (
    id                    TEXT PRIMARY KEY,
    url                   TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    event_types           TEXT NOT NULL,       -- ',a,b,' or '*' for every type
    enabled               INTEGER NOT NULL,    -- 1 or 0
    disabled_reason       TEXT,
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until INTEGER,
    failing_since         INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- One event for one endpoint: its place in that endpoint's queue and what
-- the event says. It is written in the transaction of the change it
-- reports, and only for endpoints enabled and subscribed then. `id` is the
-- event's id (the `webhook-id`), the same for every endpoint it goes to.
-- `attempts` counts every attempt; a replay starts a new retry cycle at
-- `retry_base`.
CREATE TABLE endpoint_messages (
    endpoint_id     TEXT NOT NULL,
    id              TEXT NOT NULL,
    type            TEXT NOT NULL,
    delivery_id     TEXT,
    notification_id TEXT,
    recipient       TEXT,
    channel         TEXT,
    status          TEXT,
    detail          TEXT,
    provider        TEXT,
    created_at      INTEGER NOT NULL,
    state           TEXT NOT NULL,             -- pending, sending, succeeded, failed
    due_at          INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    retry_base      INTEGER NOT NULL DEFAULT 0,
    claim_token     TEXT,
    last_error      TEXT,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, id)
);
CREATE INDEX endpoint_messages_due ON endpoint_messages (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX endpoint_messages_failed ON endpoint_messages (endpoint_id, created_at) WHERE state = 'failed';
-- Retention (maintenance.retention) deletes finished messages by age.
CREATE INDEX endpoint_messages_created ON endpoint_messages (created_at);

-- Every attempt to send a message to its endpoint, and the endpoint's own
-- log lines (outcome `disabled` when it was disabled for failing).
CREATE TABLE endpoint_attempts (
    id          TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    number      INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    outcome     TEXT NOT NULL,                 -- ok, failed, disabled
    status_code INTEGER,
    response    TEXT,
    error       TEXT
);
CREATE INDEX endpoint_attempts_endpoint ON endpoint_attempts (endpoint_id, id);
