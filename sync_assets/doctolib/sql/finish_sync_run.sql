-- Runs inside the sync's transaction: the run is recorded a success only if its rows and its
-- cursor are committed.
WITH finished AS (
    UPDATE doctolib.sync_runs
    SET ended_at = now(), status = 'success', account_name = %(account_name)s, updated_since = %(updated_since)s,
        cursor_before = %(cursor_before)s, cursor_after = %(cursor_after)s, pages_fetched = %(pages)s,
        api_requests = %(api_requests)s, drift = %(drift)s
    WHERE id = %(id)s
    RETURNING id
)
INSERT INTO doctolib.sync_run_tables (sync_run_id, table_name, count, created, updated, deleted, noop, drift)
SELECT (SELECT id FROM finished), t.*
FROM unnest(%(tables)s::text[], %(counts)s::int[], %(created)s::int[], %(updated)s::int[], %(deleted)s::int[],
            %(noop)s::int[], %(drifts)s::int[]) AS t;
