-- A delivery, stored with the outcome of its first attempt (a failure is retried after 30 s).
-- A body received before (same hash) is not stored again: no row back.
INSERT INTO sync.webhook_inbox
    (connector, body_sha256, body, raw_body, model, event, record_id, event_at, endpoint_organisation_id, status,
     status_reason, attempts, applied_at, next_attempt_at)
VALUES (%(connector)s, %(body_sha256)s, %(body)s, %(raw_body)s, %(model)s, %(event)s, %(record_id)s, %(event_at)s,
        %(organisation_id)s, %(status)s, %(reason)s, %(attempts)s,
        CASE WHEN %(status)s IN ('applied', 'ignored') THEN now() END,
        CASE WHEN %(status)s = 'failed' THEN now() + interval '30 seconds' END)
ON CONFLICT ON CONSTRAINT webhook_inbox_body_once DO NOTHING
RETURNING id;
