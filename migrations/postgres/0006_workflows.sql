-- Workflows are versioned like templates: every change is a new immutable
-- version, one of which is current.
CREATE TABLE workflows (
    key             TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    archived_at     BIGINT
);

CREATE TABLE workflow_versions (
    workflow_key TEXT NOT NULL REFERENCES workflows(key),
    version      BIGINT NOT NULL,
    name         TEXT NOT NULL,
    content      TEXT NOT NULL,          -- {"description": "...", "steps": [...]}
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workflow_key, version)
);
