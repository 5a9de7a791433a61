-- An attendance status the API accepted, written here at once when the RDV could not be read back:
-- the RDV and its participations take it, stamped %(at)s (the time the request was sent), so that
-- an older webhook still in flight does not undo it. A newer state already held is kept.
WITH rdv AS (
    UPDATE rdvsp.rdvs
    SET status = %(status)s, last_event_at = %(at)s, synced_at = now()
    WHERE id = %(rdv_id)s AND (last_event_at IS NULL OR last_event_at <= %(at)s)
    RETURNING id
)
UPDATE rdvsp.participations p
SET status = %(status)s, synced_at = now()
FROM rdv
WHERE p.rdv_id = rdv.id AND p.status IS DISTINCT FROM %(status)s;
