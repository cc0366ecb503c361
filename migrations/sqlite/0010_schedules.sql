-- Recurring schedules: a workflow triggered for the same recipients and
-- data at the times an expression gives, in a timezone or in each
-- recipient's own.
CREATE TABLE schedules (
    id           TEXT PRIMARY KEY,
    workflow_key TEXT NOT NULL,
    recipients   TEXT NOT NULL,         -- the 'to' entries (JSON)
    data         TEXT NOT NULL,
    schedule     TEXT NOT NULL,         -- as written: 'weekly mon 09:00', a cron expression
    timezone     TEXT NOT NULL,         -- an IANA name, or 'recipient'
    paused_at    INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- When a schedule fires next, per timezone its recipients are in (one row
-- for a fixed timezone). A firing is keyed by (schedule, timezone, time):
-- every process may see it due, one notification is made.
CREATE TABLE schedule_targets (
    schedule_id       TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    timezone          TEXT NOT NULL,
    recipients        TEXT NOT NULL,    -- the 'to' entries in this timezone (JSON)
    next_fire_at      INTEGER NOT NULL,
    last_fired_at     INTEGER,
    last_notification TEXT,
    last_error        TEXT,
    PRIMARY KEY (schedule_id, timezone)
);
CREATE INDEX schedule_targets_due ON schedule_targets (next_fire_at);
