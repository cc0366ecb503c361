-- A frequency cap counts the deliveries a cap applied to when they were
-- accepted (`capped`), so the cap index holds only those: a delivery no
-- cap applies to, most of them, writes one index entry fewer. A cap set
-- later counts from when it was set. Rows from before this migration read
-- as capped (the column's default), so every cap counts them as before.
-- The count names `capped = 1` (store::writer::CAP_COUNT), which lets
-- SQLite use this partial index. See
-- docs/decisions/0048-the-cap-index-holds-only-capped-deliveries.md.
ALTER TABLE deliveries ADD COLUMN capped INTEGER NOT NULL DEFAULT 1;
DROP INDEX deliveries_cap;
CREATE INDEX deliveries_cap ON deliveries (recipient, channel, category, created_at)
    WHERE capped = 1;
