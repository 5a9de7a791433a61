-- Write requests of a disconnected account can no longer be delivered.
WITH failed AS (
    UPDATE rdvsp.write_requests
    SET status = 'failed', error = %(error)s, done_at = now()
    WHERE account_id = %(account_id)s AND status = 'pending'
    RETURNING 1
)
SELECT count(*) FROM failed;
