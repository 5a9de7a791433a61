SELECT completed_at IS NOT NULL, account_id, error FROM rdvsp.pending_authorizations WHERE state = %(state)s;
