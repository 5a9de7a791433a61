-- The listing with filters: a date range, a beneficiary, a place, a type, a theme, an RDV status.
-- Drop the lines of the filters you do not need; pagination works as in 01-03.
-- In psql:  \set account_id 42  \set from '2026-01-01'  \set to '2026-07-01'  \set beneficiaire_id 7
SELECT date, kind, item_id, type, themes, place, beneficiaire_ids, rdv_status
FROM analytics.activity_listing
WHERE account_id = :account_id
  AND date >= :'from' AND date < :'to'
  AND beneficiaire_ids @> ARRAY[:beneficiaire_id]::bigint[]
  -- AND place = 'Médiathèque'
  -- AND type = 'collectif'
  -- AND themes @> ARRAY['numerique']
  -- AND rdv_status = 'seen'
ORDER BY date DESC, kind DESC, item_id DESC
LIMIT 20;
