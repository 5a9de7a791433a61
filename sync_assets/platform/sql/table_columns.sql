-- The columns of the given relations (schema.name), in order: type (its name, and its oid for
-- COPY), nullability, whether the column alone is unique (a one-column primary key or unique
-- index), its comment, and the kind of relation (r: table, v: view, m: materialized view).
SELECT n.nspname || '.' || c.relname AS relation,
       a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.atttypid AS type_oid,
       NOT a.attnotnull AS nullable,
       EXISTS (SELECT 1 FROM pg_index i
               WHERE i.indrelid = c.oid AND i.indisunique AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum) AS is_unique,
       col_description(c.oid, a.attnum) AS comment,
       c.relkind
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname || '.' || c.relname = ANY(%(relations)s)
ORDER BY relation, a.attnum;
