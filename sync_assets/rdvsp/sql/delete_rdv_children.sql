-- Before an RDV is destroyed: its participations and account links (counted).
WITH participations AS (
    DELETE FROM rdvsp.participations WHERE rdv_id = %(id)s RETURNING 1
), links AS (
    DELETE FROM rdvsp.account_rdvs WHERE rdv_id = %(id)s RETURNING 1
)
SELECT (SELECT count(*) FROM participations), (SELECT count(*) FROM links);
