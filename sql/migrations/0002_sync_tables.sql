-- Raw API responses, kept with the sha256 of their body so that an unchanged page is recognised.
-- One row per distinct body of an (endpoint, parameters) pair; fetching the same body again only
-- moves last_fetched_at and fetch_count. Pruned by `sync_raw_responses_retention`.
CREATE TABLE sync.raw_responses (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector       text        NOT NULL,
    endpoint        text        NOT NULL,      -- path without query string, e.g. /api/v1/rdvs
    params          jsonb       NOT NULL DEFAULT '{}',
    status          smallint    NOT NULL,
    body_sha256     text        NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    body            jsonb       NOT NULL,      -- a body that is not JSON is kept as a JSON string
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    last_fetched_at timestamptz NOT NULL DEFAULT now(),
    fetch_count     integer     NOT NULL DEFAULT 1,
    CONSTRAINT raw_responses_one_row_per_body UNIQUE (connector, endpoint, params, body_sha256)
);
CREATE INDEX raw_responses_latest ON sync.raw_responses (connector, endpoint, last_fetched_at DESC);
CREATE INDEX raw_responses_retention ON sync.raw_responses (last_fetched_at);

-- Every webhook delivery that was accepted (or rejected as malformed), before it is applied.
-- Unique on the hash of the body: a duplicate delivery is recognised and applied once.
CREATE TABLE sync.webhook_inbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector       text        NOT NULL,
    body_sha256     text        NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    body            jsonb,                     -- NULL when the body was not valid JSON
    raw_body        bytea,                     -- kept only for bodies that could not be parsed
    model           text,
    event           text,
    record_id       text,
    event_at        timestamptz,               -- the event's own timestamp (from its meta)
    received_at     timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL DEFAULT 'received'
                    CHECK (status IN ('received', 'applied', 'ignored', 'failed', 'rejected')),
    status_reason   text,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    applied_at      timestamptz,
    CONSTRAINT webhook_inbox_body_once UNIQUE (connector, body_sha256),
    CONSTRAINT webhook_inbox_has_body CHECK (body IS NOT NULL OR raw_body IS NOT NULL)
);
CREATE INDEX webhook_inbox_to_retry ON sync.webhook_inbox (next_attempt_at)
    WHERE status IN ('received', 'failed');

-- Schema drift seen in API payloads: field paths and counts, never values.
--   additive: a field the contract does not know (stored rows are unaffected)
--   breaking: a field missing, retyped or holding an unknown enum value (those rows were not stored)
CREATE TABLE sync.drift_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    detected_at       timestamptz NOT NULL DEFAULT now(),
    connector         text        NOT NULL,
    entity            text        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('additive', 'breaking')),
    field_path        text        NOT NULL,
    error_type        text        NOT NULL,
    row_count         integer     NOT NULL CHECK (row_count > 0),
    sample_record_ids text[]      NOT NULL DEFAULT '{}',
    run_id            text
);
CREATE INDEX drift_events_latest ON sync.drift_events (connector, entity, detected_at DESC);
