-- One run log for every connector: sync.runs (a row per run) and sync.run_tables (its figures per
-- table), in place of rdvsp.sync_logs / sync_log_tables and doctolib.sync_runs / sync_run_tables.
-- Their rows move here; the old names stay, as views, for the queries written against them.

CREATE TABLE sync.runs (
    id             uuid PRIMARY KEY,
    connector      text        NOT NULL,
    partition_key  text,                              -- the account, the practice… (NULL: none could be chosen)
    kind           text        NOT NULL,
    dagster_run_id text,
    started_at     timestamptz NOT NULL DEFAULT now(),
    ended_at       timestamptz,
    status         text        NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'success', 'failed', 'skipped', 'interrupted')),
    error          text,
    pages          integer,
    api_requests   integer,
    drift          integer,
    runner_pid     integer,                           -- pg_backend_pid() of the connection writing the row
    detail         jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_newest ON sync.runs (started_at DESC);
CREATE INDEX runs_partition ON sync.runs (connector, partition_key, started_at DESC);
CREATE INDEX runs_of_dagster_run ON sync.runs (dagster_run_id);
CREATE INDEX runs_running ON sync.runs (started_at) WHERE status = 'running';
COMMENT ON TABLE sync.runs IS 'One row per sync run of any connector, from its start: what it did, or why it failed or could not happen.';
COMMENT ON COLUMN sync.runs.connector IS 'rdvsp (RDV Service Public) or doctolib.';
COMMENT ON COLUMN sync.runs.partition_key IS 'What the run synced: an RDV Service Public account (agent id), a Doctolib practice id.';
COMMENT ON COLUMN sync.runs.kind IS
    'rdvsp: initial, polling, nightly or scoped (some organisations); doctolib: incremental or full_refresh.';
COMMENT ON COLUMN sync.runs.dagster_run_id IS 'The Dagster run that ran it, when one did.';
COMMENT ON COLUMN sync.runs.status IS
    'running, success, failed (see error), skipped (it could not happen: see error) or interrupted (its process died).';
COMMENT ON COLUMN sync.runs.error IS 'Why it failed or was skipped: ids, statuses and reasons, never personal data.';
COMMENT ON COLUMN sync.runs.pages IS 'API pages read.';
COMMENT ON COLUMN sync.runs.api_requests IS 'API requests sent.';
COMMENT ON COLUMN sync.runs.drift IS 'Rows created, updated or deleted, all tables together.';
COMMENT ON COLUMN sync.runs.runner_pid IS 'The database backend of the connection writing this row (a run whose backend is gone was interrupted).';
COMMENT ON COLUMN sync.runs.detail IS
    'The connector''s own figures: rdvsp organisation_ids; doctolib account_name, updated_since, cursor_before, cursor_after.';

CREATE TABLE sync.run_tables (
    run_id     uuid    NOT NULL REFERENCES sync.runs (id) ON DELETE CASCADE,
    table_name text    NOT NULL,
    count      integer NOT NULL,
    created    integer NOT NULL,
    updated    integer NOT NULL,
    deleted    integer NOT NULL,
    noop       integer NOT NULL,
    drift      integer NOT NULL,
    PRIMARY KEY (run_id, table_name)
);
COMMENT ON TABLE sync.run_tables IS 'What a run did to each table it merged.';
COMMENT ON COLUMN sync.run_tables.count IS 'Rows the API returned (distinct).';
COMMENT ON COLUMN sync.run_tables.noop IS 'Rows already as the API had them (or refused as older than the warehouse''s).';
COMMENT ON COLUMN sync.run_tables.drift IS 'created + updated + deleted.';

INSERT INTO sync.runs (id, connector, partition_key, kind, dagster_run_id, started_at, ended_at, status, error, pages,
                       api_requests, drift, runner_pid, detail)
SELECT id, 'rdvsp', account_id::text, kind, dagster_run_id, started_at, ended_at, status, error, pages_fetched,
       api_requests, drift, runner_pid,
       CASE WHEN organisation_ids IS NULL THEN '{}' ELSE jsonb_build_object('organisation_ids', organisation_ids) END
FROM rdvsp.sync_logs;
INSERT INTO sync.run_tables SELECT sync_log_id, table_name, count, created, updated, deleted, noop, drift
FROM rdvsp.sync_log_tables;
INSERT INTO sync.runs (id, connector, partition_key, kind, dagster_run_id, started_at, ended_at, status, error, pages,
                       api_requests, drift, runner_pid, detail)
