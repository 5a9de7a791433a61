-- One run per practice at a time: a second run of the same practice waits here for the first
-- to commit or roll back, then reads the cursor the first one left.
SELECT pg_advisory_xact_lock(hashtextextended('doctolib.practice:' || %(practice_id)s::text, 0));
