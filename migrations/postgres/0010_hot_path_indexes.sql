-- A delivery sent at once goes `sending` → `sent` and is never changed
-- again. The indexes that serve the console's status filters and counts
-- leave those two states out (see
-- docs/decisions/0022-status-indexes-leave-out-the-hot-path.md), so the
-- accepting insert and the completing update touch three fewer indexes:
-- the log filtered by `sent` reads the primary key newest first (most rows
-- are sent), by `sending` the waiting rows' index, and the counts add the
-- few `sending` rows from that index too. Queries repeat these predicates
-- so that SQLite sees the partial indexes apply.
DROP INDEX deliveries_status;
DROP INDEX deliveries_status_channel;
DROP INDEX deliveries_created;
CREATE INDEX deliveries_status ON deliveries (status, id)
    WHERE status NOT IN ('sending', 'sent');
CREATE INDEX deliveries_status_channel ON deliveries (status, channel, id)
    WHERE status NOT IN ('sending', 'sent');
CREATE INDEX deliveries_created ON deliveries (created_at, status, channel)
    WHERE status <> 'sending';
