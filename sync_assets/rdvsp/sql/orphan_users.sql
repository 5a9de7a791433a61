-- (A condition on the users, `t`.) Users with no profile in any synced organisation and no participation left.
NOT EXISTS (SELECT 1 FROM rdvsp.user_profiles p WHERE p.user_id = t.id)
AND NOT EXISTS (SELECT 1 FROM rdvsp.participations p WHERE p.user_id = t.id)
