-- Retention: drop the responses not fetched again within the retention window.
WITH pruned AS (
    DELETE FROM sync.raw_responses
    WHERE last_fetched_at < clock_timestamp() - make_interval(days => %(retention_days)s)
    RETURNING 1
)
SELECT count(*) FROM pruned;
