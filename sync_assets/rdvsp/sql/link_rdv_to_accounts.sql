-- Link an RDV to every connected account among its agents whose sync window includes it.
-- Returns the merge counts (count, created, updated, deleted).
WITH written AS (
    INSERT INTO rdvsp.account_rdvs AS t (account_id, rdv_id, organisation_id, starts_at, synced_at)
    SELECT a.id, %(rdv_id)s, %(organisation_id)s, %(starts_at)s, now()
    FROM rdvsp.accounts a
    WHERE a.id = ANY(%(agent_ids)s) AND a.status <> 'disconnected' AND a.sync_from <= %(starts_at)s::date
    ON CONFLICT (account_id, rdv_id) DO UPDATE
        SET organisation_id = EXCLUDED.organisation_id, starts_at = EXCLUDED.starts_at, synced_at = EXCLUDED.synced_at
        WHERE (t.organisation_id, t.starts_at) IS DISTINCT FROM (EXCLUDED.organisation_id, EXCLUDED.starts_at)
    RETURNING (t.xmax = 0) AS created
)
SELECT (SELECT count(*) FROM rdvsp.accounts
        WHERE id = ANY(%(agent_ids)s) AND status <> 'disconnected' AND sync_from <= %(starts_at)s::date),
       count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created), 0
FROM written;
