-- A recipient's, a channel's and a frequency cap's deliveries are read
-- from indexes that leave out the rows in flight (`sending`): a delivery
-- sent at once is written `sending` and rewritten `sent` a moment later,
-- and each write of a row adds an entry to every index that holds it.
-- Queries name `status <> 'sending'` to read these and add the few
-- `sending` rows from the waiting rows' index (store::queue::list_query,
-- store::writer::CAP_COUNT). See
-- docs/decisions/0042-postgresql-filter-indexes-leave-out-rows-in-flight.md.
DROP INDEX deliveries_recipient;
CREATE INDEX deliveries_recipient ON deliveries (recipient, id)
    WHERE status <> 'sending';
DROP INDEX deliveries_channel;
CREATE INDEX deliveries_channel ON deliveries (channel, id)
    WHERE status <> 'sending';
DROP INDEX deliveries_cap;
CREATE INDEX deliveries_cap ON deliveries (recipient, channel, category, created_at)
    WHERE status <> 'sending';
