-- One write-back run at a time in the deployment: a session-level advisory lock, released when
-- the run's session ends (a run that dies releases it with its connection).
SELECT pg_try_advisory_lock(%(key)s);
