SELECT id, account_id, kind, status, attempts, error, result, next_attempt_at FROM rdvsp.write_requests
WHERE id = %(id)s;
