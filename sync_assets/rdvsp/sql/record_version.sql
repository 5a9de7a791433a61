-- The version (last_event_at) of one record, and the version of its deletion if it was deleted
-- (its tombstone): an event older than the one, or not newer than the other, changes nothing.
SELECT (SELECT last_event_at FROM {table} WHERE id = %(id)s),
       (SELECT deleted_version FROM sync.tombstones WHERE table_name = %(table)s AND record_key = %(id)s::text);
