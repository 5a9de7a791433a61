-- analytics.rdv_statistics: RDV counts per account, month (Europe/Paris), status, motif and place.
--
--   account_id, month (the first day, Paris time), status, motif_id, motif, lieu_id, place,
--   rdvs (how many), participants (their participations), activities (how many became one)
--
-- Sum the rows over the dimensions you do not need (sql/queries/06_rdv_statistics.sql).
-- A materialized view: each figure aggregates every RDV, too much to recompute per query on
-- large accounts; it is rebuilt when the analytics/rdv_statistics asset is materialized (after
-- the syncs), and says so in its `computed_at` column.
DROP MATERIALIZED VIEW IF EXISTS analytics.rdv_statistics;
CREATE MATERIALIZED VIEW analytics.rdv_statistics AS
SELECT ar.account_id,
       date_trunc('month', ar.starts_at AT TIME ZONE 'Europe/Paris')::date AS month,
       r.status,
       r.motif_id,
       m.name       AS motif,
       r.lieu_id,
       coalesce(l.name, 'sans lieu') AS place,
       count(*)     AS rdvs,
       coalesce(sum(pc.participants), 0)::bigint AS participants,
       count(a.id)  AS activities,
       now()        AS computed_at
FROM rdvsp.account_rdvs ar
JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
LEFT JOIN rdvsp.motifs m ON m.id = r.motif_id
LEFT JOIN rdvsp.lieux l ON l.id = r.lieu_id
LEFT JOIN coop.activites a ON a.rdv_id = r.id
LEFT JOIN (SELECT rdv_id, count(*) AS participants FROM rdvsp.participations GROUP BY rdv_id) pc ON pc.rdv_id = r.id
GROUP BY 1, 2, 3, 4, 5, 6, 7;
CREATE INDEX rdv_statistics_account_month ON analytics.rdv_statistics (account_id, month);

-- What analysts read in \d+ and in the Dagster UI
COMMENT ON MATERIALIZED VIEW analytics.rdv_statistics IS
    'RDV counts, one row per (account, month, status, motif, place); sum over the dimensions not needed. Rebuilt when '
    'the analytics/rdv_statistics asset is materialized: computed_at says when.';
COMMENT ON COLUMN analytics.rdv_statistics.account_id IS 'The mediator (rdvsp.accounts.id): an RDV seen by two accounts counts for each.';
COMMENT ON COLUMN analytics.rdv_statistics.month IS 'The first day of the month the RDVs start in, Paris time (a date).';
COMMENT ON COLUMN analytics.rdv_statistics.status IS 'The RDVs'' status: unknown, seen, noshow, excused or revoked.';
COMMENT ON COLUMN analytics.rdv_statistics.motif_id IS 'Their motif (rdvsp.motifs.id).';
COMMENT ON COLUMN analytics.rdv_statistics.motif IS 'The motif''s name.';
COMMENT ON COLUMN analytics.rdv_statistics.lieu_id IS 'Their lieu (rdvsp.lieux.id); NULL for RDVs by phone, at home or by video.';
COMMENT ON COLUMN analytics.rdv_statistics.place IS 'The lieu''s name, or sans lieu.';
COMMENT ON COLUMN analytics.rdv_statistics.rdvs IS 'How many RDVs.';
COMMENT ON COLUMN analytics.rdv_statistics.participants IS 'Their participations, all statuses (rdvsp.participations rows).';
COMMENT ON COLUMN analytics.rdv_statistics.activities IS 'How many of them became an activity (coop.activites).';
COMMENT ON COLUMN analytics.rdv_statistics.computed_at IS 'When the figures were computed (timestamptz): they do not move until the next rebuild.';
