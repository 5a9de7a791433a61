-- One run per partition at a time: a second run of the same partition waits here for the first
-- to commit or roll back, then reads the cursor the first one left.
SELECT pg_advisory_xact_lock(hashtextextended(%(connector)s || ':' || %(partition_key)s, 0));
