-- Delivery statistics, pre-aggregated per minute: written in the
-- transaction that writes the outcome (or the suppression) they count.
-- `template` is '' for inline content, `provider` and `reason` '' when
-- there is none. `shard` spreads concurrent writers over rows (always 0
-- on SQLite's one writer). h0..h19 count the accepted-to-sent times of
-- `sent` rows in log2 buckets of milliseconds: h0 <= 1 ms, hN <= 2^N ms,
-- h19 everything longer than 2^18 ms.
CREATE TABLE delivery_stats (
    minute   BIGINT NOT NULL,
    template TEXT NOT NULL,
    channel  TEXT NOT NULL,
    provider TEXT NOT NULL,
    status   TEXT NOT NULL,
    reason   TEXT NOT NULL,
    shard    BIGINT NOT NULL,
    n        BIGINT NOT NULL,
    h0 BIGINT NOT NULL, h1 BIGINT NOT NULL, h2 BIGINT NOT NULL, h3 BIGINT NOT NULL,
    h4 BIGINT NOT NULL, h5 BIGINT NOT NULL, h6 BIGINT NOT NULL, h7 BIGINT NOT NULL,
    h8 BIGINT NOT NULL, h9 BIGINT NOT NULL, h10 BIGINT NOT NULL, h11 BIGINT NOT NULL,
    h12 BIGINT NOT NULL, h13 BIGINT NOT NULL, h14 BIGINT NOT NULL, h15 BIGINT NOT NULL,
    h16 BIGINT NOT NULL, h17 BIGINT NOT NULL, h18 BIGINT NOT NULL, h19 BIGINT NOT NULL,
    PRIMARY KEY (minute, template, channel, provider, status, reason, shard)
);
