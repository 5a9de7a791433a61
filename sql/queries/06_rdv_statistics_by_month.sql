-- A mediator's RDVs per month and status over the last year (from the materialized statistics:
-- as of their computed_at, refreshed when analytics/rdv_statistics is materialized).
-- In psql:  \set account_id 42
SELECT month, status, sum(rdvs) AS rdvs, sum(participants) AS participants, sum(activities) AS activities
FROM analytics.rdv_statistics
WHERE account_id = :account_id AND month >= date_trunc('month', now() - interval '1 year')
GROUP BY month, status
ORDER BY month, status;
