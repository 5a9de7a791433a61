-- An agent role changed in an organisation: what its agent sees there may have changed, so it is no
-- one's peer there until full listings compare them again.
WITH its_own AS (
    UPDATE rdvsp.rdv_listing_reads SET peers = '{}'
    WHERE organisation_id = %(organisation_id)s AND account_id = %(agent_id)s
)
UPDATE rdvsp.rdv_listing_reads SET peers = array_remove(peers, %(agent_id)s::bigint)
WHERE organisation_id = %(organisation_id)s AND account_id <> %(agent_id)s AND %(agent_id)s::bigint = ANY (peers);
