-- A beneficiary for whom a plan was made is linked to the RDV Service Public user the plan is for,
-- unless another beneficiary of the same account already is (no row back then).
UPDATE coop.beneficiaires b
SET rdv_user_id = %(user_id)s, updated_at = now()
WHERE b.id = %(beneficiaire_id)s
  AND b.rdv_user_id IS DISTINCT FROM %(user_id)s
  AND NOT EXISTS (SELECT 1 FROM coop.beneficiaires o
                  WHERE o.account_id = b.account_id AND o.rdv_user_id = %(user_id)s AND o.id <> b.id)
RETURNING b.id;
