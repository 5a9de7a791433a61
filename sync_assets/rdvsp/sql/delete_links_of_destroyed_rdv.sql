-- The account links of an RDV, once it is gone (a destroy refused as older leaves them).
WITH links AS (
    DELETE FROM rdvsp.account_rdvs l
    WHERE l.rdv_id = %(id)s AND NOT EXISTS (SELECT 1 FROM rdvsp.rdvs r WHERE r.id = %(id)s)
    RETURNING 1
)
SELECT count(*) FROM links;
