UPDATE doctolib.sync_runs
SET ended_at = now(), status = 'failed', reason = %(reason)s, account_name = %(account_name)s,
    updated_since = %(updated_since)s, cursor_before = %(cursor_before)s, pages_fetched = %(pages)s,
    api_requests = %(api_requests)s
WHERE id = %(id)s;
