-- The end of a sync, in its transaction. No row back when the account was disconnected meanwhile
-- (that transaction takes the row's lock: one of the two waits for the other).
UPDATE rdvsp.accounts SET last_synced_at = now(), updated_at = now()
WHERE id = %(account_id)s AND status = 'active'
RETURNING id;
