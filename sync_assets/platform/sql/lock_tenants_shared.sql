-- A webhook's apply: its tenant's lock, shared with other applies, until the transaction ends. It
-- waits for a poll merging that tenant's rows, never for another webhook.
SELECT pg_advisory_xact_lock_shared(hashtext(%s), hashtext(tenant::text)) FROM unnest(%s::bigint[]) AS tenant;
