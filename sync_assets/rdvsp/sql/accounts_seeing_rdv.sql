-- Connected accounts among the RDV's agents whose sync window includes the RDV.
SELECT id FROM rdvsp.accounts
WHERE id = ANY(%(agent_ids)s) AND status <> 'disconnected' AND sync_from <= %(starts_at)s::date;
