SELECT r.id, r.practice_id, r.account_name, r.mode, r.status, r.reason, r.updated_since, r.cursor_after,
       coalesce(json_agg(json_build_array(t.table_name, t.count, t.created, t.updated, t.deleted, t.noop, t.drift)
                         ORDER BY t.table_name) FILTER (WHERE t.table_name IS NOT NULL), '[]')
FROM doctolib.sync_runs r
LEFT JOIN doctolib.sync_run_tables t ON t.sync_run_id = r.id
WHERE r.dagster_run_id = %(run_id)s
GROUP BY r.id
ORDER BY r.started_at;
