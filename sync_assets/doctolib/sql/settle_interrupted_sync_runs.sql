-- Runs still 'running' whose connection is gone (see rdvsp/sql/settle_interrupted_sync_logs.sql).
UPDATE doctolib.sync_runs s
SET status = 'interrupted', ended_at = now(),
    reason = 'the process running this sync stopped before it finished (killed, crashed, or cut from the '
             'database); nothing of it was applied and the cursor did not move, so the next run reads it again'
WHERE s.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.runner_pid AND (a.backend_start IS NULL OR a.backend_start <= s.started_at))
RETURNING s.id, s.practice_id;
