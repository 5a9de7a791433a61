-- The first page of a mediator's activities and RDVs, newest first (20 rows).
-- In psql:  \set account_id 42   then   \i sql/queries/01_activity_listing_first_page.sql
-- Keep the last row's date, kind and item_id: they are the key of the next page (02).
SELECT date, kind, item_id, type, themes, duration_min, place, beneficiaire_ids, rdv_status
FROM analytics.activity_listing
WHERE account_id = :account_id
ORDER BY date DESC, kind DESC, item_id DESC
LIMIT 20;
