INSERT INTO rdvsp.pending_authorizations (state, code_verifier_encrypted, sync_from)
VALUES (%(state)s, %(verifier)s, %(sync_from)s);
