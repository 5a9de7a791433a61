-- The runs a Dagster run recorded, oldest first, with their figures per table.
SELECT r.id, r.connector, r.partition_key, r.kind, r.status, r.error, r.drift, r.detail,
       coalesce(json_agg(json_build_array(t.table_name, t.count, t.created, t.updated, t.deleted, t.noop, t.drift)
                         ORDER BY t.table_name) FILTER (WHERE t.table_name IS NOT NULL), '[]') AS tables
FROM sync.runs r
LEFT JOIN sync.run_tables t ON t.run_id = r.id
WHERE r.dagster_run_id = %(dagster_run_id)s
GROUP BY r.id
ORDER BY r.started_at;
