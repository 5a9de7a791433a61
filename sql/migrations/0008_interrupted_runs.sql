-- A sync whose process dies (killed, out of memory, machine lost) never writes its end: its row
-- would say 'running' for ever. Each run records the backend of the connection that writes its
-- log; the next run of the same connector marks the rows whose backend is gone 'interrupted'.

ALTER TABLE rdvsp.sync_logs
    ADD COLUMN runner_pid integer,  -- pg_backend_pid() of the connection writing this row
    DROP CONSTRAINT sync_logs_status_check,
    ADD CONSTRAINT sync_logs_status_check CHECK (status IN ('running', 'success', 'failed', 'interrupted'));

ALTER TABLE doctolib.sync_runs
    ADD COLUMN runner_pid integer,
    DROP CONSTRAINT sync_runs_status_check,
    ADD CONSTRAINT sync_runs_status_check
        CHECK (status IN ('running', 'success', 'failed', 'skipped', 'interrupted'));

-- Every run looks for rows left 'running': a handful among all the runs ever logged.
CREATE INDEX sync_logs_running ON rdvsp.sync_logs (started_at) WHERE status = 'running';
CREATE INDEX sync_runs_running ON doctolib.sync_runs (started_at) WHERE status = 'running';
