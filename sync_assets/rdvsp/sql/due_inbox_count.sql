SELECT count(*) FROM sync.webhook_inbox
WHERE connector = 'rdvsp' AND status IN ('failed', 'received') AND next_attempt_at <= now();
