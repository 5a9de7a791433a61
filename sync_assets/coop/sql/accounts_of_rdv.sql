SELECT account_id FROM rdvsp.account_rdvs WHERE rdv_id = %(rdv_id)s ORDER BY account_id;
