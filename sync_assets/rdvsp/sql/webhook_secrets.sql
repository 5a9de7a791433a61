-- Our endpoints' secrets (encrypted), by organisation.
SELECT organisation_id, secret_encrypted FROM rdvsp.webhook_installations
WHERE secret_encrypted IS NOT NULL AND status = 'installed';
