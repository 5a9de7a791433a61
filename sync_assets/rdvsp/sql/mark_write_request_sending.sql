-- Committed before the request goes to the API: a run that dies before recording the answer
-- leaves it 'sending', which the next run settles (settle_interrupted_write_requests.sql).
UPDATE rdvsp.write_requests
SET status = 'sending', attempts = attempts + 1, sent_at = now()
WHERE id = %(id)s AND status = 'pending'
RETURNING attempts;
