INSERT INTO sync.cursors AS c (connector, partition_key, cursor, last_success_at, last_full_refresh_at, last_run_id)
VALUES (%(connector)s, %(partition_key)s, %(cursor)s, now(), CASE WHEN %(full_refresh)s THEN now() END, %(run_id)s)
ON CONFLICT (connector, partition_key) DO UPDATE
SET cursor = EXCLUDED.cursor, last_success_at = EXCLUDED.last_success_at,
    last_full_refresh_at = coalesce(EXCLUDED.last_full_refresh_at, c.last_full_refresh_at),
    last_run_id = EXCLUDED.last_run_id;
