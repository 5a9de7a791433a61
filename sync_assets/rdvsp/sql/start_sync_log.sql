INSERT INTO rdvsp.sync_logs (id, account_id, dagster_run_id, kind, organisation_ids, started_at, status, runner_pid)
VALUES (%(id)s, %(account_id)s, %(run_id)s, %(kind)s, %(organisation_ids)s, now(), 'running', pg_backend_pid());
