-- Workflows are versioned like templates: every change is a new immutable
-- version, one of which is current.
CREATE TABLE workflows (
    key             TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    archived_at     INTEGER
);

CREATE TABLE workflow_versions (
    workflow_key TEXT NOT NULL REFERENCES workflows(key),
    version      INTEGER NOT NULL,
    name         TEXT NOT NULL,
    content      TEXT NOT NULL,          -- {"description": "...", "steps": [...]}
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workflow_key, version)
);
