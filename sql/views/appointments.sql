-- analytics.appointments: Doctolib appointments and RDV Service Public RDVs in one shape.
--
--   source        'doctolib' | 'rdvsp'
--   source_id     the appointment's id at its source (text: ids of two sources never mix)
--   site_kind     'practice' (Doctolib) | 'organisation' (RDV Service Public)
--   site_id, site_name
--   starts_at, ends_at, duration_min
--   status        the common vocabulary:
--                   scheduled  Doctolib confirmed, RDV unknown (not yet known to have happened)
--                   attended   Doctolib done, RDV seen
--                   no_show    Doctolib no_show, RDV noshow
--                   cancelled  Doctolib cancelled, RDV excused (by the user) or revoked (by the agent)
--   source_status the status as the source says it
--   motive        visit motive (Doctolib) or motif (RDV Service Public) name
--   patient_key   Doctolib: the pseudonymous key of analytics.doctolib_patients; RDVs: NULL (an RDV
--                 can have several participants, see rdvsp.participations)
--   created_at, synced_at
--
-- Appointments deleted at Doctolib (deleted_at set) are left out. A plain view: it reads the
-- synced tables as they are, through their indexes on starts_at / start_at.
CREATE OR REPLACE VIEW analytics.appointments AS
SELECT 'doctolib'::text                                   AS source,
       a.id::text                                         AS source_id,
       'practice'::text                                   AS site_kind,
       a.practice_id                                      AS site_id,
       p.name                                             AS site_name,
       a.start_at                                         AS starts_at,
       a.end_at                                           AS ends_at,
       (extract(epoch FROM a.end_at - a.start_at) / 60)::integer AS duration_min,
       CASE a.status WHEN 'confirmed' THEN 'scheduled' WHEN 'done' THEN 'attended'
                     WHEN 'no_show' THEN 'no_show' WHEN 'cancelled' THEN 'cancelled' END AS status,
       a.status                                           AS source_status,
       vm.name                                            AS motive,
       encode(sha256((SELECT salt FROM sync.pseudonym_salt) || convert_to('doctolib:' || a.patient_id, 'UTF8')),
              'hex')                                      AS patient_key,
       a.created_at,
       a.synced_at
FROM doctolib.appointments a
LEFT JOIN doctolib.practices p ON p.id = a.practice_id
LEFT JOIN doctolib.visit_motives vm ON vm.id = a.visit_motive_id
WHERE a.deleted_at IS NULL
UNION ALL
SELECT 'rdvsp',
       r.id::text,
       'organisation',
       r.organisation_id,
       o.name,
       r.starts_at,
       coalesce(r.ends_at, r.starts_at + make_interval(mins => r.duration_in_min)),
       coalesce(r.duration_in_min, (extract(epoch FROM r.ends_at - r.starts_at) / 60)::integer),
       CASE r.status WHEN 'unknown' THEN 'scheduled' WHEN 'seen' THEN 'attended' WHEN 'noshow' THEN 'no_show'
                     WHEN 'excused' THEN 'cancelled' WHEN 'revoked' THEN 'cancelled' END,
       r.status,
       m.name,
       NULL,
       r.created_at,
       r.synced_at
FROM rdvsp.rdvs r
LEFT JOIN rdvsp.organisations o ON o.id = r.organisation_id
LEFT JOIN rdvsp.motifs m ON m.id = r.motif_id;

-- What analysts read in \d+ and in the Dagster UI
COMMENT ON VIEW analytics.appointments IS
    'One row per Doctolib appointment (deleted ones left out) or RDV Service Public RDV, in one shape and one status '
    'vocabulary. No personal data: patients appear by pseudonymous key only.';
COMMENT ON COLUMN analytics.appointments.source IS 'doctolib or rdvsp (RDV Service Public).';
COMMENT ON COLUMN analytics.appointments.source_id IS 'The appointment''s id at its source, as text (ids of two sources never mix).';
COMMENT ON COLUMN analytics.appointments.site_kind IS 'practice (Doctolib) or organisation (RDV Service Public).';
COMMENT ON COLUMN analytics.appointments.site_id IS 'The practice (doctolib.practices.id) or organisation (rdvsp.organisations.id), after site_kind.';
COMMENT ON COLUMN analytics.appointments.site_name IS 'Its name.';
COMMENT ON COLUMN analytics.appointments.starts_at IS 'When it starts (timestamptz).';
COMMENT ON COLUMN analytics.appointments.ends_at IS 'When it ends (timestamptz).';
COMMENT ON COLUMN analytics.appointments.duration_min IS 'Its length, in minutes.';
COMMENT ON COLUMN analytics.appointments.status IS
    'scheduled (Doctolib confirmed, RDV unknown), attended (done, seen), no_show (no_show, noshow) or cancelled '
    '(Doctolib cancelled, RDV excused or revoked).';
COMMENT ON COLUMN analytics.appointments.source_status IS 'The status as its source says it.';
COMMENT ON COLUMN analytics.appointments.motive IS 'The Doctolib visit motive''s or the RDV Service Public motif''s name.';
COMMENT ON COLUMN analytics.appointments.patient_key IS
    'Doctolib: the patient''s pseudonymous key (as in analytics.doctolib_patients); RDVs: NULL (see rdvsp.participations).';
COMMENT ON COLUMN analytics.appointments.created_at IS 'When it was booked at its source.';
COMMENT ON COLUMN analytics.appointments.synced_at IS 'When a sync last changed its row in the warehouse.';
