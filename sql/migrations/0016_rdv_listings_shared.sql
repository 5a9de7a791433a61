-- RDV listings shared between accounts that see the same RDVs of an organisation (its
-- administrators, or agents of one service). Which accounts see the same is observed, not assumed:
-- the API lists no access level, so two accounts are peers in an organisation when the RDVs each
-- of them listed there in full, read close together, were the same.

CREATE TABLE rdvsp.rdv_listing_reads (
    organisation_id  bigint      NOT NULL,
    account_id       bigint      NOT NULL REFERENCES rdvsp.accounts (id) ON DELETE CASCADE,
    read_at          timestamptz NOT NULL,
    run_id           uuid        NOT NULL,
    full_read_at     timestamptz NOT NULL,
    shared_from      bigint,
    peers            bigint[]    NOT NULL DEFAULT '{}',
    PRIMARY KEY (organisation_id, account_id)
);
COMMENT ON TABLE rdvsp.rdv_listing_reads IS
    'The last read of each account''s RDVs in each organisation: in full, or taken from a peer (an account '
    'seen to list the same RDVs there) whose full read was recent, after one page confirmed the count. '
    'Holds ids and times only.';
COMMENT ON COLUMN rdvsp.rdv_listing_reads.organisation_id IS 'The organisation (rdvsp.organisations.id).';
COMMENT ON COLUMN rdvsp.rdv_listing_reads.account_id IS 'The account (rdvsp.accounts.id) whose RDVs were read.';
COMMENT ON COLUMN rdvsp.rdv_listing_reads.read_at IS 'When the run that read them began listing (UTC).';
COMMENT ON COLUMN rdvsp.rdv_listing_reads.run_id IS 'That run, in sync.runs.';
COMMENT ON COLUMN rdvsp.rdv_listing_reads.full_read_at IS
    'When this account last listed the organisation''s RDVs in full (UTC). A peer''s read is taken for at most '
    'seven days after it; then the account lists in full again.';
COMMENT ON COLUMN rdvsp.rdv_listing_reads.shared_from IS
    'The peer account whose read was taken, or NULL when this read listed every page.';
COMMENT ON COLUMN rdvsp.rdv_listing_reads.peers IS
    'Accounts seen to list the same RDVs in this organisation (from the same first day on). Emptied when an '
    'agent role of either changes.';
