-- The last delivery (unix time) to each organisation whose endpoint is installed: read once per
-- receiver process, at its first scrape of /metrics (a scan of the inbox, hence once).
SELECT i.endpoint_organisation_id, extract(epoch FROM max(i.received_at))::float8
FROM sync.webhook_inbox i
JOIN rdvsp.webhook_installations w ON w.organisation_id = i.endpoint_organisation_id AND w.status = 'installed'
WHERE i.connector = 'rdvsp'
GROUP BY i.endpoint_organisation_id;
