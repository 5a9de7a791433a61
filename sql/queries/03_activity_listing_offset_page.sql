-- A page by number (offset pagination), for "page 7 of 40" screens: simple, but it reads and
-- skips every row before the page, and rows added meanwhile shift the pages. Prefer 02 to walk.
-- In psql:  \set account_id 42  \set offset 120
SELECT date, kind, item_id, type, themes, duration_min, place, beneficiaire_ids, rdv_status
FROM analytics.activity_listing
WHERE account_id = :account_id
ORDER BY date DESC, kind DESC, item_id DESC
LIMIT 20 OFFSET :offset;
