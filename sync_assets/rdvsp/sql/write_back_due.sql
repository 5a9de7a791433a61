-- What the write-back sensor looks at: the requests and plan lookups that are due, with a digest
-- of them (the run key: the same due work asks for the same run).
WITH due AS (
    SELECT 'r' || id || ':' || attempts AS item FROM rdvsp.write_requests
    WHERE status = 'pending' AND next_attempt_at <= now()
    UNION ALL
    SELECT 'p' || p.id || ':' || extract(epoch FROM p.checked_at)::bigint
    FROM rdvsp.rdv_plans p JOIN rdvsp.accounts a ON a.id = p.account_id AND a.status = 'active'
    WHERE p.rdv_id IS NULL AND p.next_check_at <= now()
)
SELECT count(*) FILTER (WHERE left(item, 1) = 'r'), count(*) FILTER (WHERE left(item, 1) = 'p'),
       md5(coalesce(string_agg(item, ',' ORDER BY item), ''))
FROM due;
