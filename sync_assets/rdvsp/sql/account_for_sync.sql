SELECT id, base_url, sync_from, status, error FROM rdvsp.accounts WHERE id = %(account_id)s;
