-- An account's links to an organisation's RDVs, taken from its peer's (the same RDVs, from this
-- account's first day on) and staged as if listed; the RDV ids. The stage is the run's stage of
-- rdvsp.account_rdvs.
INSERT INTO {stage} (account_id, rdv_id, organisation_id, starts_at)
SELECT %(account_id)s, l.rdv_id, l.organisation_id, l.starts_at
FROM rdvsp.account_rdvs l
WHERE l.account_id = %(peer_id)s AND l.organisation_id = %(organisation_id)s AND l.starts_at >= %(sync_from)s
RETURNING rdv_id;
