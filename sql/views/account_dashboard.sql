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
-- coop.activites (account_id, date, id)).
-- A plain view: "now" moves, so stored figures would be stale as soon as written.
CREATE OR REPLACE VIEW analytics.account_dashboard AS
SELECT a.id AS account_id,
       (SELECT count(*) FROM rdvsp.account_rdvs ar JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
        WHERE ar.account_id = a.id AND ar.starts_at > now() AND r.status = 'unknown') AS future_rdvs,
       (SELECT min(ar.starts_at) FROM rdvsp.account_rdvs ar JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
        WHERE ar.account_id = a.id AND ar.starts_at > now() AND r.status = 'unknown') AS next_rdv_at,
       (SELECT count(*) FROM rdvsp.account_rdvs ar
        WHERE ar.account_id = a.id AND ar.starts_at <= now()) AS past_rdvs,
       (SELECT count(*) FROM rdvsp.account_rdvs ar JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
        WHERE ar.account_id = a.id AND ar.starts_at <= now() AND r.status = 'seen'
          AND NOT EXISTS (SELECT 1 FROM coop.activites x WHERE x.rdv_id = ar.rdv_id)
          AND NOT EXISTS (SELECT 1 FROM coop.rdv_cra_declined d WHERE d.rdv_id = ar.rdv_id)) AS rdvs_to_convert,
       (SELECT count(*) FROM coop.activites x WHERE x.account_id = a.id) AS activities
FROM rdvsp.accounts a;
