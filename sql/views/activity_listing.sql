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
-- Built for pages and filters. Each half of the union reads one table in the listing's order, from
-- an index: coop.activites (account_id, date, id), which includes every other column of the
-- activity the listing shows or filters on, and rdvsp.account_rdvs (account_id, starts_at,
-- rdv_id). Postgres merges the two halves in order and stops as soon as a page is full. A filter
-- on a column (type, themes, place, rdv_status…) is pushed into each half and checked there, row by
-- row, before the other columns of the row are computed; those (the scalar subqueries: the RDV, its
-- lieu and motif, the beneficiaries) are computed for the rows returned only. Scalar subqueries
-- rather than joins: a half that joins another table is planned apart, and Postgres would read and
-- sort all of the account's rows before returning the first.
-- A plain view: it is always current (an activity just recorded is listed at once).
CREATE OR REPLACE VIEW analytics.activity_listing AS
SELECT u.account_id, u.kind, u.item_id, u.date, u.type, u.themes, u.duration_min, u.lieu_id, u.place,
       u.beneficiaire_ids, u.rdv_id, u.rdv_status
FROM (
    SELECT a.account_id,
           'activite'::text AS kind,
           a.id AS item_id,
           a.date,
           a.type,
           a.themes,
           a.duration_min,
           a.lieu_id,
           coalesce((SELECT l.name FROM rdvsp.lieux l WHERE l.id = a.lieu_id), a.place) AS place,
           ARRAY(SELECT ab.beneficiaire_id FROM coop.activite_beneficiaires ab
                 WHERE ab.activite_id = a.id ORDER BY 1) AS beneficiaire_ids,
           a.rdv_id,
           (SELECT r.status FROM rdvsp.rdvs r WHERE r.id = a.rdv_id) AS rdv_status
    FROM coop.activites a
    UNION ALL
    -- Each column a read of the RDV by its primary key (the same row, in cache after the first).
    SELECT ar.account_id,
           'rdv'::text,
           ar.rdv_id,
           ar.starts_at,
           (SELECT CASE WHEN r.collectif THEN 'collectif' ELSE 'individuel' END
            FROM rdvsp.rdvs r WHERE r.id = ar.rdv_id),
           (SELECT CASE WHEN m.motif_category_short_name IS NULL THEN '{}'::text[]
                        ELSE ARRAY[m.motif_category_short_name] END
            FROM rdvsp.rdvs r LEFT JOIN rdvsp.motifs m ON m.id = r.motif_id WHERE r.id = ar.rdv_id),
           (SELECT coalesce(r.duration_in_min, (extract(epoch FROM r.ends_at - r.starts_at) / 60)::integer)
            FROM rdvsp.rdvs r WHERE r.id = ar.rdv_id),
           (SELECT r.lieu_id FROM rdvsp.rdvs r WHERE r.id = ar.rdv_id),
           (SELECT coalesce(l.name, r.address)
            FROM rdvsp.rdvs r LEFT JOIN rdvsp.lieux l ON l.id = r.lieu_id WHERE r.id = ar.rdv_id),
           ARRAY(SELECT b.id FROM rdvsp.participations p
                 JOIN coop.beneficiaires b ON b.account_id = ar.account_id AND b.rdv_user_id = p.user_id
                 WHERE p.rdv_id = ar.rdv_id ORDER BY 1),
           ar.rdv_id,
           (SELECT r.status FROM rdvsp.rdvs r WHERE r.id = ar.rdv_id)
    FROM rdvsp.account_rdvs ar
) u
-- Which RDVs are listed, checked here rather than inside the union (a half with a WHERE of its own
-- is planned apart, and not read in order): those of a mediator who lists RDVs (the accounts that
-- chose so, read once per query from their partial index and hashed, rather than a lookup per RDV)
-- that no activity was made from (a read of the index on coop.activites (rdv_id) alone; NOT EXISTS
-- may be answered by hashing every activity).
WHERE u.kind = 'activite'
   OR (u.account_id IN (SELECT s.account_id FROM coop.account_settings s WHERE s.include_rdvs_in_activity_listing)
       AND (SELECT x.rdv_id FROM coop.activites x WHERE x.rdv_id = u.item_id) IS NULL);

-- What analysts read in \d+ and in the Dagster UI
COMMENT ON VIEW analytics.activity_listing IS
    'A mediator''s activities, and the RDVs not yet turned into one when the mediator chose to list them '
    '(coop.account_settings), one row each. Order by date DESC, kind DESC, item_id DESC (unique); sql/queries/0[1-4]*.sql.';
COMMENT ON COLUMN analytics.activity_listing.account_id IS 'The mediator (rdvsp.accounts.id).';
COMMENT ON COLUMN analytics.activity_listing.kind IS
    'activite (a coop.activites row, one made from an RDV included) or rdv (an RDV of the account not turned into an activity).';
COMMENT ON COLUMN analytics.activity_listing.item_id IS 'The activity''s id (coop.activites.id) or the RDV''s id (rdvsp.rdvs.id), after kind.';
COMMENT ON COLUMN analytics.activity_listing.date IS 'When it takes or took place (timestamptz).';
COMMENT ON COLUMN analytics.activity_listing.type IS 'individuel, collectif or demarche (an RDV: collectif or individuel).';
COMMENT ON COLUMN analytics.activity_listing.themes IS 'The activity''s themes; an RDV: its motif''s category short name (empty when none).';
COMMENT ON COLUMN analytics.activity_listing.duration_min IS 'Its length, in minutes.';
COMMENT ON COLUMN analytics.activity_listing.lieu_id IS 'Where it takes place (rdvsp.lieux.id), when at a lieu.';
COMMENT ON COLUMN analytics.activity_listing.place IS
    'The lieu''s name, else the activity''s free label or the RDV''s address (an address at home is personal data).';
COMMENT ON COLUMN analytics.activity_listing.beneficiaire_ids IS
    'Its beneficiaries (coop.beneficiaires ids), ascending; an RDV: its participants'' beneficiaries for this mediator.';
COMMENT ON COLUMN analytics.activity_listing.rdv_id IS 'The RDV (rdvsp.rdvs.id): the RDV listed, or the one the activity was made from.';
COMMENT ON COLUMN analytics.activity_listing.rdv_status IS 'That RDV''s status: unknown, seen, noshow, excused or revoked.';
