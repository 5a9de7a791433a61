-- A mediator's choice to list its RDVs (not yet turned into activities) in analytics.activity_listing.
UPDATE coop.account_settings
SET include_rdvs_in_activity_listing = %(include)s, updated_at = now()
WHERE account_id = %(account_id)s AND include_rdvs_in_activity_listing IS DISTINCT FROM %(include)s;
