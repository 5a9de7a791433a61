-- Tables of the warehouse's own schemas, with their estimated row counts and their comment (what
-- a row is, as psql's \dt+ shows it).
SELECT n.nspname AS schema, c.relname AS table, greatest(c.reltuples, 0)::bigint AS estimated_rows,
       obj_description(c.oid, 'pg_class') AS description
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm')
  AND n.nspname IN ('rdvsp', 'doctolib', 'coop', 'sync', 'analytics')
ORDER BY 1, 2;
