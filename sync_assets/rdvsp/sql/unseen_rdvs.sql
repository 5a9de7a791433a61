-- (A condition on the RDVs, `t`; its parameter: organisation ids.) RDVs of those organisations that
-- no connected account sees any more.
t.organisation_id = ANY(%s) AND NOT EXISTS (SELECT 1 FROM rdvsp.account_rdvs l WHERE l.rdv_id = t.id)
