-- Take the account's row lock (held until the transaction ends) and read its tokens.
-- Every refresh of an account's token goes through this lock: one refresh at a time, and a
-- caller that waited finds the token the other one stored. NO KEY UPDATE, not UPDATE: a running
-- sync's transaction holds a key-share lock on the row (its rows reference the account), and a
-- token refreshed mid-run must not wait for that transaction, which waits for the refresh.
SELECT access_token_encrypted, refresh_token_encrypted, access_token_expires_at, status, error
FROM rdvsp.accounts
WHERE id = %(account_id)s
FOR NO KEY UPDATE;
