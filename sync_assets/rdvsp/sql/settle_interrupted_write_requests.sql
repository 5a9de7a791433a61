-- Requests left 'sending' by a write-back run that died between handing them to the API and
-- recording the answer (only the run holding the write-back lock sends, and the caller holds it
-- now: whoever sent these is gone). A status is sent again: setting the same status twice is one
-- change. A plan is never sent twice: the API may have created it, so it fails, saying so.
UPDATE rdvsp.write_requests
SET status = CASE kind WHEN 'rdv_status' THEN 'pending' ELSE 'failed' END,
    error = CASE kind
        WHEN 'rdv_status' THEN 'the run sending it stopped before recording the answer: sent again'
        ELSE 'the run sending it stopped before recording the answer: RDV Service Public may have created the '
             'plan. Check with the agent (or in RDV Service Public) before asking again.' END,
    next_attempt_at = now(),
    done_at = CASE kind WHEN 'rdv_plan' THEN now() END
WHERE status = 'sending'
RETURNING id, kind;
