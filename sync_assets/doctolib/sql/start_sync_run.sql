INSERT INTO doctolib.sync_runs (id, practice_id, dagster_run_id, mode, started_at, status, runner_pid)
VALUES (%(id)s, %(practice_id)s, %(run_id)s, %(mode)s, now(), 'running', pg_backend_pid());
