-- A run begins: its row is written (and committed) at once, by a connection of its own.
INSERT INTO sync.runs (id, connector, partition_key, kind, dagster_run_id, started_at, status, runner_pid, detail)
VALUES (%(id)s, %(connector)s, %(partition_key)s, %(kind)s, %(dagster_run_id)s, now(), 'running', pg_backend_pid(),
        %(detail)s);
