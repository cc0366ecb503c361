-- Shared email layouts and handlebars partials: versioned resources that
-- templates name (`layout`, `{{> partial}}`) and that are resolved, at
-- their current version, each time a template renders.
CREATE TABLE layouts (
    key             TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    archived_at     BIGINT
);

CREATE TABLE layout_versions (
    layout_key TEXT NOT NULL REFERENCES layouts(key),
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    content    TEXT NOT NULL,          -- {"html": ..., "text": ..., "locales": {...}}
    created_at BIGINT NOT NULL,
    PRIMARY KEY (layout_key, version)
);

CREATE TABLE partials (
    key             TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    archived_at     BIGINT
);

CREATE TABLE partial_versions (
    partial_key TEXT NOT NULL REFERENCES partials(key),
    version     BIGINT NOT NULL,
    name        TEXT NOT NULL,
    content     TEXT NOT NULL,         -- {"source": ..., "locales": {...}}
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (partial_key, version)
);
