-- The pending authorization of a callback (at most 15 minutes old, not yet completed).
SELECT code_verifier_encrypted, sync_from FROM rdvsp.pending_authorizations
WHERE state = %(state)s AND completed_at IS NULL AND created_at > now() - interval '15 minutes'
FOR UPDATE;
