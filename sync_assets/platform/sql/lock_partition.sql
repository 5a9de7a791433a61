-- One run per partition at a time: a second run of the same partition waits here for the first to
-- end, then reads the cursor the first one left. The lock belongs to the run's connection (it
-- fetches outside any transaction): unlock_partition.sql releases it at the end, and it goes with the
-- connection if the process dies.
SELECT pg_advisory_lock(hashtextextended(%(connector)s || ':' || %(partition_key)s, 0));
