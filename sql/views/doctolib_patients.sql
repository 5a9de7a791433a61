-- analytics.doctolib_patients: Doctolib patients without their personal data.
--
--   patient_key        a pseudonymous key: sha256 of a salt kept in sync.pseudonym_salt and the
--                      patient id, so it cannot be recomputed from an id without the salt; the same
--                      key as analytics.appointments.patient_key
--   birth_year         the year only (NULL when unknown)
--   appointments       how many appointments (deleted ones left out)
--   practices          in how many practices
--   first_appointment_at, last_appointment_at
--
-- Names, birth dates, phones and emails stay in doctolib.patients.
CREATE OR REPLACE VIEW analytics.doctolib_patients AS
SELECT encode(sha256((SELECT salt FROM sync.pseudonym_salt) || convert_to('doctolib:' || pt.id, 'UTF8')),
              'hex')                          AS patient_key,
       extract(year FROM pt.birth_date)::int  AS birth_year,
       count(a.id)                            AS appointments,
       count(DISTINCT a.practice_id)          AS practices,
       min(a.start_at)                        AS first_appointment_at,
       max(a.start_at)                        AS last_appointment_at
FROM doctolib.patients pt
LEFT JOIN doctolib.appointments a ON a.patient_id = pt.id AND a.deleted_at IS NULL
GROUP BY pt.id;

-- What analysts read in \d+ and in the Dagster UI
COMMENT ON VIEW analytics.doctolib_patients IS
    'One row per Doctolib patient, without personal data: a pseudonymous key, the birth year and appointment figures. '
    'Names, birth dates, phones and emails stay in doctolib.patients.';
COMMENT ON COLUMN analytics.doctolib_patients.patient_key IS
    'Pseudonymous key: sha256 (hex) of a secret salt and the patient id; the same as analytics.appointments.patient_key.';
COMMENT ON COLUMN analytics.doctolib_patients.birth_year IS 'Year of birth only (NULL when unknown).';
COMMENT ON COLUMN analytics.doctolib_patients.appointments IS 'How many appointments (deleted ones left out).';
COMMENT ON COLUMN analytics.doctolib_patients.practices IS 'In how many practices.';
COMMENT ON COLUMN analytics.doctolib_patients.first_appointment_at IS 'When the first of them starts (timestamptz); NULL when none.';
COMMENT ON COLUMN analytics.doctolib_patients.last_appointment_at IS 'When the last of them starts (timestamptz); NULL when none.';
