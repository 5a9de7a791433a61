-- For each organisation of a run, a peer whose read of its RDVs this run may take: an account seen to
-- list the same RDVs there (rdvsp.rdv_listing_reads.peers), still connected, from a first day no later
-- than this account's, that listed them in full since a moment and after this account's last
-- successful run began. Never when this account has not listed them in full itself for seven days.
-- With it, how many of the peer's RDVs there start from this account's first day on: the count the
-- first page of this account's own listing must announce.
SELECT DISTINCT ON (mine.organisation_id)
       mine.organisation_id,
       peer.account_id AS peer_id,
       (SELECT count(*) FROM rdvsp.account_rdvs l
         WHERE l.account_id = peer.account_id AND l.organisation_id = mine.organisation_id
           AND l.starts_at >= %(sync_from)s) AS rdvs
FROM rdvsp.rdv_listing_reads mine
JOIN rdvsp.rdv_listing_reads peer
  ON peer.organisation_id = mine.organisation_id AND peer.account_id = ANY (mine.peers)
JOIN rdvsp.accounts a
  ON a.id = peer.account_id AND a.status = 'active' AND a.sync_from <= %(sync_from_date)s
WHERE mine.account_id = %(account_id)s
  AND mine.organisation_id = ANY (%(organisation_ids)s)
  AND mine.full_read_at >= now() - interval '7 days'
  AND peer.shared_from IS NULL
  AND peer.read_at >= %(since)s
  AND peer.read_at > coalesce((SELECT max(started_at) FROM sync.runs
                               WHERE connector = 'rdvsp' AND partition_key = %(account_id)s::text
                                 AND status = 'success'), '-infinity')
ORDER BY mine.organisation_id, peer.read_at DESC;
