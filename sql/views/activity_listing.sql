-- analytics.activity_listing: a mediator's activities and RDVs in one list.
--
--   account_id        the mediator (rdvsp.accounts id)
--   kind              'activite' (coop.activites) | 'rdv' (an RDV of the account not turned into an activity,
--                     listed only when the mediator chose so: coop.account_settings.include_rdvs_in_activity_listing)
--   item_id           the activity's id or the RDV's id
--   date              when it takes or took place
--   type              'individuel' | 'collectif' | 'demarche' (an RDV: collectif or individuel)
--   themes            the activity's themes; an RDV: its motif category
--   duration_min
--   lieu_id, place    the rdvsp.lieux id, and the place's name (or the activity's free label, the RDV's address)
--   beneficiaire_ids  coop.beneficiaires ids (an RDV: its participants' beneficiaries for this account)
--   rdv_id            the RDV (for an activity made from one)
--   rdv_status        the RDV's status (unknown, seen, noshow, excused, revoked)
--
-- An RDV turned into an activity is listed once, as the activity (whatever the mediator's setting).
-- Order and paginate with
-- ORDER BY date DESC, kind DESC, item_id DESC: (date, kind, item_id) is unique, so a keyset
-- (sql/queries/02_activity_listing_next_page.sql) neither repeats nor misses a row.
--
-- Built for pages: the inner union holds only the ordering columns, read from the indexes on
-- coop.activites (account_id, date, id) and rdvsp.account_rdvs (account_id, starts_at, rdv_id),
-- merged in order; the other columns are looked up (LATERAL) for the rows a page returns only.
-- A plain view: it is always current (an activity just recorded is listed at once).
CREATE OR REPLACE VIEW analytics.activity_listing AS
SELECT u.account_id,
       u.kind,
       u.item_id,
       u.date,
       coalesce(act.type, rdv.type)                         AS type,
       coalesce(act.themes, rdv.themes)                     AS themes,
       coalesce(act.duration_min, rdv.duration_min)         AS duration_min,
       coalesce(act.lieu_id, rdv.lieu_id)                   AS lieu_id,
       coalesce(act.place, rdv.place)                       AS place,
       coalesce(act.beneficiaire_ids, rdv.beneficiaire_ids) AS beneficiaire_ids,
       coalesce(act.rdv_id, rdv.rdv_id)                     AS rdv_id,
       coalesce(act.rdv_status, rdv.rdv_status)             AS rdv_status
FROM (
    SELECT a.account_id, 'activite'::text AS kind, a.id AS item_id, a.date
    FROM coop.activites a
    UNION ALL
    SELECT ar.account_id, 'rdv'::text, ar.rdv_id, ar.starts_at
    FROM rdvsp.account_rdvs ar
) u
LEFT JOIN LATERAL (
    SELECT a.type, a.themes, a.duration_min, a.lieu_id, coalesce(l.name, a.place) AS place,
           ARRAY(SELECT ab.beneficiaire_id FROM coop.activite_beneficiaires ab
                 WHERE ab.activite_id = a.id ORDER BY 1) AS beneficiaire_ids,
           a.rdv_id, r.status AS rdv_status
    FROM coop.activites a
    LEFT JOIN rdvsp.lieux l ON l.id = a.lieu_id
    LEFT JOIN rdvsp.rdvs r ON r.id = a.rdv_id
    WHERE u.kind = 'activite' AND a.id = u.item_id
) act ON true
LEFT JOIN LATERAL (
    SELECT CASE WHEN r.collectif THEN 'collectif' ELSE 'individuel' END AS type,
           CASE WHEN m.motif_category_short_name IS NULL THEN '{}'::text[]
                ELSE ARRAY[m.motif_category_short_name] END AS themes,
           coalesce(r.duration_in_min, (extract(epoch FROM r.ends_at - r.starts_at) / 60)::integer) AS duration_min,
           r.lieu_id, coalesce(l.name, r.address) AS place,
           ARRAY(SELECT b.id FROM rdvsp.participations p
                 JOIN coop.beneficiaires b ON b.account_id = u.account_id AND b.rdv_user_id = p.user_id
                 WHERE p.rdv_id = r.id ORDER BY 1) AS beneficiaire_ids,
           r.id AS rdv_id, r.status AS rdv_status
    FROM rdvsp.rdvs r
    LEFT JOIN rdvsp.lieux l ON l.id = r.lieu_id
    LEFT JOIN rdvsp.motifs m ON m.id = r.motif_id
    WHERE u.kind = 'rdv' AND r.id = u.item_id
) rdv ON true
-- Checked per row as the merged index scans go, so a page stops as soon as it is full. (A join
-- inside the union would make Postgres read and sort all of the account's RDVs first.) Scalar
-- lookups: the mediator's setting (one primary-key read per RDV row read: a page of a mediator
-- who lists RDVs reads a page's worth; one who does not reads all of its RDV keys once, finding
-- none), then the activity made from the RDV (rather than NOT EXISTS, which Postgres may answer
-- by hashing every activity).
WHERE u.kind = 'activite'
   OR ((SELECT s.include_rdvs_in_activity_listing FROM coop.account_settings s WHERE s.account_id = u.account_id)
       AND (SELECT x.id FROM coop.activites x WHERE x.rdv_id = u.item_id) IS NULL);
