UPDATE rdvsp.sync_logs
SET ended_at = now(), status = 'failed', error = %(error)s
WHERE id = %(id)s;
