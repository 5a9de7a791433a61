-- A request for the write-back outbox, as a host application inserts it.
INSERT INTO rdvsp.write_requests (account_id, kind, payload) VALUES (%(account_id)s, %(kind)s, %(payload)s)
RETURNING id;
