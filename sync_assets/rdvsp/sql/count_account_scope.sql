-- What the warehouse holds for an account's scope after a sync (for reconciliation).
SELECT
    (SELECT count(*) FROM rdvsp.account_organisations WHERE account_id = %(account_id)s) AS organisations,
    (SELECT count(*) FROM rdvsp.account_rdvs
      WHERE account_id = %(account_id)s AND organisation_id = ANY(%(organisation_ids)s)
        AND starts_at >= %(sync_from)s) AS rdvs;
