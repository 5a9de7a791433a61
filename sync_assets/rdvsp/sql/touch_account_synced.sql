UPDATE rdvsp.accounts SET last_synced_at = now(), updated_at = now() WHERE id = %(account_id)s;
