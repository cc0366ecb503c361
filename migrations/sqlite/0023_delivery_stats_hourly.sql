-- Delivery statistics rolled up per hour: the same keys and counters as
-- delivery_stats, `hour` the start of the hour (ms). The writer upserts
-- each batch's hourly rows beside its minute rows, in the same
-- transaction, so an hour's row always equals the sum of its minutes;
-- reads of day and week windows sum hours instead of minutes.
CREATE TABLE delivery_stats_hourly (
    hour     INTEGER NOT NULL,
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
    PRIMARY KEY (hour, template, channel, provider, status, reason, shard)
) WITHOUT ROWID;

-- The hours of the minutes already counted.
INSERT INTO delivery_stats_hourly (hour, template, channel, provider, status, reason, shard,
    n, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14, h15, h16, h17, h18, h19)
SELECT minute - minute % 3600000, template, channel, provider, status, reason, shard,
    SUM(n), SUM(h0), SUM(h1), SUM(h2), SUM(h3), SUM(h4), SUM(h5), SUM(h6), SUM(h7), SUM(h8), SUM(h9), SUM(h10), SUM(h11), SUM(h12), SUM(h13), SUM(h14), SUM(h15), SUM(h16), SUM(h17), SUM(h18), SUM(h19)
FROM delivery_stats
GROUP BY minute - minute % 3600000, template, channel, provider, status, reason, shard;
