-- An RDV Service Public account's whole life: its first sync at connection, its disconnection,
-- write-back through an outbox (attendance statuses, RDV plans), and the mediator's choice to
-- list RDVs among activities.

-- A first sync (`initial`) is requested for every (re)connection.
ALTER TABLE rdvsp.sync_logs
    DROP CONSTRAINT sync_logs_kind_check,
    ADD CONSTRAINT sync_logs_kind_check CHECK (kind IN ('polling', 'nightly', 'scoped', 'initial'));

-- Disconnection: tokens erased (revoked at the API when it answered), status 'disconnected'.
ALTER TABLE rdvsp.accounts
    ADD COLUMN disconnected_at timestamptz,
    ADD COLUMN tokens_revoked  boolean;
COMMENT ON COLUMN rdvsp.accounts.disconnected_at IS
    'When the account was disconnected (status disconnected); NULL while connected.';
COMMENT ON COLUMN rdvsp.accounts.tokens_revoked IS
    'At the last disconnection: true when RDV Service Public revoked the tokens, false when it could not '
    '(the reason is in error), NULL when never disconnected.';

-- An organisation whose webhook is no longer wanted (no connected account needs it): its endpoint
-- was unsubscribed at the API (or the reason it could not be is kept), and the receiver
-- acknowledges and ignores what still arrives for it. Its secret stays, to verify those deliveries.
ALTER TABLE rdvsp.webhook_installations
    DROP CONSTRAINT webhook_installations_status_check,
    ADD CONSTRAINT webhook_installations_status_check
        CHECK (status IN ('installed', 'failed', 'not_taken', 'not_configured', 'disconnected'));

