-- Console sign-ins. A session is opened with an API key and lasts until
-- sign-out, its expiry, or the key's revocation. `id` is the SHA-256 of the
-- cookie's value, so the table holds nothing that signs a browser in.
CREATE TABLE console_sessions (
    id         TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES api_keys(id),
    csrf       TEXT NOT NULL,             -- the token every changing form carries
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- The console's overview counts deliveries by status and channel over the
-- last hour and day, and per minute; this index answers both from the index
-- alone.
CREATE INDEX deliveries_created ON deliveries (created_at, status, channel);
