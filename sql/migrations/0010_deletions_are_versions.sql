-- Webhooks and polls write the same rows concurrently. A deletion is a version too: a record
-- deleted at some moment (a `destroyed` webhook, or a poll that found it gone) leaves a tombstone,
-- and no state older than that moment brings it back, whether a poll or a late delivery holds it.

CREATE TABLE sync.tombstones (
    table_name      text        NOT NULL,
    record_key      text        NOT NULL,
    deleted_version timestamptz NOT NULL,
    deleted_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, record_key)
);
CREATE INDEX tombstones_pruning ON sync.tombstones (deleted_at);
COMMENT ON TABLE sync.tombstones IS
    'Records deleted from a synced table, with the version (time) of their deletion: a state of the same record '
    'older than that version is refused. Pruned after SYNC_TOMBSTONE_RETENTION_DAYS (30), longer than RDV '
    'Service Public retries a webhook (about 8 days).';
COMMENT ON COLUMN sync.tombstones.table_name IS 'The synced table, schema-qualified (rdvsp.rdvs).';
COMMENT ON COLUMN sync.tombstones.record_key IS 'The deleted row''s key: its id, or its key columns joined with commas.';
COMMENT ON COLUMN sync.tombstones.deleted_version IS
    'The version of the deletion: the destroyed event''s timestamp, or the start of the poll that found it gone.';
COMMENT ON COLUMN sync.tombstones.deleted_at IS 'When the tombstone was written (what retention counts from).';

-- Memberships change through webhooks too (UserProfile, AgentRole events): they carry a version.
ALTER TABLE rdvsp.user_profiles ADD COLUMN last_event_at timestamptz;
ALTER TABLE rdvsp.agent_roles   ADD COLUMN last_event_at timestamptz;
COMMENT ON COLUMN rdvsp.user_profiles.last_event_at IS
    'Version of the state held: the webhook event''s time, or the start of the poll that wrote it.';
COMMENT ON COLUMN rdvsp.agent_roles.last_event_at IS
    'Version of the state held: the webhook event''s time, or the start of the poll that wrote it.';
