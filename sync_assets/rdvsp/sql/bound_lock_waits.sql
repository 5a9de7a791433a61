-- A delivery waits at most this long for a lock (a poll merging its organisation, say); past it,
-- the event is stored as failed and the inbox retry applies it later, rather than RDV Service
-- Public's connection being held.
SET LOCAL lock_timeout = '2s';
