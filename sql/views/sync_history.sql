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
