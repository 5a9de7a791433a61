-- The version (last_event_at) of one record, to skip an event older than what the table holds.
SELECT last_event_at FROM {table} WHERE id = %(id)s;
