-- The waiting rows' index, its condition written as equalities. SQLite
-- evaluates a partial index's condition for each row an INSERT or UPDATE
-- writes, and for an `IN` list of more than two values it builds a
-- throwaway b-tree of the values each time: three of them for each
-- delivery (written, then its outcome), four b-tree inserts each. A query
-- reads this index where it names one waiting status written out
-- (`status = 'sending'`), or repeats this condition in this form
-- (`WAITING_EQUALITIES` in src/store/dialect.rs).
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (status, priority, due_at)
    WHERE (status = 'queued' OR status = 'scheduled' OR status = 'retrying' OR status = 'sending');
