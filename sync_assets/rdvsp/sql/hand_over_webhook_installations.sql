-- After a disconnection, each webhook installation of the account's organisations goes to the
-- connected account that still needs it (status unchanged), or is marked 'disconnected' with the
-- reason (its secret stays, so that late deliveries are verified, acknowledged and ignored).
UPDATE rdvsp.webhook_installations w
SET account_id = c.account_id,
    status = coalesce(c.status, w.status),
    reason = CASE WHEN c.status IS NULL THEN w.reason ELSE c.reason END,
    checked_at = now()
FROM unnest(%(organisation_ids)s::bigint[], %(account_ids)s::bigint[], %(statuses)s::text[], %(reasons)s::text[])
     AS c (organisation_id, account_id, status, reason)
WHERE w.organisation_id = c.organisation_id;
