-- RDV Service Public: connected accounts and the synced tables.
-- Synced rows keep the API's id as primary key and `synced_at` (time of the last change by a
-- sync). Timestamps are timestamptz. Enum-like columns are text with a CHECK only where the
-- value set is closed by the API; an unknown value is breaking drift caught before the merge.

-- An agent account connected with OAuth. Tokens are encrypted with SYNC_SECRET_KEY.
CREATE TABLE rdvsp.accounts (
    id                      bigint PRIMARY KEY,              -- the agent id
    base_url                text        NOT NULL,            -- the RDV Service Public server
    access_token_encrypted  text,
    refresh_token_encrypted text,
    access_token_expires_at timestamptz,
    scope                   text,
    sync_from               date        NOT NULL,            -- RDVs starting before are not synced
    status                  text        NOT NULL DEFAULT 'active'
                            CHECK (status IN ('active', 'error', 'disconnected')),
    error                   text,                            -- why the account is in error (no personal data)
    error_at                timestamptz,
    connected_at            timestamptz NOT NULL DEFAULT now(),
    token_refreshed_at      timestamptz,
    last_synced_at          timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rdvsp.organisations (
    id           bigint PRIMARY KEY,
    name         text,
    email        text,
    phone_number text,
    verticale    text,
    website      text,
    time_zone    text,
    synced_at    timestamptz NOT NULL
);

-- Which organisations an account belongs to (stale links are removed at every sync).
CREATE TABLE rdvsp.account_organisations (
    account_id      bigint NOT NULL REFERENCES rdvsp.accounts (id) ON DELETE CASCADE,
    organisation_id bigint NOT NULL,
    synced_at       timestamptz NOT NULL,
    PRIMARY KEY (account_id, organisation_id)
);
CREATE INDEX account_organisations_organisation ON rdvsp.account_organisations (organisation_id);

CREATE TABLE rdvsp.agents (
    id         bigint PRIMARY KEY,
    email      text,
    first_name text,
    last_name  text,
    synced_at  timestamptz NOT NULL
);

-- Membership of agents in organisations (from the per-organisation agent listing).
CREATE TABLE rdvsp.agent_roles (
    organisation_id bigint NOT NULL,
    agent_id        bigint NOT NULL,
    access_level    text,                                  -- filled by AgentRole webhooks when known
    synced_at       timestamptz NOT NULL,
    PRIMARY KEY (organisation_id, agent_id)
);
CREATE INDEX agent_roles_agent ON rdvsp.agent_roles (agent_id);

-- Users (usagers). 1900-01-01 as birth date is the API's "unknown"; kept as sent.
-- No foreign key on responsible_id: a responsible user may be outside the synced organisations.
CREATE TABLE rdvsp.users (
    id                     bigint PRIMARY KEY,
    first_name             text,
    last_name              text,
    birth_name             text,
    birth_date             date,
    email                  text,
    notification_email     text,
    address                text,
    address_details        text,
    phone_number           text,
    phone_number_formatted text,
    caisse_affiliation     text,
    affiliation_number     text,
    family_situation       text,
    number_of_children     integer,
    notify_by_sms          boolean,
    notify_by_email        boolean,
    invitation_created_at  timestamptz,
    invitation_accepted_at timestamptz,
    responsible_id         bigint,
    case_number            text,
    logement               text,
    notes                  text,
    created_at             timestamptz,
    synced_at              timestamptz NOT NULL
);

-- A user's profile in an organisation (from the per-organisation user listing).
CREATE TABLE rdvsp.user_profiles (
    organisation_id bigint NOT NULL,
    user_id         bigint NOT NULL,
    synced_at       timestamptz NOT NULL,
    PRIMARY KEY (organisation_id, user_id)
);
CREATE INDEX user_profiles_user ON rdvsp.user_profiles (user_id);

CREATE TABLE rdvsp.motifs (
    id                        bigint PRIMARY KEY,
    organisation_id           bigint NOT NULL,
    name                      text,
    location_type             text,
    bookable_by               text,
    bookable_publicly         boolean,
    service_id                bigint,
    collectif                 boolean,
    follow_up                 boolean,
    instruction_for_rdv       text,
    motif_category_id         bigint,
    motif_category_name       text,
    motif_category_short_name text,
    default_duration_in_min   integer,
    min_public_booking_delay  integer,
    max_public_booking_delay  integer,
    deleted_at                timestamptz,
    synced_at                 timestamptz NOT NULL
);
CREATE INDEX motifs_organisation ON rdvsp.motifs (organisation_id);

CREATE TABLE rdvsp.lieux (
    id              bigint PRIMARY KEY,
    organisation_id bigint NOT NULL,
    name            text,
    address         text,
    phone_number    text,
    single_use      boolean,
    latitude        double precision,
    longitude       double precision,
    synced_at       timestamptz NOT NULL
);
CREATE INDEX lieux_organisation ON rdvsp.lieux (organisation_id);

CREATE TABLE rdvsp.rdvs (
    id                     bigint PRIMARY KEY,
    uuid                   uuid,
    organisation_id        bigint      NOT NULL,
    motif_id               bigint,
    lieu_id                bigint,
    status                 text        NOT NULL CHECK (status IN ('unknown', 'seen', 'noshow', 'excused', 'revoked')),
    starts_at              timestamptz NOT NULL,
    ends_at                timestamptz,
    duration_in_min        integer,
    address                text,
    context                text,
    name                   text,
    collectif              boolean,
    max_participants_count integer,
    users_count            integer,
    cancelled_at           timestamptz,
    created_at             timestamptz,
    created_by             text,
    created_by_type        text,
    created_by_id          bigint,
    agent_ids              bigint[]    NOT NULL DEFAULT '{}',
    url_for_agents         text,
    visio_url              text,
    raw                    jsonb       NOT NULL,            -- the payload as of the RDV's last change
    synced_at              timestamptz NOT NULL
);
CREATE INDEX rdvs_organisation_starts ON rdvsp.rdvs (organisation_id, starts_at);
CREATE INDEX rdvs_starts ON rdvsp.rdvs (starts_at);
CREATE INDEX rdvs_status ON rdvsp.rdvs (status);

-- Which account sees which RDV. An RDV is deleted only when no account sees it any more, so
-- that an agent who sees fewer RDVs of an organisation never deletes another agent's.
CREATE TABLE rdvsp.account_rdvs (
    account_id      bigint      NOT NULL REFERENCES rdvsp.accounts (id) ON DELETE CASCADE,
    rdv_id          bigint      NOT NULL,
    organisation_id bigint      NOT NULL,
    starts_at       timestamptz NOT NULL,
    synced_at       timestamptz NOT NULL,
    PRIMARY KEY (account_id, rdv_id)
);
CREATE INDEX account_rdvs_rdv ON rdvsp.account_rdvs (rdv_id);
CREATE INDEX account_rdvs_scope ON rdvsp.account_rdvs (account_id, organisation_id, starts_at);

CREATE TABLE rdvsp.participations (
    id                            bigint PRIMARY KEY,
    rdv_id                        bigint NOT NULL REFERENCES rdvsp.rdvs (id) ON DELETE CASCADE,
    user_id                       bigint NOT NULL,
    status                        text   NOT NULL CHECK (status IN ('unknown', 'seen', 'noshow', 'excused', 'revoked')),
    send_lifecycle_notifications  boolean,
    send_reminder_notification    boolean,
    created_by                    text,
    created_by_type               text,
    created_by_id                 bigint,
    created_by_agent_prescripteur boolean,
    synced_at                     timestamptz NOT NULL
);
CREATE INDEX participations_rdv ON rdvsp.participations (rdv_id);
CREATE INDEX participations_user ON rdvsp.participations (user_id);

-- Webhook endpoints as the API lists them (ours and other consumers').
CREATE TABLE rdvsp.webhook_endpoints (
    id              bigint PRIMARY KEY,
    organisation_id bigint NOT NULL,
    target_url      text   NOT NULL,
    subscriptions   text[] NOT NULL DEFAULT '{}',
    synced_at       timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_organisation ON rdvsp.webhook_endpoints (organisation_id);

-- Our webhook installation per organisation: its secret (encrypted) and whether it took.
-- The failed-webhook sensor turns organisations not 'installed' into polling runs.
CREATE TABLE rdvsp.webhook_installations (
    organisation_id  bigint PRIMARY KEY,
    account_id       bigint      REFERENCES rdvsp.accounts (id) ON DELETE SET NULL,
    endpoint_id      bigint,
    target_url       text,
    secret_encrypted text,
    status           text        NOT NULL CHECK (status IN ('installed', 'failed', 'not_taken', 'not_configured')),
    reason           text,
    checked_at       timestamptz NOT NULL DEFAULT now()
);

-- One row per sync run of an account, and its per-table figures.
CREATE TABLE rdvsp.sync_logs (
    id               uuid PRIMARY KEY,
    account_id       bigint      NOT NULL,
    dagster_run_id   text,
    kind             text        NOT NULL DEFAULT 'polling' CHECK (kind IN ('polling', 'nightly', 'scoped')),
    organisation_ids bigint[],                              -- the scope; NULL = every organisation of the account
    started_at       timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    status           text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'success', 'failed')),
    error            text,
    drift            integer,                               -- sum of the tables' drift
    pages_fetched    integer,
    api_requests     integer
);
CREATE INDEX sync_logs_account_started ON rdvsp.sync_logs (account_id, started_at DESC);

CREATE TABLE rdvsp.sync_log_tables (
    sync_log_id uuid    NOT NULL REFERENCES rdvsp.sync_logs (id) ON DELETE CASCADE,
    table_name  text    NOT NULL,
    count       integer NOT NULL,
    created     integer NOT NULL,
    updated     integer NOT NULL,
    deleted     integer NOT NULL,
    noop        integer NOT NULL,
    drift       integer NOT NULL,
    PRIMARY KEY (sync_log_id, table_name)
);
