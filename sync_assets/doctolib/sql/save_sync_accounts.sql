UPDATE doctolib.practices p SET sync_account = t.account
FROM (SELECT p2.id, c.account
      FROM doctolib.practices p2
      LEFT JOIN unnest(%(practice_ids)s::bigint[], %(accounts)s::text[]) AS c (practice_id, account)
             ON c.practice_id = p2.id) t
WHERE p.id = t.id AND p.sync_account IS DISTINCT FROM t.account;
