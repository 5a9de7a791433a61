-- Store a body not stored before for these parameters (touch_raw_response found none). Under a
-- concurrent insert of the same body, the row records one more fetch instead.
INSERT INTO sync.raw_responses AS r
    (connector, endpoint, params, status, body_sha256, body, fetched_at, last_fetched_at)
VALUES (%(connector)s, %(endpoint)s, %(params)s, %(status)s, %(body_sha256)s, %(body)s,
        clock_timestamp(), clock_timestamp())
ON CONFLICT ON CONSTRAINT raw_responses_one_row_per_body DO UPDATE
    SET last_fetched_at = clock_timestamp(), fetch_count = r.fetch_count + 1, status = EXCLUDED.status
RETURNING r.id;
