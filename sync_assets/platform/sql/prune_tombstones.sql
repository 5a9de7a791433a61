-- Tombstones older than the retention window: by then no delivery of the record can still come
-- (RDV Service Public gives up retrying after about 8 days), and polls list only what exists.
WITH gone AS (
    DELETE FROM sync.tombstones WHERE deleted_at < now() - make_interval(days => %(retention_days)s) RETURNING 1
)
SELECT count(*) FROM gone;
