-- One run per partition at a time: a second run of the same partition waits here for the first to
-- end, then reads the cursor the first one left. The lock belongs to the run's connection (it
-- fetches outside any transaction) and goes with it, also when its process dies.
SELECT pg_advisory_lock(hashtextextended(%(connector)s || ':' || %(partition_key)s, 0));
