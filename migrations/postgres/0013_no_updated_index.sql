-- Retention purges finished deliveries through the creation-time index
-- (a delivery finished before the cutoff was created before it too), so
-- the completing update no longer adds an entry to an index of its own.
DROP INDEX deliveries_updated;
