-- Participations of the RDVs no account sees any more (deleted before their RDV, to be counted).
WITH gone AS (
    DELETE FROM rdvsp.participations p
    USING rdvsp.rdvs r
    WHERE p.rdv_id = r.id
      AND r.organisation_id = ANY(%(organisation_ids)s)
      AND NOT EXISTS (SELECT 1 FROM rdvsp.account_rdvs l WHERE l.rdv_id = r.id)
    RETURNING 1
)
SELECT count(*) FROM gone;
