-- `disconnect --purge`: the account's RDV links, and the RDVs (with their participations) that
-- no other connected account sees. coop.* rows are never touched (activities keep their rdv_id).
WITH doomed AS (
    SELECT l.rdv_id
    FROM rdvsp.account_rdvs l
    WHERE l.account_id = %(account_id)s
      AND NOT EXISTS (SELECT 1 FROM rdvsp.account_rdvs o JOIN rdvsp.accounts a ON a.id = o.account_id
                      WHERE o.rdv_id = l.rdv_id AND o.account_id <> l.account_id AND a.status <> 'disconnected')
), links AS (
    DELETE FROM rdvsp.account_rdvs l
    WHERE l.account_id = %(account_id)s OR l.rdv_id IN (SELECT rdv_id FROM doomed)
    RETURNING 1
), participations AS (
    DELETE FROM rdvsp.participations p WHERE p.rdv_id IN (SELECT rdv_id FROM doomed) RETURNING 1
), rdvs AS (
    DELETE FROM rdvsp.rdvs r WHERE r.id IN (SELECT rdv_id FROM doomed) RETURNING 1
)
SELECT (SELECT count(*) FROM links), (SELECT count(*) FROM rdvs), (SELECT count(*) FROM participations);
