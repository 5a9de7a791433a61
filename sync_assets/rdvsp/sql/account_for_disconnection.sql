-- The account to disconnect and its tokens (read before the API is called, outside any
-- transaction; disconnect_account.sql then takes the row's lock).
SELECT status, access_token_encrypted, refresh_token_encrypted, disconnected_at
FROM rdvsp.accounts
WHERE id = %(account_id)s;
