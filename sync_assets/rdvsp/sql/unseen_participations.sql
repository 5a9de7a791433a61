-- (A condition on the participations, `t`; its parameter: organisation ids.) Participants of RDVs of
-- those organisations that no connected account sees any more: deleted before their RDV, to be counted.
t.rdv_id IN (SELECT r.id FROM rdvsp.rdvs r
             WHERE r.organisation_id = ANY(%s)
               AND NOT EXISTS (SELECT 1 FROM rdvsp.account_rdvs l WHERE l.rdv_id = r.id))
