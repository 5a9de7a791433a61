-- The outcome of a just-stored event, when it is not a plain `applied` (ignored, or a reason).
UPDATE sync.webhook_inbox SET status = %(status)s, status_reason = %(reason)s WHERE id = %(id)s;
