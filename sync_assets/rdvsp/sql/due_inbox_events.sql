-- Inbox events whose retry is due, oldest first; taken by one retrier at a time.
SELECT id, body, endpoint_organisation_id, received_at
FROM sync.webhook_inbox
WHERE connector = 'rdvsp' AND status IN ('failed', 'received') AND next_attempt_at <= now()
ORDER BY next_attempt_at
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;
