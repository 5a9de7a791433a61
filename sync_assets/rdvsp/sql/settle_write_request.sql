-- The outcome of one attempt: done, failed, or pending again (a retry at %(next_attempt_at)s).
UPDATE rdvsp.write_requests
SET status = %(status)s,
    error = %(error)s,
    result = coalesce(%(result)s, result),
    next_attempt_at = coalesce(%(next_attempt_at)s, next_attempt_at),
    done_at = CASE WHEN %(status)s IN ('done', 'failed') THEN now() END
WHERE id = %(id)s;
