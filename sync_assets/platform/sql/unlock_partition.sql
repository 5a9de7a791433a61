-- The run of a partition has ended: the next one may start (lock_partition.sql).
SELECT pg_advisory_unlock(hashtextextended(%(connector)s || ':' || %(partition_key)s, 0));
