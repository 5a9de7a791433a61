SELECT DISTINCT patient_id FROM doctolib.appointments WHERE practice_id = %(practice_id)s;
