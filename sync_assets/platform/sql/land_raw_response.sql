-- Land one API response. A body already stored for the same endpoint and parameters is not
-- stored again: its row records the new fetch instead. `unchanged` tells whether the body is
-- the same as the one fetched last time for these parameters.
WITH previous AS (
    SELECT body_sha256
    FROM sync.raw_responses
    WHERE connector = %(connector)s AND endpoint = %(endpoint)s AND params = %(params)s
    ORDER BY last_fetched_at DESC
    LIMIT 1
), landed AS (
    INSERT INTO sync.raw_responses AS r
        (connector, endpoint, params, status, body_sha256, body, fetched_at, last_fetched_at)
    VALUES (%(connector)s, %(endpoint)s, %(params)s, %(status)s, %(body_sha256)s, %(body)s,
            clock_timestamp(), clock_timestamp())
    ON CONFLICT ON CONSTRAINT raw_responses_one_row_per_body DO UPDATE
        SET last_fetched_at = clock_timestamp(), fetch_count = r.fetch_count + 1, status = EXCLUDED.status
    RETURNING r.id
)
SELECT (SELECT id FROM landed) AS id,
       coalesce((SELECT body_sha256 FROM previous) = %(body_sha256)s, false) AS unchanged;
