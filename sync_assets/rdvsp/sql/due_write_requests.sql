-- Pending requests whose time has come (all of them, or those of %(ids)s), oldest first, with
-- their account's status.
SELECT r.id, r.account_id, r.kind, r.payload, r.attempts, a.status AS account_status
FROM rdvsp.write_requests r
JOIN rdvsp.accounts a ON a.id = r.account_id
WHERE r.status = 'pending' AND r.next_attempt_at <= now()
  AND (%(ids)s::bigint[] IS NULL OR r.id = ANY(%(ids)s::bigint[]))
ORDER BY r.id
LIMIT %(limit)s;
