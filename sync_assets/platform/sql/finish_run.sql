-- A run succeeded, with its figures per table (in the transaction that applies its rows, when it has one).
WITH finished AS (
    UPDATE sync.runs
    SET ended_at = now(), status = 'success', drift = %(drift)s, pages = %(pages)s, api_requests = %(api_requests)s,
        detail = detail || %(detail)s
    WHERE id = %(id)s
    RETURNING id
)
INSERT INTO sync.run_tables (run_id, table_name, count, created, updated, deleted, noop, drift)
SELECT (SELECT id FROM finished), t.*
FROM unnest(%(tables)s::text[], %(counts)s::int[], %(created)s::int[], %(updated)s::int[], %(deleted)s::int[],
            %(noop)s::int[], %(drifts)s::int[]) AS t;
