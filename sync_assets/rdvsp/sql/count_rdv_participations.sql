-- How many participants an RDV about to be destroyed has (they go with it, by cascade).
SELECT count(*) FROM rdvsp.participations WHERE rdv_id = %(id)s;
