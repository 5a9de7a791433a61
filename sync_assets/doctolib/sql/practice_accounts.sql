-- The account each practice is synced through, when several reach it: an active practice
-- profile first (it sees every appointment of its practice), else the first active dentist
-- profile by name. Only accounts whose key is set (%(names)s) are candidates.
SELECT DISTINCT ON (ap.practice_id) ap.practice_id, a.name
FROM doctolib.account_practices ap
JOIN doctolib.accounts a ON a.name = ap.account_name
WHERE ap.practice_id = ANY(%(practice_ids)s) AND a.status = 'active' AND a.name = ANY(%(names)s)
ORDER BY ap.practice_id, (a.kind = 'practice') DESC, a.name;
