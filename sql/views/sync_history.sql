-- analytics.sync_history: one row per sync run of any connector, with its figures: the history
-- support staff look at (what ran, when, how it went, what it changed).
--
--   started_at, ended_at, duration   when it ran (ended_at NULL while running)
--   connector                        rdvsp (RDV Service Public) or doctolib
--   partition_key                    what it synced: the account (agent id), the practice id
--   kind                             rdvsp: initial, polling, nightly, scoped; doctolib: incremental, full_refresh
--   status, error                    success, failed, skipped, interrupted, running; and why
--   pages, api_requests              what it read from the API
--   drift, created, updated,         rows changed, all tables together (drift = created + updated + deleted);
--   deleted, noop                    noop: rows already as the API had them
--   tables                           the same figures per table, as JSON
--   detail                           the connector's own figures (organisations, account, cursors)
--   dagster_run_id, run_id           the Dagster run, and the run's id in sync.runs
--
-- Query it newest first (ORDER BY started_at DESC), for a connector and partition if need be: the
-- indexes on sync.runs (started_at DESC) and (connector, partition_key, started_at DESC) read a
-- page's rows only; each run's figures are then read for those rows alone.
CREATE OR REPLACE VIEW analytics.sync_history AS
SELECT r.started_at, r.ended_at, r.ended_at - r.started_at AS duration, r.connector, r.partition_key, r.kind,
       r.status, r.error, r.pages, r.api_requests, r.drift,
       t.created, t.updated, t.deleted, t.noop, t.tables, r.detail, r.dagster_run_id, r.id AS run_id
FROM sync.runs r
LEFT JOIN LATERAL (
    SELECT sum(created)::int AS created, sum(updated)::int AS updated, sum(deleted)::int AS deleted,
           sum(noop)::int AS noop,
           jsonb_object_agg(table_name, jsonb_build_object('count', count, 'created', created, 'updated', updated,
                                                           'deleted', deleted, 'noop', noop, 'drift', drift)) AS tables
    FROM sync.run_tables
    WHERE run_id = r.id
) t ON true;

-- What analysts read in \d+ and in the Dagster UI
COMMENT ON VIEW analytics.sync_history IS
    'One row per sync run of any connector, with its figures, for support staff. Query it newest first '
    '(ORDER BY started_at DESC), for a connector and partition_key if need be.';
COMMENT ON COLUMN analytics.sync_history.started_at IS 'When the run started.';
COMMENT ON COLUMN analytics.sync_history.ended_at IS 'When it ended; NULL while running.';
COMMENT ON COLUMN analytics.sync_history.duration IS 'ended_at - started_at (an interval); NULL while running.';
COMMENT ON COLUMN analytics.sync_history.connector IS 'rdvsp (RDV Service Public) or doctolib.';
COMMENT ON COLUMN analytics.sync_history.partition_key IS 'What it synced: the account (agent id) or the practice id.';
COMMENT ON COLUMN analytics.sync_history.kind IS 'rdvsp: initial, polling, nightly or scoped; doctolib: incremental or full_refresh.';
COMMENT ON COLUMN analytics.sync_history.status IS 'running, success, failed, skipped (it could not happen) or interrupted (its process died).';
COMMENT ON COLUMN analytics.sync_history.error IS 'Why it failed or was skipped (ids and reasons, never personal data).';
COMMENT ON COLUMN analytics.sync_history.pages IS 'API pages read.';
COMMENT ON COLUMN analytics.sync_history.api_requests IS 'API requests sent.';
COMMENT ON COLUMN analytics.sync_history.drift IS 'Rows changed, all tables together: created + updated + deleted.';
COMMENT ON COLUMN analytics.sync_history.created IS 'Rows inserted, all tables together (NULL: no table figures).';
COMMENT ON COLUMN analytics.sync_history.updated IS 'Rows changed, all tables together.';
COMMENT ON COLUMN analytics.sync_history.deleted IS 'Rows deleted, all tables together.';
COMMENT ON COLUMN analytics.sync_history.noop IS 'Rows already as the API had them, all tables together.';
COMMENT ON COLUMN analytics.sync_history.tables IS 'The same figures per table, as JSON: {table: {count, created, updated, deleted, noop, drift}}.';
COMMENT ON COLUMN analytics.sync_history.detail IS 'The connector''s own figures (organisation_ids; account_name, since, cursor_before, cursor_after…).';
COMMENT ON COLUMN analytics.sync_history.dagster_run_id IS 'The Dagster run that ran it.';
COMMENT ON COLUMN analytics.sync_history.run_id IS 'The run''s id in sync.runs (and in sync.run_tables).';
