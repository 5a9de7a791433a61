-- A run that could not happen, recorded with its reason.
INSERT INTO sync.runs (id, connector, partition_key, kind, dagster_run_id, started_at, ended_at, status, error, detail)
VALUES (%(id)s, %(connector)s, %(partition_key)s, %(kind)s, %(dagster_run_id)s, now(), now(), 'skipped', %(reason)s,
        %(detail)s);
