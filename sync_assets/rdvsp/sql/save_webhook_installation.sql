INSERT INTO rdvsp.webhook_installations AS w
    (organisation_id, account_id, endpoint_id, target_url, secret_encrypted, status, reason, checked_at)
VALUES (%(organisation_id)s, %(account_id)s, %(endpoint_id)s, %(target_url)s, %(secret_encrypted)s, %(status)s,
        %(reason)s, now())
ON CONFLICT (organisation_id) DO UPDATE
SET account_id = EXCLUDED.account_id,
    endpoint_id = EXCLUDED.endpoint_id,
    target_url = EXCLUDED.target_url,
    -- keep the secret we know when this check did not set a new one
    secret_encrypted = coalesce(EXCLUDED.secret_encrypted, w.secret_encrypted),
    status = EXCLUDED.status,
    reason = EXCLUDED.reason,
    checked_at = now();
