-- Organisations whose changes webhooks do not carry, to be polled: their webhook installation
-- failed, did not take or is not configured; or it is installed but silent (no delivery within
-- %(silent_hours)s hours) while the last nightly sync found drift there.
-- One active account per organisation (the lowest id).
WITH latest_drift AS (
    SELECT DISTINCT ON (o.organisation_id) o.organisation_id, o.drift
    FROM rdvsp.run_organisations o
    JOIN sync.runs r ON r.id = o.run_id
    WHERE r.connector = 'rdvsp' AND r.kind = 'nightly' AND r.status = 'success'
    ORDER BY o.organisation_id, r.started_at DESC
), candidates AS (
    SELECT w.organisation_id, CASE WHEN w.status <> 'installed' THEN w.status ELSE 'silent' END AS reason
    FROM rdvsp.webhook_installations w
    LEFT JOIN latest_drift d ON d.organisation_id = w.organisation_id
    WHERE w.status <> 'installed'
       OR (coalesce(d.drift, 0) > 0
           AND NOT EXISTS (SELECT 1 FROM sync.webhook_inbox i
                           WHERE i.endpoint_organisation_id = w.organisation_id
                             AND i.received_at > now() - make_interval(hours => %(silent_hours)s)))
)
SELECT DISTINCT ON (c.organisation_id) a.account_id, c.organisation_id, c.reason
FROM candidates c
JOIN rdvsp.account_organisations a ON a.organisation_id = c.organisation_id
JOIN rdvsp.accounts acc ON acc.id = a.account_id AND acc.status = 'active'
ORDER BY c.organisation_id, a.account_id;
