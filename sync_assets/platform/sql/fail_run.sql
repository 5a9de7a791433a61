-- A run failed: why, and what it had done by then.
UPDATE sync.runs
SET ended_at = now(), status = 'failed', error = %(error)s, pages = %(pages)s, api_requests = %(api_requests)s,
    detail = detail || %(detail)s
WHERE id = %(id)s;
