-- Active accounts with no sync started since they were (re)connected: each awaits its first sync.
-- The connection time tells one connection from the next (a reconnection needs a first sync again).
SELECT a.id, (extract(epoch FROM a.connected_at) * 1000000)::bigint AS connection
FROM rdvsp.accounts a
WHERE a.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM sync.runs r
                  WHERE r.connector = 'rdvsp' AND r.partition_key = a.id::text AND r.started_at >= a.connected_at)
ORDER BY a.id;
