-- RDVs of the scope that no connected account sees any more, counted per organisation.
WITH gone AS (
    DELETE FROM rdvsp.rdvs r
    WHERE r.organisation_id = ANY(%(organisation_ids)s)
      AND NOT EXISTS (SELECT 1 FROM rdvsp.account_rdvs l WHERE l.rdv_id = r.id)
    RETURNING r.organisation_id
)
SELECT organisation_id, count(*) FROM gone GROUP BY organisation_id;
