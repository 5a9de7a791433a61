-- Indexes for the analyst layer at a million RDVs and activities: the listing
-- (sql/views/activity_listing.sql), its filters (sql/queries/04_activity_listing_filtered.sql) and
-- the dashboard (sql/views/account_dashboard.sql). Each replaces a narrower one where it can.

-- The listing reads an account's activities newest first. With every column it shows or filters on
-- in the index, a filter on type, themes, place or the RDV is checked on the index entries, which
-- lie together for an account, instead of on one table page per activity; and the dashboard's
-- RDVs to convert find the account's own converted RDVs there in one range read.
DROP INDEX coop.activites_account_date;
CREATE INDEX activites_listing ON coop.activites (account_id, date, id)
    INCLUDE (type, themes, duration_min, lieu_id, place, rdv_id);

-- A beneficiary's activities (the beneficiary filter of the listing) from the index alone.
DROP INDEX coop.activite_beneficiaires_beneficiaire;
CREATE INDEX activite_beneficiaires_beneficiaire ON coop.activite_beneficiaires (beneficiaire_id, activite_id);

-- The accounts that list their RDVs among their activities (off by default: the few that chose
-- so). The listing reads them once per query, whatever the number of accounts.
CREATE INDEX account_settings_listing_rdvs ON coop.account_settings (account_id)
    WHERE include_rdvs_in_activity_listing;
