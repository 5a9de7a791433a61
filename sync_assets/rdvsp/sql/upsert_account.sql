-- A (re)connected account: new tokens, active again.
INSERT INTO rdvsp.accounts AS a (id, base_url, access_token_encrypted, refresh_token_encrypted,
                                 access_token_expires_at, scope, sync_from, status, connected_at, token_refreshed_at)
VALUES (%(account_id)s, %(base_url)s, %(access_token)s, %(refresh_token)s, %(expires_at)s, %(scope)s,
        %(sync_from)s, 'active', now(), now())
ON CONFLICT (id) DO UPDATE
SET base_url = EXCLUDED.base_url,
    access_token_encrypted = EXCLUDED.access_token_encrypted,
    refresh_token_encrypted = EXCLUDED.refresh_token_encrypted,
    access_token_expires_at = EXCLUDED.access_token_expires_at,
    scope = EXCLUDED.scope,
    sync_from = EXCLUDED.sync_from,
    status = 'active', error = NULL, error_at = NULL, disconnected_at = NULL,
    connected_at = now(), token_refreshed_at = now(), updated_at = now();
