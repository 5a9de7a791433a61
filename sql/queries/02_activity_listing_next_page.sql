-- The next page after a row (keyset pagination): stable while rows are added or changed, and as
-- fast on page 500 as on page 2. (date, kind, item_id) is unique, so no row is shown twice or
-- skipped. The separate `date <=` lets each half of the view start its index scan at that date.
-- In psql:  \set account_id 42  \set last_date '2026-03-01 10:00:00+01'  \set last_kind rdv  \set last_item_id 1234
SELECT date, kind, item_id, type, themes, duration_min, place, beneficiaire_ids, rdv_status
FROM analytics.activity_listing
WHERE account_id = :account_id
  AND date <= :'last_date'
  AND (date, kind, item_id) < (:'last_date', :'last_kind', :last_item_id)
ORDER BY date DESC, kind DESC, item_id DESC
LIMIT 20;
