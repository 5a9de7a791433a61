-- Activities (CRA) from attended RDVs: one RDV (%(rdv_id)s) or every attended RDV of an account
-- (%(account_id)s) that is neither converted nor declined. Idempotent: an RDV becomes at most
-- one activity (coop.activites.rdv_id is unique), so running it again creates nothing.
--
-- From the RDV: date = starts_at, type = collectif or individuel, themes = the motif's category,
-- duration = duration_in_min (or ends_at - starts_at), place = its lieu (or its address). The
-- owner is the account whose agent took the RDV, else the first account that sees it. The
-- beneficiaries are the owner's beneficiaries of the participants who were not excused, revoked
-- or absent.
WITH candidates AS (
    SELECT DISTINCT ON (r.id) r.id AS rdv_id, ar.account_id, r.starts_at, r.collectif, r.lieu_id, r.address,
           greatest(1, coalesce(r.duration_in_min, (extract(epoch FROM r.ends_at - r.starts_at) / 60)::integer, 1))
               AS duration_min,
           m.motif_category_short_name AS theme
    FROM rdvsp.rdvs r
    JOIN rdvsp.account_rdvs ar ON ar.rdv_id = r.id
    LEFT JOIN rdvsp.motifs m ON m.id = r.motif_id
    WHERE r.status = 'seen'
      AND (%(rdv_id)s::bigint IS NULL OR r.id = %(rdv_id)s::bigint)
      AND (%(account_id)s::bigint IS NULL OR ar.account_id = %(account_id)s::bigint)
      AND NOT EXISTS (SELECT 1 FROM coop.activites a WHERE a.rdv_id = r.id)
      AND NOT EXISTS (SELECT 1 FROM coop.rdv_cra_declined d WHERE d.rdv_id = r.id)
    ORDER BY r.id, (ar.account_id = ANY (r.agent_ids)) DESC, ar.account_id
), created AS (
    INSERT INTO coop.activites (account_id, date, type, themes, duration_min, lieu_id, place, rdv_id)
    SELECT c.account_id, c.starts_at, CASE WHEN c.collectif THEN 'collectif' ELSE 'individuel' END,
           CASE WHEN c.theme IS NULL THEN '{}'::text[] ELSE ARRAY[c.theme] END, c.duration_min, c.lieu_id,
           CASE WHEN c.lieu_id IS NULL THEN c.address END, c.rdv_id
    FROM candidates c
    ON CONFLICT (rdv_id) DO NOTHING
    RETURNING id, rdv_id, account_id
), linked AS (
    INSERT INTO coop.activite_beneficiaires (activite_id, beneficiaire_id)
    SELECT DISTINCT c.id, b.id
    FROM created c
    JOIN rdvsp.participations p ON p.rdv_id = c.rdv_id AND p.status NOT IN ('excused', 'revoked', 'noshow')
    JOIN coop.beneficiaires b ON b.account_id = c.account_id AND b.rdv_user_id = p.user_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM linked),
       (SELECT coalesce(array_agg(rdv_id ORDER BY rdv_id), '{}') FROM created);
