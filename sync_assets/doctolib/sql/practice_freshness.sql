-- Practices still reached by an account, and the age of their last successful sync.
SELECT p.id, s.last_success_at, extract(epoch FROM now() - s.last_success_at) / 3600 AS hours
FROM doctolib.practices p
LEFT JOIN doctolib.sync_state s ON s.practice_id = p.id
WHERE p.vanished_at IS NULL
ORDER BY p.id;
