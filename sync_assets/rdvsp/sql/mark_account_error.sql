UPDATE rdvsp.accounts
SET status = 'error', error = %(error)s, error_at = now(), updated_at = now()
WHERE id = %(account_id)s;
