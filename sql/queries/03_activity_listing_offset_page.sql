-- A page by number (offset pagination), for "page 7 of 40" screens: rows added meanwhile shift the
-- pages, and the rows before the page are all read to be skipped. Prefer 02 to walk the listing.
-- page_start skips them on the ordering columns alone (it reads no other column, so nothing else
-- is looked up for them); the page is then read from its first row on, as 02 does.
-- In psql:  \set account_id 42  \set offset 120
WITH page_start AS MATERIALIZED (
    SELECT date, kind, item_id
    FROM analytics.activity_listing
    WHERE account_id = :account_id
    ORDER BY date DESC, kind DESC, item_id DESC
    LIMIT 1 OFFSET :offset
)
SELECT date, kind, item_id, type, themes, duration_min, place, beneficiaire_ids, rdv_status
FROM analytics.activity_listing
WHERE account_id = :account_id
  AND date <= (SELECT date FROM page_start)
  AND (date, kind, item_id) <= (SELECT date, kind, item_id FROM page_start)
ORDER BY date DESC, kind DESC, item_id DESC
LIMIT 20;
