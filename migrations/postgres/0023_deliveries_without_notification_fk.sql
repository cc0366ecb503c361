-- A delivery's notification is written by the statement that writes the
-- delivery (or, for a topic's fan-out batch, was written before and is
-- held by the fan-out's own row, which the batch updates first). The
-- foreign key checked that again for every row inserted: a trigger, a
-- query and a row lock on the notification each time, 7 % of the
-- database's time under the end-to-end load. The purge deletes a
-- notification only once none of its deliveries is left.
-- See docs/decisions/0038-no-foreign-key-from-deliveries-on-postgresql.md.
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_notification_id_fkey;
