SELECT cursor_updated_at FROM doctolib.sync_state WHERE practice_id = %(practice_id)s;
