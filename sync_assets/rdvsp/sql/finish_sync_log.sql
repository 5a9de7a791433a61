WITH finished AS (
    UPDATE rdvsp.sync_logs
    SET ended_at = now(), status = 'success', drift = %(drift)s, pages_fetched = %(pages)s,
        api_requests = %(api_requests)s, organisation_ids = %(organisation_ids)s
    WHERE id = %(id)s
    RETURNING id
)
INSERT INTO rdvsp.sync_log_tables (sync_log_id, table_name, count, created, updated, deleted, noop, drift)
SELECT (SELECT id FROM finished), t.*
FROM unnest(%(tables)s::text[], %(counts)s::int[], %(created)s::int[], %(updated)s::int[], %(deleted)s::int[],
            %(noop)s::int[], %(drifts)s::int[]) AS t;
