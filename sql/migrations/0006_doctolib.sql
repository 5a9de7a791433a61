-- Doctolib: accounts (API keys), the practices they reach, and each practice's appointments.
-- Patients' personal data lives only in doctolib.patients; analysts read analytics.doctolib_patients.

-- One row per DOCTOLIB_API_KEY_<ACCOUNT> variable seen (the key itself is never stored).
CREATE TABLE doctolib.accounts (
    name          text PRIMARY KEY,                  -- <ACCOUNT>, lower-case
    remote_id     text,                              -- the account's id at Doctolib
    kind          text CHECK (kind IN ('practice', 'dentist')),
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'error')),
    status_reason text,
    synced_at     timestamptz NOT NULL
);

CREATE TABLE doctolib.practices (
    id            bigint PRIMARY KEY,
    name          text        NOT NULL,
    city          text,
    zipcode       text,
    sync_account  text REFERENCES doctolib.accounts (name),  -- the one account the practice is synced through
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    vanished_at   timestamptz,                       -- no account lists it any more (history is kept)
    synced_at     timestamptz NOT NULL
);

-- Which account reaches which practice (a practice is often reached by several).
CREATE TABLE doctolib.account_practices (
    account_name text   NOT NULL REFERENCES doctolib.accounts (name) ON DELETE CASCADE,
    practice_id  bigint NOT NULL REFERENCES doctolib.practices (id),
    synced_at    timestamptz NOT NULL,
    PRIMARY KEY (account_name, practice_id)
);
CREATE INDEX account_practices_practice ON doctolib.account_practices (practice_id);

CREATE TABLE doctolib.practitioners (
    id        bigint PRIMARY KEY,
    name      text        NOT NULL,
    synced_at timestamptz NOT NULL
);

CREATE TABLE doctolib.visit_motives (
    id        bigint PRIMARY KEY,
    name      text        NOT NULL,
    synced_at timestamptz NOT NULL
);

-- Personal data: names, birth dates, phones and emails. Nothing else in the warehouse copies them.
CREATE TABLE doctolib.patients (
    id         bigint PRIMARY KEY,
    first_name text,
    last_name  text,
    birth_date date,
    phone      text,
    email      text,
    synced_at  timestamptz NOT NULL
);

CREATE TABLE doctolib.appointments (
    id              bigint PRIMARY KEY,
    practice_id     bigint      NOT NULL,
    agenda_id       bigint,
    practitioner_id bigint      NOT NULL,
    patient_id      bigint      NOT NULL,
    visit_motive_id bigint      NOT NULL,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz NOT NULL,
    status          text        NOT NULL CHECK (status IN ('confirmed', 'cancelled', 'no_show', 'done')),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    deleted_at      timestamptz,                     -- deleted at Doctolib (soft delete)
    synced_at       timestamptz NOT NULL
);
CREATE INDEX appointments_practice_updated ON doctolib.appointments (practice_id, updated_at);
CREATE INDEX appointments_start ON doctolib.appointments (start_at);
CREATE INDEX appointments_patient ON doctolib.appointments (patient_id);

-- The incremental cursor of each practice: the highest updated_at of its last successful run.
CREATE TABLE doctolib.sync_state (
    practice_id       bigint PRIMARY KEY,
    cursor_updated_at timestamptz,
    last_success_at   timestamptz,
    last_full_refresh_at timestamptz,
    last_run_id       uuid
);

-- One row per partition run, including the runs that could not happen (skipped, with the reason).
CREATE TABLE doctolib.sync_runs (
    id             uuid PRIMARY KEY,
    practice_id    bigint,                           -- NULL when no practice could be chosen
    account_name   text,
    dagster_run_id text,
    mode           text        NOT NULL CHECK (mode IN ('incremental', 'full_refresh')),
    started_at     timestamptz NOT NULL DEFAULT now(),
    ended_at       timestamptz,
    status         text        NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'success', 'failed', 'skipped')),
    reason         text,                             -- why it failed or was skipped
    updated_since  timestamptz,                      -- what was asked of the API (NULL: everything)
    cursor_before  timestamptz,
    cursor_after   timestamptz,
    pages_fetched  integer,
    api_requests   integer,
    drift          integer
);
CREATE INDEX sync_runs_practice_started ON doctolib.sync_runs (practice_id, started_at DESC);

CREATE TABLE doctolib.sync_run_tables (
    sync_run_id uuid    NOT NULL REFERENCES doctolib.sync_runs (id) ON DELETE CASCADE,
    table_name  text    NOT NULL,
    count       integer NOT NULL,
    created     integer NOT NULL,
    updated     integer NOT NULL,
    deleted     integer NOT NULL,
    noop        integer NOT NULL,
    drift       integer NOT NULL,
    PRIMARY KEY (sync_run_id, table_name)
);

-- A random salt for pseudonymous keys in analytics views (analytics.doctolib_patients): a key
-- cannot be recomputed from an id without it. Analysts are not meant to read this table.
CREATE TABLE sync.pseudonym_salt (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    salt     bytea   NOT NULL
);
INSERT INTO sync.pseudonym_salt (salt)
SELECT decode(md5(random()::text || clock_timestamp()::text) || md5(random()::text || pg_backend_pid()::text), 'hex');
