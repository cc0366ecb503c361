-- An open digest: events of one workflow for one recipient and digest key
-- are merged into the run that opened it (run_id) until closes_at. One
-- row per (workflow, recipient, key): a trigger that finds it adds its
-- event; the owner deletes it as it closes, in the same transaction.
CREATE TABLE workflow_digests (
    workflow_key TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    digest_key   TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    closes_at    BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workflow_key, recipient, digest_key)
);

-- The events a digest collected. They are read in the order their
-- notifications were accepted (source_run's id, a UUIDv7, grows with it),
-- not the order the runs reached the digest.
CREATE TABLE workflow_digest_events (
    run_id     TEXT NOT NULL,
    source_run TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
