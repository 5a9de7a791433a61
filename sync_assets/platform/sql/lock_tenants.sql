-- A poll's merge: each tenant's lock, exclusively, until the transaction ends. Parameters: the
-- connector, then the tenant ids, sorted (locks are taken in that order: two merges cannot deadlock).
SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(tenant::text)) FROM unnest(%s::bigint[]) AS tenant;
