INSERT INTO rdvsp.sync_log_organisations
    (sync_log_id, organisation_id, rdvs_created, rdvs_updated, rdvs_deleted, drift, webhook_status)
SELECT %(sync_log_id)s, o.*
FROM unnest(%(organisation_ids)s::bigint[], %(created)s::int[], %(updated)s::int[], %(deleted)s::int[],
            %(drift)s::int[], %(webhook_status)s::text[]) AS o;
