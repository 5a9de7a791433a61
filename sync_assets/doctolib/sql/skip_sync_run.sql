-- A run that could not happen, recorded with its reason.
INSERT INTO doctolib.sync_runs (id, practice_id, dagster_run_id, mode, started_at, ended_at, status, reason)
VALUES (%(id)s, %(practice_id)s, %(run_id)s, %(mode)s, now(), now(), 'skipped', %(reason)s);
