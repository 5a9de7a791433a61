-- The distinct phone numbers of the RDV users a beneficiary merge will read, for one account
-- (%(account_id)s) or all (NULL), to be put in international format before the merge.
SELECT DISTINCT u.phone_number
FROM rdvsp.account_rdvs ar
JOIN rdvsp.participations p ON p.rdv_id = ar.rdv_id
JOIN rdvsp.users u ON u.id = p.user_id
WHERE u.phone_number IS NOT NULL
  AND (%(account_id)s::bigint IS NULL OR ar.account_id = %(account_id)s::bigint);
