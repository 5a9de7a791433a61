UPDATE rdvsp.accounts
SET access_token_encrypted  = %(access_token)s,
    refresh_token_encrypted = %(refresh_token)s,
    access_token_expires_at = %(expires_at)s,
    scope                   = coalesce(%(scope)s, scope),
    token_refreshed_at      = now(),
    status                  = 'active',
    error                   = NULL,
    error_at                = NULL,
    updated_at              = now()
WHERE id = %(account_id)s;