SELECT id, 'doctolib', practice_id::text, mode, dagster_run_id, started_at, ended_at, status, reason, pages_fetched,
       api_requests, drift, runner_pid,
       jsonb_strip_nulls(jsonb_build_object('account_name', account_name, 'updated_since', updated_since,
                                            'cursor_before', cursor_before, 'cursor_after', cursor_after))
FROM doctolib.sync_runs;
INSERT INTO sync.run_tables SELECT sync_run_id, table_name, count, created, updated, deleted, noop, drift
FROM doctolib.sync_run_tables;

-- RDV Service Public's RDV drift per organisation of a run (the nightly's measure of webhooks).
ALTER TABLE rdvsp.sync_log_organisations DROP CONSTRAINT sync_log_organisations_sync_log_id_fkey;
ALTER TABLE rdvsp.sync_log_organisations RENAME TO run_organisations;
ALTER TABLE rdvsp.run_organisations RENAME COLUMN sync_log_id TO run_id;
ALTER TABLE rdvsp.run_organisations RENAME CONSTRAINT sync_log_organisations_pkey TO run_organisations_pkey;
ALTER TABLE rdvsp.run_organisations
    ADD CONSTRAINT run_organisations_run_id_fkey FOREIGN KEY (run_id) REFERENCES sync.runs (id) ON DELETE CASCADE;
COMMENT ON TABLE rdvsp.run_organisations IS
    'The RDV drift of each organisation a run covered: for a nightly run, what webhooks missed there.';

DROP TABLE rdvsp.sync_log_tables, rdvsp.sync_logs, doctolib.sync_run_tables, doctolib.sync_runs;

-- The former tables, as views of the run log (read-only).
CREATE VIEW rdvsp.sync_logs AS
SELECT id, partition_key::bigint AS account_id, dagster_run_id, kind,
       ARRAY(SELECT jsonb_array_elements_text(detail -> 'organisation_ids')::bigint) AS organisation_ids,
       started_at, ended_at, status, error, drift, pages AS pages_fetched, api_requests, runner_pid
FROM sync.runs WHERE connector = 'rdvsp';
CREATE VIEW rdvsp.sync_log_tables AS
SELECT t.run_id AS sync_log_id, t.table_name, t.count, t.created, t.updated, t.deleted, t.noop, t.drift
FROM sync.run_tables t JOIN sync.runs r ON r.id = t.run_id WHERE r.connector = 'rdvsp';
CREATE VIEW rdvsp.sync_log_organisations AS
SELECT run_id AS sync_log_id, organisation_id, rdvs_created, rdvs_updated, rdvs_deleted, drift, webhook_status
FROM rdvsp.run_organisations;
CREATE VIEW doctolib.sync_runs AS
SELECT id, partition_key::bigint AS practice_id, detail ->> 'account_name' AS account_name, dagster_run_id,
       kind AS mode, started_at, ended_at, status, error AS reason,
       (detail ->> 'updated_since')::timestamptz AS updated_since, (detail ->> 'cursor_before')::timestamptz AS cursor_before,
       (detail ->> 'cursor_after')::timestamptz AS cursor_after, pages AS pages_fetched, api_requests, drift, runner_pid
FROM sync.runs WHERE connector = 'doctolib';
CREATE VIEW doctolib.sync_run_tables AS
SELECT t.run_id AS sync_run_id, t.table_name, t.count, t.created, t.updated, t.deleted, t.noop, t.drift
FROM sync.run_tables t JOIN sync.runs r ON r.id = t.run_id WHERE r.connector = 'doctolib';
COMMENT ON VIEW rdvsp.sync_logs IS 'RDV Service Public runs, as they were kept before sync.runs (read-only).';
COMMENT ON VIEW rdvsp.sync_log_tables IS 'Their figures per table (read-only view of sync.run_tables).';
COMMENT ON VIEW rdvsp.sync_log_organisations IS 'Their RDV drift per organisation (read-only view of rdvsp.run_organisations).';
COMMENT ON VIEW doctolib.sync_runs IS 'Doctolib runs, as they were kept before sync.runs (read-only).';
COMMENT ON VIEW doctolib.sync_run_tables IS 'Their figures per table (read-only view of sync.run_tables).';
