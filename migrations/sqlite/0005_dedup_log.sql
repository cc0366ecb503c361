-- Deduplication on SQLite: claims are appended to a log instead of being
-- upserted into a B-tree keyed by scope. Scopes are random, so the upsert
-- dirtied a page of its own per claim in every commit group; an append
-- touches the log's last page. Each process keeps the log's unexpired
-- scopes in memory (src/store/held.rs) and, inside every accepting
-- transaction, reads the rows appended since it last looked, so processes
-- sharing the file agree. `seq` is AUTOINCREMENT: it never goes back,
-- even after the newest rows are purged, so "rows after seq N" never
-- misses one. PostgreSQL keeps dedup_keys (many processes, row locks).
-- The delivery that made a claim is not kept: the delivery knows its own
-- dedup_key (through its notification), and a shorter row is fewer bytes
-- written per claim.
CREATE TABLE dedup_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    scope      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX dedup_log_expiry ON dedup_log (expires_at);

INSERT INTO dedup_log (scope, expires_at)
    SELECT scope, expires_at FROM dedup_keys ORDER BY expires_at;
DROP TABLE dedup_keys;
