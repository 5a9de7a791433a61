-- What a plan for a beneficiary of the host application sends (coop.beneficiaires).
SELECT account_id, rdv_user_id, first_name, last_name, email, phone, address, anonymised_at
FROM coop.beneficiaires
WHERE id = %(beneficiaire_id)s;
