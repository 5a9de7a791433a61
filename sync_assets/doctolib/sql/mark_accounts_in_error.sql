-- Accounts whose key was refused or is no longer set: kept (with their kind) but never chosen.
INSERT INTO doctolib.accounts AS a (name, status, status_reason, synced_at)
SELECT name, 'error', reason, now() FROM unnest(%(names)s::text[], %(reasons)s::text[]) AS t (name, reason)
ON CONFLICT (name) DO UPDATE SET status = 'error', status_reason = EXCLUDED.status_reason, synced_at = now()
WHERE a.status IS DISTINCT FROM 'error' OR a.status_reason IS DISTINCT FROM EXCLUDED.status_reason;
