-- A provider's state shared by every process on this database: a pause it
-- asked for (429 / Retry-After) and an open circuit breaker. Key:
-- "<channel>:<provider>". Times are Unix milliseconds; NULL = none.
CREATE TABLE provider_state (
    key          TEXT PRIMARY KEY,
    paused_until BIGINT,
    open_until   BIGINT,                   -- breaker open until then; half-open after
    updated_at   BIGINT NOT NULL
);
