-- The body of each RDV listing page that a successful sync applied (written in the sync's own
-- transaction). A polling run that fetches the same body again knows the warehouse already
-- holds it and skips its validation and merge; the nightly run re-applies everything.
CREATE TABLE rdvsp.applied_pages (
    account_id  bigint      NOT NULL REFERENCES rdvsp.accounts (id) ON DELETE CASCADE,
    endpoint    text        NOT NULL,
    params      jsonb       NOT NULL,
    body_sha256 text        NOT NULL,
    synced_at   timestamptz NOT NULL,
    PRIMARY KEY (account_id, endpoint, params)
);
