UPDATE rdvsp.pending_authorizations
SET completed_at = now(), account_id = %(account_id)s, error = %(error)s
WHERE state = %(state)s;
