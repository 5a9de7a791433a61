-- After the links are refreshed: a practice no account links to any more has vanished (its
-- rows are kept); one linked again is back. Returns each change.
WITH linked AS (
    SELECT DISTINCT practice_id FROM doctolib.account_practices
), vanished AS (
    UPDATE doctolib.practices p SET vanished_at = now()
    WHERE p.vanished_at IS NULL AND p.id NOT IN (SELECT practice_id FROM linked)
    RETURNING p.id, 'vanished' AS change
), back AS (
    UPDATE doctolib.practices p SET vanished_at = NULL
    WHERE p.vanished_at IS NOT NULL AND p.id IN (SELECT practice_id FROM linked)
    RETURNING p.id, 'back' AS change
)
SELECT id, change FROM vanished UNION ALL SELECT id, change FROM back;
