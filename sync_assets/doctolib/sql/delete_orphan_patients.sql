-- After a full refresh: patients no appointment refers to any more (their appointments were
-- deleted at Doctolib). Only patients of this practice's former appointments are candidates.
DELETE FROM doctolib.patients p
WHERE p.id = ANY(%(patient_ids)s)
  AND NOT EXISTS (SELECT 1 FROM doctolib.appointments a WHERE a.patient_id = p.id);
