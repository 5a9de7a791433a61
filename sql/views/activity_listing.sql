-- analytics.activity_listing: a mediator's activities and RDVs in one list.
--
--   account_id        the mediator (rdvsp.accounts id)
--   kind              'activite' (coop.activites) | 'rdv' (an RDV of the account not turned into an activity)
--   item_id           the activity's id or the RDV's id
--   date              when it takes or took place
--   type              'individuel' | 'collectif' | 'demarche' (an RDV: collectif or individuel)
--   themes            the activity's themes; an RDV: its motif category
--   duration_min
--   lieu_id, place    the rdvsp.lieux id, and the place's name (or the activity's free label)
--   beneficiaire_ids  coop.beneficiaires ids (an RDV: its participants' beneficiaries for this account)
--   rdv_id            the RDV (for an activity made from one)
--   rdv_status        the RDV's status (unknown, seen, noshow, excused, revoked)
--
-- An RDV turned into an activity is listed once, as the activity. Order and paginate with
-- ORDER BY date DESC, kind DESC, item_id DESC: (date, kind, item_id) is unique, so a keyset
-- (sql/queries/02_listing_next_page.sql) neither repeats nor misses a row. Each half is read from
-- an index on (account_id, date), so a page costs a few index reads whatever the account's size.
-- A plain view: it is always current, and a page never needs more than the rows it shows.
CREATE OR REPLACE VIEW analytics.activity_listing AS
SELECT a.account_id,
       'activite'::text AS kind,
       a.id             AS item_id,
       a.date,
       a.type,
       a.themes,
       a.duration_min,
       a.lieu_id,
       coalesce(l.name, a.place) AS place,
       ARRAY(SELECT ab.beneficiaire_id FROM coop.activite_beneficiaires ab
             WHERE ab.activite_id = a.id ORDER BY 1) AS beneficiaire_ids,
       a.rdv_id,
       r.status         AS rdv_status
FROM coop.activites a
LEFT JOIN rdvsp.lieux l ON l.id = a.lieu_id
LEFT JOIN rdvsp.rdvs r ON r.id = a.rdv_id
UNION ALL
SELECT ar.account_id,
       'rdv'::text,
       r.id,
       ar.starts_at,
       CASE WHEN r.collectif THEN 'collectif' ELSE 'individuel' END,
       CASE WHEN m.motif_category_short_name IS NULL THEN '{}'::text[] ELSE ARRAY[m.motif_category_short_name] END,
       coalesce(r.duration_in_min, (extract(epoch FROM r.ends_at - r.starts_at) / 60)::integer),
       r.lieu_id,
       coalesce(l.name, r.address),
       ARRAY(SELECT b.id FROM rdvsp.participations p
             JOIN coop.beneficiaires b ON b.account_id = ar.account_id AND b.rdv_user_id = p.user_id
             WHERE p.rdv_id = r.id ORDER BY 1),
       r.id,
       r.status
FROM rdvsp.account_rdvs ar
JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
LEFT JOIN rdvsp.lieux l ON l.id = r.lieu_id
LEFT JOIN rdvsp.motifs m ON m.id = r.motif_id
WHERE NOT EXISTS (SELECT 1 FROM coop.activites a WHERE a.rdv_id = ar.rdv_id);
