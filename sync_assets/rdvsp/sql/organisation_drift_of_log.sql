-- The RDV drift per organisation that one sync found (what webhooks missed, for a nightly run).
SELECT organisation_id, drift, rdvs_created, rdvs_updated, rdvs_deleted, webhook_status
FROM rdvsp.sync_log_organisations
WHERE sync_log_id = %(sync_log_id)s
ORDER BY organisation_id;
