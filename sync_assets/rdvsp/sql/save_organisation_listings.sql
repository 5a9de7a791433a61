-- The organisations whose own listings this run read, recorded with its rows.
INSERT INTO rdvsp.organisation_listings (organisation_id, read_at, account_id, run_id)
SELECT unnest(%(organisation_ids)s::bigint[]), %(read_at)s, %(account_id)s, %(run_id)s
ON CONFLICT (organisation_id) DO UPDATE
SET read_at = excluded.read_at, account_id = excluded.account_id, run_id = excluded.run_id;
