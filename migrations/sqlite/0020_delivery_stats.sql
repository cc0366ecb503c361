-- Delivery statistics, pre-aggregated per minute: written in the
-- transaction that writes the outcome (or the suppression) they count.
-- `template` is '' for inline content, `provider` and `reason` '' when
-- there is none. `shard` spreads concurrent writers over rows (always 0
-- on SQLite's one writer). h0..h19 count the accepted-to-sent times of
-- `sent` rows in log2 buckets of milliseconds: h0 <= 1 ms, hN <= 2^N ms,
-- h19 everything longer than 2^18 ms.
CREATE TABLE delivery_stats (
    minute   INTEGER NOT NULL,
    template TEXT NOT NULL,
    channel  TEXT NOT NULL,
    provider TEXT NOT NULL,
    status   TEXT NOT NULL,
    reason   TEXT NOT NULL,
    shard    INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    h0 INTEGER NOT NULL, h1 INTEGER NOT NULL, h2 INTEGER NOT NULL, h3 INTEGER NOT NULL,
    h4 INTEGER NOT NULL, h5 INTEGER NOT NULL, h6 INTEGER NOT NULL, h7 INTEGER NOT NULL,
    h8 INTEGER NOT NULL, h9 INTEGER NOT NULL, h10 INTEGER NOT NULL, h11 INTEGER NOT NULL,
    h12 INTEGER NOT NULL, h13 INTEGER NOT NULL, h14 INTEGER NOT NULL, h15 INTEGER NOT NULL,
    h16 INTEGER NOT NULL, h17 INTEGER NOT NULL, h18 INTEGER NOT NULL, h19 INTEGER NOT NULL,
    PRIMARY KEY (minute, template, channel, provider, status, reason, shard)
) WITHOUT ROWID;
