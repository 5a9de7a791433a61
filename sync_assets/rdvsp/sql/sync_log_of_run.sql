SELECT l.id, l.account_id, l.status, l.error, l.organisation_ids, l.drift, l.started_at, l.ended_at,
       coalesce(json_agg(json_build_array(t.table_name, t.count, t.created, t.updated, t.deleted, t.noop, t.drift)
                         ORDER BY t.table_name) FILTER (WHERE t.table_name IS NOT NULL), '[]')
FROM rdvsp.sync_logs l
LEFT JOIN rdvsp.sync_log_tables t ON t.sync_log_id = l.id
WHERE l.dagster_run_id = %(run_id)s
GROUP BY l.id;
