-- The outcome of applying an inbox event. A failure is retried later, with a growing delay.
UPDATE sync.webhook_inbox
SET status = %(status)s,
    status_reason = %(reason)s,
    attempts = attempts + 1,
    applied_at = CASE WHEN %(status)s IN ('applied', 'ignored') THEN now() END,
    next_attempt_at = CASE WHEN %(status)s = 'failed' AND attempts + 1 < %(max_attempts)s
                           THEN now() + make_interval(secs => least(21600, 30 * power(2, attempts)))
                      END
WHERE id = %(id)s
RETURNING status = 'failed' AND next_attempt_at IS NULL AS given_up;
