-- A plan read again. Without an RDV yet, the next look waits as long as the plan's age (from 15
-- minutes to a day); a plan older than %(give_up_days)s days is no longer looked up.
UPDATE rdvsp.rdv_plans
SET rdv_id = %(rdv_id)s,
    checked_at = now(),
    next_check_at = CASE
        WHEN %(rdv_id)s::bigint IS NOT NULL OR created_at < now() - make_interval(days => %(give_up_days)s) THEN NULL
        ELSE now() + least(interval '1 day', greatest(interval '15 minutes', now() - created_at)) END,
    synced_at = CASE WHEN rdv_id IS DISTINCT FROM %(rdv_id)s::bigint THEN now() ELSE synced_at END
WHERE id = %(id)s;
