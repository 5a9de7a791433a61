-- The listing with filters: a date range, a beneficiary, a place, a type, a theme, an RDV status.
-- Drop the lines of the filters you do not need; pagination works as in 01-03.
-- The beneficiary's rows are found from the beneficiary, by index: their activities in
-- coop.activite_beneficiaires, their RDVs through their participations (as this mediator's
-- beneficiary). `beneficiaire_ids @> ARRAY[id]::bigint[]` selects the same rows, but reads every
-- row of the mediator to find them.
-- In psql:  \set account_id 42  \set from '2026-01-01'  \set to '2026-07-01'  \set beneficiaire_id 7
SELECT date, kind, item_id, type, themes, place, beneficiaire_ids, rdv_status
FROM analytics.activity_listing
WHERE account_id = :account_id
  AND date >= :'from' AND date < :'to'
  AND (kind = 'activite' AND item_id = ANY (ARRAY(SELECT ab.activite_id FROM coop.activite_beneficiaires ab
                                                  WHERE ab.beneficiaire_id = :beneficiaire_id))
       OR kind = 'rdv' AND item_id = ANY (ARRAY(SELECT p.rdv_id FROM coop.beneficiaires b
                                                JOIN rdvsp.participations p ON p.user_id = b.rdv_user_id
                                                WHERE b.id = :beneficiaire_id AND b.account_id = :account_id)))
  -- AND place = 'Médiathèque'
  -- AND type = 'collectif'
  -- AND themes @> ARRAY['numerique']
  -- AND rdv_status = 'seen'
ORDER BY date DESC, kind DESC, item_id DESC
LIMIT 20;
