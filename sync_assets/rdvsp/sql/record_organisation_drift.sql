-- The RDV drift of each organisation of a run (in the run's transaction).
INSERT INTO rdvsp.run_organisations (run_id, organisation_id, rdvs_created, rdvs_updated, rdvs_deleted, drift,
                                     webhook_status)
SELECT %(run_id)s, o.*
FROM unnest(%(organisation_ids)s::bigint[], %(created)s::int[], %(updated)s::int[], %(deleted)s::int[],
            %(drift)s::int[], %(webhook_status)s::text[]) AS o;
