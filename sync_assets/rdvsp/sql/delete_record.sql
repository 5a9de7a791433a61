-- Destroy one record unless the table holds a newer state of it.
WITH gone AS (
    DELETE FROM {table} WHERE id = %(id)s AND (last_event_at IS NULL OR last_event_at <= %(at)s) RETURNING 1
)
SELECT count(*) FROM gone;
