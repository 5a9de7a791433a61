-- Runs still 'running' whose connection is gone: their process died before writing the end.
-- Their transaction rolled back with the connection, so nothing of them was applied. A backend
-- that started after the row was written is another one with a reused pid; one whose start is
-- hidden (another role, without pg_read_all_stats) is taken to be alive.
UPDATE sync.runs s
SET status = 'interrupted', ended_at = now(), error = %(reason)s
WHERE s.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                  WHERE a.pid = s.runner_pid AND (a.backend_start IS NULL OR a.backend_start <= s.started_at))
RETURNING s.id, s.connector, s.partition_key;
