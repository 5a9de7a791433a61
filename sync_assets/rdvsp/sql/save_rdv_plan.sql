-- A plan the API created (or read again). Plans without an RDV are looked up again from
-- %(next_check_at)s on.
INSERT INTO rdvsp.rdv_plans AS p (id, account_id, user_id, beneficiaire_id, url, rdv_id, write_request_id, created_at,
                                  checked_at, next_check_at, synced_at)
VALUES (%(id)s, %(account_id)s, %(user_id)s, %(beneficiaire_id)s, %(url)s, %(rdv_id)s, %(write_request_id)s,
        %(created_at)s, now(), %(next_check_at)s, now())
ON CONFLICT (id) DO UPDATE
SET rdv_id = EXCLUDED.rdv_id, url = EXCLUDED.url, checked_at = now(), next_check_at = EXCLUDED.next_check_at,
    synced_at = CASE WHEN (p.rdv_id, p.url) IS DISTINCT FROM (EXCLUDED.rdv_id, EXCLUDED.url) THEN now()
                     ELSE p.synced_at END;
