-- The account disconnected: tokens erased, status and time set (the first time is kept when it is
-- disconnected again). %(tokens_revoked)s is NULL when no token was left to revoke; %(problem)s
-- says why they could not be revoked, if so.
UPDATE rdvsp.accounts
SET status = 'disconnected',
    access_token_encrypted = NULL,
    refresh_token_encrypted = NULL,
    access_token_expires_at = NULL,
    disconnected_at = coalesce(disconnected_at, now()),
    tokens_revoked = coalesce(%(tokens_revoked)s, tokens_revoked),
    error = CASE WHEN %(tokens_revoked)s::boolean IS NULL THEN error ELSE %(problem)s END,
    error_at = CASE WHEN %(tokens_revoked)s::boolean IS NULL THEN error_at
                    WHEN %(problem)s::text IS NULL THEN NULL ELSE now() END,
    updated_at = now()
WHERE id = %(account_id)s;
