-- The host application's tables: beneficiaries (bénéficiaires) and activities (CRA, comptes
-- rendus d'activité) of each mediator, whose RDV Service Public account id identifies them.

CREATE TABLE coop.beneficiaires (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint      NOT NULL,          -- the mediator (an rdvsp.accounts id)
    rdv_user_id   bigint,                        -- the RDV Service Public user it was made from or merged with
    first_name    text,
    last_name     text,
    birth_date    date,                          -- NULL when unknown (RDV Service Public's 1900-01-01 included)
    email         text,
    phone         text,
    anonymised_at timestamptz,                   -- the RDV user was deleted: identity removed, activities kept
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT beneficiaires_one_per_rdv_user UNIQUE (account_id, rdv_user_id)
);
CREATE INDEX beneficiaires_rdv_user ON coop.beneficiaires (rdv_user_id);

CREATE TABLE coop.activites (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   bigint      NOT NULL,           -- the mediator
    date         timestamptz NOT NULL,           -- when it took place
    type         text        NOT NULL CHECK (type IN ('individuel', 'collectif', 'demarche')),
    themes       text[]      NOT NULL DEFAULT '{}',
    duration_min integer     NOT NULL CHECK (duration_min > 0),
    lieu_id      bigint,                         -- an rdvsp.lieux id, when it took place there
    place        text,                           -- otherwise a free label
    rdv_id       bigint UNIQUE,                  -- the RDV it was made from, at most one activity per RDV
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- The analyst listing reads an account's activities newest first (see sql/views/activity_listing.sql).
CREATE INDEX activites_account_date ON coop.activites (account_id, date, id);

CREATE TABLE coop.activite_beneficiaires (
    activite_id     bigint NOT NULL REFERENCES coop.activites (id) ON DELETE CASCADE,
    beneficiaire_id bigint NOT NULL REFERENCES coop.beneficiaires (id),
    PRIMARY KEY (activite_id, beneficiaire_id)
);
CREATE INDEX activite_beneficiaires_beneficiaire ON coop.activite_beneficiaires (beneficiaire_id);

-- RDVs the mediator chose not to turn into an activity: never proposed again.
CREATE TABLE coop.rdv_cra_declined (
    rdv_id      bigint PRIMARY KEY,
    account_id  bigint      NOT NULL,
    declined_at timestamptz NOT NULL DEFAULT now()
);

-- The analyst listing and dashboards read an account's RDVs by date.
CREATE INDEX account_rdvs_account_starts ON rdvsp.account_rdvs (account_id, starts_at, rdv_id);
-- The dashboard's counts filter an account's RDVs by status: with the status in an index keyed by
-- id, each lookup is an index-only read instead of a visit to the (wide) RDV row.
CREATE INDEX rdvs_status_by_id ON rdvsp.rdvs (id) INCLUDE (status);
