-- RDVs this account saw in the scope before, absent from this listing. They are looked up by id
-- before anything is deleted: the listing is unordered, so a row can slip between two pages.
SELECT l.rdv_id
FROM rdvsp.account_rdvs l
WHERE l.account_id = %(account_id)s
  AND l.organisation_id = ANY(%(organisation_ids)s)
  AND l.starts_at >= %(sync_from)s
  AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE s.rdv_id = l.rdv_id);
