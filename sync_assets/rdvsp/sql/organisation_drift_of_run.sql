-- The RDV drift per organisation that one run found (what webhooks missed, for a nightly run).
SELECT organisation_id, drift, rdvs_created AS created, rdvs_updated AS updated, rdvs_deleted AS deleted,
       webhook_status
FROM rdvsp.run_organisations
WHERE run_id = %(run_id)s
ORDER BY organisation_id;
