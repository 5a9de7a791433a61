-- Inbox events whose retry is due (the condition of due_inbox_events.sql): what the retry
-- sensor waits for, and the receiver's backlog metric.
SELECT count(*) FROM sync.webhook_inbox
WHERE connector = 'rdvsp' AND status IN ('failed', 'received') AND next_attempt_at <= now();
