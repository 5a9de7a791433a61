-- The write-back lock, waiting for the run that holds it to finish.
SELECT pg_advisory_lock(%(key)s);
