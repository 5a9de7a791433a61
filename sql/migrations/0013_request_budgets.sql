-- Request budgets shared by every process of a deployment (platform/budget.py): one token bucket
-- per budget, taken with one short statement per request.

CREATE TABLE sync.request_budgets (
    name              text PRIMARY KEY,
    per_minute        double precision NOT NULL CHECK (per_minute > 0),
    rate_per_minute   double precision NOT NULL CHECK (rate_per_minute > 0),
    burst             double precision NOT NULL CHECK (burst >= 1),
    tokens            double precision NOT NULL,
    updated_at        timestamptz NOT NULL,
    last_throttled_at timestamptz
);
COMMENT ON TABLE sync.request_budgets IS
    'The API request budgets every process of the deployment shares (they leave from one IP): one row per budget, '
    'for example rdvsp (every /api/v1/ call) or rdvsp:rdvs:organisation:<id> (RDV listings of one organisation).';
COMMENT ON COLUMN sync.request_budgets.name IS 'The budget: a connector, or a connector and what it limits.';
COMMENT ON COLUMN sync.request_budgets.per_minute IS
    'The configured budget, in requests per minute (RDVSP_REQUESTS_PER_MINUTE, RDVSP_RDV_LISTING_REQUESTS_PER_MINUTE).';
COMMENT ON COLUMN sync.request_budgets.rate_per_minute IS
    'The rate requests are paced at now: a little under the budget, lowered after the API answered 429 (Too Many '
    'Requests), and back to the budget an hour after the last 429.';
COMMENT ON COLUMN sync.request_budgets.burst IS 'How many requests may leave at once after a quiet time.';
COMMENT ON COLUMN sync.request_budgets.tokens IS
    'Requests that may leave now without waiting; negative: requests already promised a later slot.';
COMMENT ON COLUMN sync.request_budgets.updated_at IS 'When tokens was last computed (UTC).';
COMMENT ON COLUMN sync.request_budgets.last_throttled_at IS 'When the API last answered 429 for this budget (UTC).';

-- An organisation's own listings (motifs, lieux, agents, users, webhook endpoints) do not depend on
-- the account reading them: a run records when it read them, and another account's run reuses
-- that read rather than spend the requests again (rdvsp/sync.py).
CREATE TABLE rdvsp.organisation_listings (
    organisation_id bigint PRIMARY KEY,
    read_at         timestamptz NOT NULL,
    account_id      bigint NOT NULL,
    run_id          uuid NOT NULL
);
COMMENT ON TABLE rdvsp.organisation_listings IS
    'When each organisation''s own listings (motifs, lieux, agents, users, webhook endpoints) were last read '
    'and merged, and by which account''s run. A run of another account reuses that read once (not when that account '
    'has run successfully since): during the same night for the nightly runs (from midnight, Europe/Paris), within '
    '15 minutes for the others.';
COMMENT ON COLUMN rdvsp.organisation_listings.organisation_id IS 'The organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.organisation_listings.read_at IS 'When the run that read them began listing (UTC).';
COMMENT ON COLUMN rdvsp.organisation_listings.account_id IS 'The account whose run read them.';
COMMENT ON COLUMN rdvsp.organisation_listings.run_id IS 'That run, in sync.runs.';
