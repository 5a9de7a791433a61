-- Plans still without an RDV whose next look is due, of active accounts.
SELECT p.id, p.account_id
FROM rdvsp.rdv_plans p
JOIN rdvsp.accounts a ON a.id = p.account_id AND a.status = 'active'
WHERE p.rdv_id IS NULL AND p.next_check_at <= now()
ORDER BY p.next_check_at
LIMIT %(limit)s;
