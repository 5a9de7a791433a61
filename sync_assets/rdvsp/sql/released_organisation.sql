-- A row when deliveries for this organisation are no longer applied: its webhook was released at
-- a disconnection (no connected account belongs to it).
SELECT organisation_id FROM rdvsp.webhook_installations
WHERE organisation_id = %(organisation_id)s AND status = 'disconnected';
