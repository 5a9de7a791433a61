-- Practices still reached by an account, and the age of their last successful sync.
SELECT p.id, c.last_success_at, extract(epoch FROM now() - c.last_success_at) / 3600 AS hours
FROM doctolib.practices p
LEFT JOIN sync.cursors c ON c.connector = 'doctolib' AND c.partition_key = p.id::text
WHERE p.vanished_at IS NULL
ORDER BY p.id;
