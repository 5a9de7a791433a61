-- The organisations whose RDVs this run took from a peer's read, recorded with its rows (when this
-- account last listed them in full, and its peers, stay as they were).
UPDATE rdvsp.rdv_listing_reads r
SET read_at = %(read_at)s, run_id = %(run_id)s, shared_from = s.peer_id
FROM unnest(%(organisation_ids)s::bigint[], %(peer_ids)s::bigint[]) AS s (organisation_id, peer_id)
WHERE r.organisation_id = s.organisation_id AND r.account_id = %(account_id)s;
