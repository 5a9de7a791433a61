-- Users with no profile in any synced organisation and no participation left.
WITH gone AS (
    DELETE FROM rdvsp.users u
    WHERE NOT EXISTS (SELECT 1 FROM rdvsp.user_profiles p WHERE p.user_id = u.id)
      AND NOT EXISTS (SELECT 1 FROM rdvsp.participations p WHERE p.user_id = u.id)
    RETURNING 1
)
SELECT count(*) FROM gone;
