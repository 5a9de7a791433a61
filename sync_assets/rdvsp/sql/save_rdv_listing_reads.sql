-- The organisations whose RDVs this run listed in full, recorded with its rows; and who its peers are
-- there now. Every other account that listed them in full since a moment is compared: the same RDVs
-- (from the later of the two first days on) make the two peers, different ones undo it; accounts not
-- compared keep what was known.
WITH compared AS (
    SELECT f.organisation_id, other.account_id,
           NOT EXISTS (
               (SELECT rdv_id FROM rdvsp.account_rdvs
                 WHERE account_id = %(account_id)s AND organisation_id = f.organisation_id AND starts_at >= w.since
                EXCEPT
                SELECT rdv_id FROM rdvsp.account_rdvs
                 WHERE account_id = other.account_id AND organisation_id = f.organisation_id AND starts_at >= w.since)
               UNION ALL
               (SELECT rdv_id FROM rdvsp.account_rdvs
                 WHERE account_id = other.account_id AND organisation_id = f.organisation_id AND starts_at >= w.since
                EXCEPT
                SELECT rdv_id FROM rdvsp.account_rdvs
                 WHERE account_id = %(account_id)s AND organisation_id = f.organisation_id AND starts_at >= w.since)
           ) AS same
    FROM unnest(%(organisation_ids)s::bigint[]) AS f (organisation_id)
    JOIN rdvsp.rdv_listing_reads other
      ON other.organisation_id = f.organisation_id AND other.account_id <> %(account_id)s
     AND other.shared_from IS NULL AND other.read_at >= %(compared_since)s
    JOIN rdvsp.accounts a ON a.id = other.account_id
    CROSS JOIN LATERAL (
        SELECT greatest(%(sync_from)s, (a.sync_from::timestamp AT TIME ZONE 'Europe/Paris')) AS since
    ) w
), mine AS (
    INSERT INTO rdvsp.rdv_listing_reads AS r
        (organisation_id, account_id, read_at, run_id, full_read_at, shared_from, peers)
    SELECT f.organisation_id, %(account_id)s, %(read_at)s, %(run_id)s, %(read_at)s, NULL,
           ARRAY(SELECT p FROM unnest(coalesce(old.peers, '{}'::bigint[])) AS p
                 WHERE p NOT IN (SELECT c.account_id FROM compared c WHERE c.organisation_id = f.organisation_id)
                 UNION
                 SELECT c.account_id FROM compared c WHERE c.organisation_id = f.organisation_id AND c.same)
    FROM unnest(%(organisation_ids)s::bigint[]) AS f (organisation_id)
    LEFT JOIN rdvsp.rdv_listing_reads old
      ON old.organisation_id = f.organisation_id AND old.account_id = %(account_id)s
    ON CONFLICT (organisation_id, account_id) DO UPDATE
    SET read_at = excluded.read_at, run_id = excluded.run_id, full_read_at = excluded.full_read_at,
        shared_from = NULL, peers = excluded.peers
)
UPDATE rdvsp.rdv_listing_reads o
SET peers = CASE WHEN c.same THEN ARRAY(SELECT DISTINCT p FROM unnest(o.peers || %(account_id)s::bigint) AS p)
                 ELSE array_remove(o.peers, %(account_id)s::bigint) END
FROM compared c
WHERE o.organisation_id = c.organisation_id AND o.account_id = c.account_id;
