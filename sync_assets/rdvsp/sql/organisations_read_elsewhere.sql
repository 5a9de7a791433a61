-- Organisations of a run whose own listings another account's run read (and merged) since a moment,
-- and after this account's last successful run began: this run reuses them. Each read is reused
-- once per account, so an account run again soon after reads for itself.
SELECT organisation_id
FROM rdvsp.organisation_listings
WHERE organisation_id = ANY(%(organisation_ids)s) AND account_id <> %(account_id)s AND read_at >= %(since)s
  AND read_at > coalesce((SELECT max(started_at) FROM sync.runs
                          WHERE connector = 'rdvsp' AND partition_key = %(account_id)s::text
                            AND status = 'success'), '-infinity');