-- The write-back outbox: what a host application asks RDV Service Public to do on behalf of an
-- account. The payload holds ids only; what a request sends is read from the warehouse when it
-- is delivered (job rdvsp_write_back, sensor rdvsp_write_requests).
CREATE TABLE rdvsp.write_requests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint      NOT NULL REFERENCES rdvsp.accounts (id),
    kind            text        NOT NULL CHECK (kind IN ('rdv_status', 'rdv_plan')),
    payload         jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'done', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    error           text,
    result          jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    done_at         timestamptz,
    CONSTRAINT write_requests_payload CHECK (
        (kind = 'rdv_status'
         AND coalesce(jsonb_typeof(payload -> 'rdv_id'), '') = 'number'
         AND coalesce(payload ->> 'status', '') IN ('seen', 'noshow', 'excused', 'revoked'))
        OR (kind = 'rdv_plan'
            AND (coalesce(jsonb_typeof(payload -> 'user_id'), '') = 'number')
                <> (coalesce(jsonb_typeof(payload -> 'beneficiaire_id'), '') = 'number')))
);
CREATE INDEX write_requests_due ON rdvsp.write_requests (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX write_requests_sending ON rdvsp.write_requests (id) WHERE status = 'sending';
CREATE INDEX write_requests_account ON rdvsp.write_requests (account_id, created_at DESC);
COMMENT ON TABLE rdvsp.write_requests IS
    'Write-back outbox: one row per change a host application asks RDV Service Public to make for an account. '
    'Insert a row; the rdvsp_write_requests sensor delivers it within a minute and records the outcome here.';
COMMENT ON COLUMN rdvsp.write_requests.kind IS
    'rdv_status: set an RDV''s attendance status (payload rdv_id, status seen|noshow|excused|revoked); '
    'rdv_plan: create an RDV plan (payload user_id or beneficiaire_id, optional return_url and dossier_url).';
COMMENT ON COLUMN rdvsp.write_requests.payload IS
    'Ids and URLs only (no personal data): the person''s details are read from the warehouse when sent.';
COMMENT ON COLUMN rdvsp.write_requests.status IS
    'pending (waiting, or waiting for a retry at next_attempt_at) | sending (handed to the API by a running '
    'job) | done (see result) | failed (see error; not retried).';
COMMENT ON COLUMN rdvsp.write_requests.attempts IS 'How many times the request was sent to the API.';
COMMENT ON COLUMN rdvsp.write_requests.error IS 'Why the last attempt failed: ids, HTTP statuses, field names only.';
COMMENT ON COLUMN rdvsp.write_requests.result IS
    'What the API answered: the status set, or the plan (rdv_plan_id, url, user_id, rdv_id).';
COMMENT ON COLUMN rdvsp.write_requests.next_attempt_at IS 'When a pending request is due (later after a failure).';
COMMENT ON COLUMN rdvsp.write_requests.sent_at IS 'When the last attempt was handed to the API.';
COMMENT ON COLUMN rdvsp.write_requests.done_at IS 'When the request reached done or failed.';

-- RDV plans created through the outbox: a draft RDV and the URL where the agent finishes it.
CREATE TABLE rdvsp.rdv_plans (
    id               bigint PRIMARY KEY,
    account_id       bigint      NOT NULL REFERENCES rdvsp.accounts (id),
    user_id          bigint      NOT NULL,
    beneficiaire_id  bigint,
    url              text        NOT NULL,
    rdv_id           bigint,
    write_request_id bigint      REFERENCES rdvsp.write_requests (id),
    created_at       timestamptz NOT NULL,
    checked_at       timestamptz NOT NULL DEFAULT now(),
    next_check_at    timestamptz,
    synced_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rdv_plans_to_check ON rdvsp.rdv_plans (next_check_at) WHERE rdv_id IS NULL;
CREATE INDEX rdv_plans_user ON rdvsp.rdv_plans (user_id);
COMMENT ON TABLE rdvsp.rdv_plans IS
    'RDV plans made through the write-back outbox: a draft RDV for a user, which the agent completes at url.';
COMMENT ON COLUMN rdvsp.rdv_plans.id IS 'The plan''s id at RDV Service Public.';
COMMENT ON COLUMN rdvsp.rdv_plans.account_id IS 'The account (agent) the plan was made for.';
COMMENT ON COLUMN rdvsp.rdv_plans.user_id IS 'The RDV Service Public user (rdvsp.users id) the plan is for.';
COMMENT ON COLUMN rdvsp.rdv_plans.beneficiaire_id IS 'The coop.beneficiaires row it was made for, if any.';
COMMENT ON COLUMN rdvsp.rdv_plans.url IS 'Where the agent finishes the RDV at RDV Service Public.';
COMMENT ON COLUMN rdvsp.rdv_plans.rdv_id IS 'The RDV taken for this plan; NULL until one is (looked up again by later runs).';
COMMENT ON COLUMN rdvsp.rdv_plans.write_request_id IS 'The rdvsp.write_requests row that created it.';
COMMENT ON COLUMN rdvsp.rdv_plans.created_at IS 'When RDV Service Public created it.';
COMMENT ON COLUMN rdvsp.rdv_plans.checked_at IS 'When it was last read from RDV Service Public.';
COMMENT ON COLUMN rdvsp.rdv_plans.next_check_at IS
    'When to look again for its RDV (intervals grow with the plan''s age; NULL: no longer looked up).';
COMMENT ON COLUMN rdvsp.rdv_plans.synced_at IS 'When the row last changed.';

-- The mediator's settings in the host application. A row exists for every account (made with it).
CREATE TABLE coop.account_settings (
    account_id                       bigint PRIMARY KEY REFERENCES rdvsp.accounts (id),
    include_rdvs_in_activity_listing boolean     NOT NULL DEFAULT false,
    updated_at                       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE coop.account_settings IS 'Per-mediator settings of the host application, one row per account.';
COMMENT ON COLUMN coop.account_settings.include_rdvs_in_activity_listing IS
    'When true, analytics.activity_listing also lists the account''s RDVs not yet turned into activities '
    '(off by default, as in the host application). Activities made from RDVs are always listed.';
COMMENT ON COLUMN coop.account_settings.updated_at IS 'When the settings last changed.';

INSERT INTO coop.account_settings (account_id) SELECT id FROM rdvsp.accounts;

CREATE FUNCTION coop.add_account_settings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO coop.account_settings (account_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION coop.add_account_settings() IS
    'Gives every new rdvsp.accounts row its coop.account_settings row (with the defaults).';
CREATE TRIGGER account_settings_for_new_accounts AFTER INSERT ON rdvsp.accounts
    FOR EACH ROW EXECUTE FUNCTION coop.add_account_settings();

-- A beneficiary's postal address (filled from the RDV user like the other fields; sent with RDV plans).
ALTER TABLE coop.beneficiaires ADD COLUMN address text;
COMMENT ON COLUMN coop.beneficiaires.address IS 'Postal address. Personal data.';
COMMENT ON COLUMN coop.beneficiaires.phone IS
    'Phone number; filled from RDV Service Public in international format (+33…) when it parses. Personal data.';
