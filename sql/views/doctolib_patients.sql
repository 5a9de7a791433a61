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
