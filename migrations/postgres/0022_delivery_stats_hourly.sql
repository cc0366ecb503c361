-- Delivery statistics rolled up per hour: the same keys and counters as
-- delivery_stats, `hour` the start of the hour (ms). The writer upserts
-- each batch's hourly rows beside its minute rows, in the same
-- transaction, so an hour's row always equals the sum of its minutes;
-- reads of day and week windows sum hours instead of minutes.
CREATE TABLE delivery_stats_hourly (
    hour     BIGINT NOT NULL,
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
    PRIMARY KEY (hour, template, channel, provider, status, reason, shard)
);

-- The hours of the minutes already counted.
INSERT INTO delivery_stats_hourly (hour, template, channel, provider, status, reason, shard,
    n, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14, h15, h16, h17, h18, h19)
SELECT minute - minute % 3600000, template, channel, provider, status, reason, shard,
    SUM(n), SUM(h0), SUM(h1), SUM(h2), SUM(h3), SUM(h4), SUM(h5), SUM(h6), SUM(h7), SUM(h8), SUM(h9), SUM(h10), SUM(h11), SUM(h12), SUM(h13), SUM(h14), SUM(h15), SUM(h16), SUM(h17), SUM(h18), SUM(h19)
FROM delivery_stats
GROUP BY minute - minute % 3600000, template, channel, provider, status, reason, shard;
