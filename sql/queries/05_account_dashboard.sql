-- A mediator's dashboard: RDVs to come, the next one, past ones, those to turn into activities,
-- and the activities recorded.
-- In psql:  \set account_id 42
SELECT future_rdvs, next_rdv_at, past_rdvs, rdvs_to_convert, activities
FROM analytics.account_dashboard
WHERE account_id = :account_id;
