-- The API answered 429 (Too Many Requests): the real budget is lower than ours. Lower the pace by a
-- fifth (not below a tenth of the budget), and promise no slot before the API's Retry-After.
UPDATE sync.request_budgets
SET rate_per_minute = GREATEST(per_minute / 10, rate_per_minute * 0.8),
    tokens = LEAST(tokens, -%(retry_after_s)s * GREATEST(per_minute / 10, rate_per_minute * 0.8) / 60),
    updated_at = clock_timestamp(),
    last_throttled_at = clock_timestamp()
WHERE name = ANY(%(names)s::text[])
RETURNING name, rate_per_minute;
