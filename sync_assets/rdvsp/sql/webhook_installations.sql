SELECT organisation_id, endpoint_id, target_url, secret_encrypted, status
FROM rdvsp.webhook_installations
WHERE organisation_id = ANY(%(organisation_ids)s);
