INSERT INTO doctolib.sync_state AS s (practice_id, cursor_updated_at, last_success_at, last_full_refresh_at, last_run_id)
VALUES (%(practice_id)s, %(cursor)s, now(), CASE WHEN %(full_refresh)s THEN now() END, %(sync_run_id)s)
ON CONFLICT (practice_id) DO UPDATE
SET cursor_updated_at = EXCLUDED.cursor_updated_at, last_success_at = EXCLUDED.last_success_at,
    last_full_refresh_at = coalesce(EXCLUDED.last_full_refresh_at, s.last_full_refresh_at),
    last_run_id = EXCLUDED.last_run_id;
