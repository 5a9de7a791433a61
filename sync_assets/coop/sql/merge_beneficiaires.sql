-- Beneficiaries from the users of synced RDVs, for one account (%(account_id)s) or all (NULL).
--
-- Rule: a beneficiary is one mediator's (account_id) record of one RDV Service Public user
-- (rdv_user_id), made when the user takes part in an RDV the account sees. Later syncs fill the
-- beneficiary's empty fields from the user, never overwriting what the host application holds.
-- A birth date of 1900-01-01 is RDV Service Public's "unknown" and counts as empty. A user
-- anonymised at RDV Service Public ("Usager supprimé") unlinks its beneficiary and removes its
-- identity; the beneficiary and its activities stay. Phone numbers come in international format
-- (%(phones_from)s -> %(phones_to)s, parsed beforehand; a number that did not parse is kept as it is).
WITH phones AS (
    SELECT * FROM unnest(%(phones_from)s::text[], %(phones_to)s::text[]) AS f (raw, international)
), seen AS (
    SELECT DISTINCT ON (ar.account_id, u.id)
           ar.account_id, u.id AS rdv_user_id, u.first_name, u.last_name,
           nullif(u.birth_date, DATE '1900-01-01') AS birth_date, u.email,
           coalesce(f.international, u.phone_number) AS phone, u.address,
           'Usager supprimé' IN (u.first_name, u.last_name) AS anonymised
    FROM rdvsp.account_rdvs ar
    JOIN rdvsp.participations p ON p.rdv_id = ar.rdv_id
    JOIN rdvsp.users u ON u.id = p.user_id
    LEFT JOIN phones f ON f.raw = u.phone_number
    WHERE %(account_id)s::bigint IS NULL OR ar.account_id = %(account_id)s::bigint
    ORDER BY ar.account_id, u.id
), anonymised AS (
    UPDATE coop.beneficiaires b
    SET rdv_user_id = NULL, first_name = NULL, last_name = NULL, birth_date = NULL, email = NULL, phone = NULL,
        address = NULL, anonymised_at = now(), updated_at = now()
    FROM seen s
    WHERE s.anonymised AND b.account_id = s.account_id AND b.rdv_user_id = s.rdv_user_id
    RETURNING b.id
), merged AS (
    INSERT INTO coop.beneficiaires AS b (account_id, rdv_user_id, first_name, last_name, birth_date, email, phone,
                                         address)
    SELECT account_id, rdv_user_id, first_name, last_name, birth_date, email, phone, address
    FROM seen WHERE NOT anonymised
    ON CONFLICT (account_id, rdv_user_id) DO UPDATE
    SET first_name = coalesce(b.first_name, EXCLUDED.first_name), last_name = coalesce(b.last_name, EXCLUDED.last_name),
        birth_date = coalesce(b.birth_date, EXCLUDED.birth_date), email = coalesce(b.email, EXCLUDED.email),
        phone = coalesce(b.phone, EXCLUDED.phone), address = coalesce(b.address, EXCLUDED.address), updated_at = now()
    WHERE (b.first_name IS NULL AND EXCLUDED.first_name IS NOT NULL)
       OR (b.last_name IS NULL AND EXCLUDED.last_name IS NOT NULL)
       OR (b.birth_date IS NULL AND EXCLUDED.birth_date IS NOT NULL)
       OR (b.email IS NULL AND EXCLUDED.email IS NOT NULL)
       OR (b.phone IS NULL AND EXCLUDED.phone IS NOT NULL)
       OR (b.address IS NULL AND EXCLUDED.address IS NOT NULL)
    RETURNING (b.xmax = 0) AS created
)
SELECT (SELECT count(*) FROM seen) AS users_seen,
       (SELECT count(*) FROM merged WHERE created) AS created,
       (SELECT count(*) FROM merged WHERE NOT created) AS filled,
       (SELECT count(*) FROM anonymised) AS anonymised;
