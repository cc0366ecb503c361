-- A notification that triggers a workflow names it; each recipient's run
-- is a row in deliveries (channel 'workflow', its id the run's id) that
-- is claimed, leased and retried like any delivery: its due_at is when
-- the run's next step is due, its content where the run stands.
ALTER TABLE notifications ADD COLUMN workflow_key TEXT;
ALTER TABLE notifications ADD COLUMN workflow_version BIGINT;
-- Open runs with this key can be cancelled by a later event.
ALTER TABLE notifications ADD COLUMN cancel_key TEXT;
-- The run whose send step made this notification.
ALTER TABLE notifications ADD COLUMN parent_run TEXT;
CREATE INDEX notifications_cancel_key ON notifications (workflow_key, cancel_key)
    WHERE cancel_key IS NOT NULL;
CREATE INDEX notifications_parent_run ON notifications (parent_run)
    WHERE parent_run IS NOT NULL;

-- What each step of a run did. (run_id, step) is unique: a step's record
-- is written once per outcome, in the transaction that moves the run on.
CREATE TABLE workflow_steps (
    run_id          TEXT NOT NULL,
    step            BIGINT NOT NULL,       -- its place in the version's steps
    step_id         TEXT NOT NULL,
    state           TEXT NOT NULL,      -- done | skipped | failed | waiting
    detail          TEXT,               -- why it was skipped, what it waits for
    notification_id TEXT,               -- what a send step sent
    attempt         BIGINT NOT NULL DEFAULT 0, -- first_success: the channel being tried
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (run_id, step)
);
