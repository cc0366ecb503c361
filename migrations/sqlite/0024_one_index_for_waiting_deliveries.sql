-- One index for the waiting rows instead of two: the claim read
-- `deliveries_due` (priority, due_at) and the console's queue depth and
-- `sending` filters `deliveries_waiting` (status, due_at), both over the
-- same rows. With the status first, the console reads a status's range as
-- before, and the claim reads one range per status and priority (twelve,
-- each at most as long as the claim). A delivery's insert and its
-- completion each touch one index entry fewer. See
-- docs/decisions/0041-one-index-for-waiting-deliveries-on-sqlite.md.
DROP INDEX deliveries_waiting;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (status, priority, due_at)
    WHERE status IN ('queued', 'scheduled', 'retrying', 'sending');
