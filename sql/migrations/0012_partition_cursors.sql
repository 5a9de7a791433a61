-- The incremental cursor of every partition of every connector (platform/partition_sync.py), in
-- place of doctolib.sync_state, whose rows move here; its name stays, as a view.

CREATE TABLE sync.cursors (
    connector            text NOT NULL,
    partition_key        text NOT NULL,
    cursor               timestamptz,
    last_success_at      timestamptz,
    last_full_refresh_at timestamptz,
    last_run_id          uuid,
    PRIMARY KEY (connector, partition_key)
);
COMMENT ON TABLE sync.cursors IS
    'Where the next incremental run of each partition starts: the latest time of change its last successful run read.';
COMMENT ON COLUMN sync.cursors.connector IS 'The connector (doctolib…).';
COMMENT ON COLUMN sync.cursors.partition_key IS 'The partition (a Doctolib practice id…).';
COMMENT ON COLUMN sync.cursors.cursor IS
    'The highest time of change read; the next run asks from it less a lookback window. NULL: nothing read yet.';
COMMENT ON COLUMN sync.cursors.last_success_at IS 'When the partition last synced successfully.';
COMMENT ON COLUMN sync.cursors.last_full_refresh_at IS 'When it was last read in full (and what the API no longer lists deleted).';
COMMENT ON COLUMN sync.cursors.last_run_id IS 'That run, in sync.runs.';

INSERT INTO sync.cursors (connector, partition_key, cursor, last_success_at, last_full_refresh_at, last_run_id)
SELECT 'doctolib', practice_id::text, cursor_updated_at, last_success_at, last_full_refresh_at, last_run_id
FROM doctolib.sync_state;
DROP TABLE doctolib.sync_state;
CREATE VIEW doctolib.sync_state AS
SELECT partition_key::bigint AS practice_id, cursor AS cursor_updated_at, last_success_at, last_full_refresh_at,
       last_run_id
FROM sync.cursors WHERE connector = 'doctolib';
COMMENT ON VIEW doctolib.sync_state IS 'Former name of the practices'' cursors, now sync.cursors (connector doctolib).';

-- A run's cursor figures are named the same for every connector.
UPDATE sync.runs SET detail = detail - 'updated_since' || jsonb_build_object('since', detail -> 'updated_since')
WHERE connector = 'doctolib' AND detail ? 'updated_since';
CREATE OR REPLACE VIEW doctolib.sync_runs AS
SELECT id, partition_key::bigint AS practice_id, detail ->> 'account_name' AS account_name, dagster_run_id,
       kind AS mode, started_at, ended_at, status, error AS reason,
       (detail ->> 'since')::timestamptz AS updated_since, (detail ->> 'cursor_before')::timestamptz AS cursor_before,
       (detail ->> 'cursor_after')::timestamptz AS cursor_after, pages AS pages_fetched, api_requests, drift, runner_pid
FROM sync.runs WHERE connector = 'doctolib';
COMMENT ON COLUMN sync.runs.detail IS
    'The connector''s own figures: rdvsp organisation_ids; doctolib account_name; an incremental connector''s since, cursor_before and cursor_after.';
