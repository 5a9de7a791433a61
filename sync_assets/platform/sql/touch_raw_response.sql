-- A body fetched before is not sent again: its row records the new fetch. `id` is NULL when
-- this body is new (the caller then inserts it). `unchanged` tells whether it is the same body
-- as the one fetched last time for these parameters.
WITH previous AS (
    SELECT body_sha256
    FROM sync.raw_responses
    WHERE connector = %(connector)s AND endpoint = %(endpoint)s AND params = %(params)s
    ORDER BY last_fetched_at DESC
    LIMIT 1
), touched AS (
    UPDATE sync.raw_responses
    SET last_fetched_at = clock_timestamp(), fetch_count = fetch_count + 1, status = %(status)s
    WHERE connector = %(connector)s AND endpoint = %(endpoint)s AND params = %(params)s
      AND body_sha256 = %(body_sha256)s
    RETURNING id
)
SELECT (SELECT id FROM touched) AS id,
       coalesce((SELECT body_sha256 FROM previous) = %(body_sha256)s, false) AS unchanged;
