-- Take one request from each of the budgets named, creating those not seen yet; each row returns
-- how long the request must wait for its slot (a reservation: later callers queue behind it).
-- A changed configuration resets the row's rate; a lowered rate comes back after an hour without 429.
INSERT INTO sync.request_budgets AS b (name, per_minute, rate_per_minute, burst, tokens, updated_at)
SELECT name, per_minute, per_minute * %(margin)s, burst, burst - 1, clock_timestamp()
FROM unnest(%(names)s::text[], %(per_minute)s::float8[], %(burst)s::float8[]) AS t(name, per_minute, burst)
ON CONFLICT (name) DO UPDATE SET
    per_minute = excluded.per_minute,
    burst = excluded.burst,
    rate_per_minute = CASE
        WHEN b.per_minute <> excluded.per_minute
             OR b.last_throttled_at < clock_timestamp() - interval '1 hour' THEN excluded.rate_per_minute
        ELSE b.rate_per_minute END,
    tokens = LEAST(excluded.burst,
                   b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * b.rate_per_minute / 60) - 1,
    updated_at = clock_timestamp()
RETURNING name, GREATEST(0, -tokens * 60 / rate_per_minute) AS wait_s;
