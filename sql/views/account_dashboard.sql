-- analytics.account_dashboard: one row per mediator (rdvsp.accounts), for a dashboard.
--
--   future_rdvs      RDVs to come (not cancelled: status unknown)
--   next_rdv_at      when the next of them starts
--   past_rdvs        RDVs that took place or should have (starts_at before now, any status)
--   rdvs_to_convert  past RDVs where the user came (status seen), not yet turned into an activity
--                    and not declined (coop.rdv_cra_declined)
--   activities       the mediator's activities (coop.activites)
--
-- Query it for one account (WHERE account_id = …): each figure is then one range read of the
-- index on rdvsp.account_rdvs (account_id, starts_at, rdv_id), joined to the RDVs by id (or of
-- the index on coop.activites (account_id, date, id)). The next RDV is the first one found in
-- date order (a few RDVs read, not every one to come). The RDVs to convert leave out, before any
-- RDV is read, those the mediator's own activities were made from (most of them), read once from
-- that index and hashed; NOT EXISTS then catches an RDV converted by another account.
-- A plain view: "now" moves, so stored figures would be stale as soon as written.
CREATE OR REPLACE VIEW analytics.account_dashboard AS
SELECT a.id AS account_id,
       (SELECT count(*) FROM rdvsp.account_rdvs ar JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
        WHERE ar.account_id = a.id AND ar.starts_at > now() AND r.status = 'unknown') AS future_rdvs,
       (SELECT ar.starts_at FROM rdvsp.account_rdvs ar JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
        WHERE ar.account_id = a.id AND ar.starts_at > now() AND r.status = 'unknown'
        ORDER BY ar.starts_at LIMIT 1) AS next_rdv_at,
       (SELECT count(*) FROM rdvsp.account_rdvs ar
        WHERE ar.account_id = a.id AND ar.starts_at <= now()) AS past_rdvs,
       (SELECT count(*) FROM rdvsp.account_rdvs ar JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
        WHERE ar.account_id = a.id AND ar.starts_at <= now() AND r.status = 'seen'
          AND ar.rdv_id NOT IN (SELECT x.rdv_id FROM coop.activites x
                                WHERE x.account_id = a.id AND x.rdv_id IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM coop.activites x WHERE x.rdv_id = ar.rdv_id)
          AND NOT EXISTS (SELECT 1 FROM coop.rdv_cra_declined d WHERE d.rdv_id = ar.rdv_id)) AS rdvs_to_convert,
       (SELECT count(*) FROM coop.activites x WHERE x.account_id = a.id) AS activities
FROM rdvsp.accounts a;

-- What analysts read in \d+ and in the Dagster UI
COMMENT ON VIEW analytics.account_dashboard IS
    'One row per mediator (rdvsp.accounts): RDV and activity figures as of now. Query it for one account (WHERE account_id = …).';
COMMENT ON COLUMN analytics.account_dashboard.account_id IS 'The mediator''s account (rdvsp.accounts.id, the agent id).';
COMMENT ON COLUMN analytics.account_dashboard.future_rdvs IS 'RDVs of the account still to come and not cancelled (status unknown).';
COMMENT ON COLUMN analytics.account_dashboard.next_rdv_at IS 'When the next of them starts (timestamptz); NULL when none.';
COMMENT ON COLUMN analytics.account_dashboard.past_rdvs IS 'RDVs of the account that started before now, whatever their status.';
COMMENT ON COLUMN analytics.account_dashboard.rdvs_to_convert IS
    'Past RDVs the user came to (status seen) not yet turned into an activity nor declined (coop.rdv_cra_declined).';
COMMENT ON COLUMN analytics.account_dashboard.activities IS 'The mediator''s activities (coop.activites), all dates.';
