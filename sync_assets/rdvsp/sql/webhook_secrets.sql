-- Our endpoints' secrets (encrypted), by organisation. A released endpoint ('disconnected') keeps
-- its secret: what it still delivers is verified, then acknowledged and ignored.
SELECT organisation_id, secret_encrypted FROM rdvsp.webhook_installations
WHERE secret_encrypted IS NOT NULL AND status IN ('installed', 'disconnected');
