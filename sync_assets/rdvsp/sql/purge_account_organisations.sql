-- `disconnect --purge`: the account's organisation links, and the user profiles of the
-- organisations no other connected account belongs to (their users go next, if left orphan).
WITH links AS (
    DELETE FROM rdvsp.account_organisations WHERE account_id = %(account_id)s RETURNING organisation_id
), orphaned AS (
    SELECT l.organisation_id
    FROM links l
    WHERE NOT EXISTS (SELECT 1 FROM rdvsp.account_organisations o JOIN rdvsp.accounts a ON a.id = o.account_id
                      WHERE o.organisation_id = l.organisation_id AND o.account_id <> %(account_id)s
                        AND a.status <> 'disconnected')
), profiles AS (
    DELETE FROM rdvsp.user_profiles p WHERE p.organisation_id IN (SELECT organisation_id FROM orphaned) RETURNING 1
)
SELECT (SELECT count(*) FROM links), (SELECT count(*) FROM profiles);
