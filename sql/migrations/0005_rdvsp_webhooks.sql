-- Webhooks: the version of each record, the receiving endpoint of inbox events, and drift per
-- organisation for the nightly reconciliation.

-- The time of the state a row holds: the event's timestamp for a webhook, the poll's start
-- for a polling sync. An older event or poll never overwrites a newer row.
ALTER TABLE rdvsp.organisations ADD COLUMN last_event_at timestamptz;
ALTER TABLE rdvsp.agents        ADD COLUMN last_event_at timestamptz;
ALTER TABLE rdvsp.users         ADD COLUMN last_event_at timestamptz;
ALTER TABLE rdvsp.motifs        ADD COLUMN last_event_at timestamptz;
ALTER TABLE rdvsp.lieux         ADD COLUMN last_event_at timestamptz;
ALTER TABLE rdvsp.rdvs          ADD COLUMN last_event_at timestamptz;

-- Which organisation's endpoint received the event (its secret verified the signature).
ALTER TABLE sync.webhook_inbox ADD COLUMN endpoint_organisation_id bigint;
CREATE INDEX webhook_inbox_received ON sync.webhook_inbox (connector, received_at DESC);

-- RDV drift per organisation of each sync (what webhooks missed, for the nightly run).
CREATE TABLE rdvsp.sync_log_organisations (
    sync_log_id     uuid    NOT NULL REFERENCES rdvsp.sync_logs (id) ON DELETE CASCADE,
    organisation_id bigint  NOT NULL,
    rdvs_created    integer NOT NULL,
    rdvs_updated    integer NOT NULL,
    rdvs_deleted    integer NOT NULL,
    drift           integer NOT NULL,
    webhook_status  text,                  -- the organisation's webhook installation at that time
    PRIMARY KEY (sync_log_id, organisation_id)
);

-- An OAuth authorization started by `sync-assets rdvsp connect`, completed by the process that
-- receives the browser on the redirect URI (the webhook server, or `connect` itself).
CREATE TABLE rdvsp.pending_authorizations (
    state                   text PRIMARY KEY,
    code_verifier_encrypted text        NOT NULL,
    sync_from               date        NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    completed_at            timestamptz,
    account_id              bigint,
    error                   text
);
