"""The webhook inbox: every accepted delivery stored, then applied, in one transaction.

The apply runs in a savepoint: when it fails, the event stays stored (status `failed`, with
its error) and the delivery is still acknowledged; `retry_due_events` applies it again later,
with a growing delay, and gives up after MAX_ATTEMPTS (the retry run then fails, loudly).
A body received twice is stored and applied once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from sync_assets.platform.contract import record_drift
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.observability import get_logger, report_failure, safe_error_message
from sync_assets.platform.sql_files import package_sql
from sync_assets.rdvsp.webhooks import EventContractBreach, EventRejected, WebhookEvent, apply_event, parse_event

log = get_logger("rdvsp.inbox")
CONNECTOR = "rdvsp"
MAX_ATTEMPTS = 8  # then the event waits for an operator (retries span about two hours)


@dataclass(frozen=True)
class Receipt:
    http_status: int
    status: str  # applied | ignored | failed | rejected | duplicate
    inbox_id: int | None = None
    reason: str | None = None


def receive(engine: Engine, raw: bytes, organisation_id: int | None) -> Receipt:
    """Store and apply one verified delivery. Raises only when it could not be stored."""
    received_at = datetime.now(timezone.utc)
    sha = hashlib.sha256(raw).hexdigest()
    try:
        body = json.loads(raw)
    except ValueError:
        return _store_rejected(engine, sha, organisation_id, raw_body=raw,
                               reason="the body is not valid JSON", http_status=400)
    try:
        event = parse_event(body, received_at)
    except EventRejected as error:
        return _store_rejected(engine, sha, organisation_id, body=body, reason=str(error), http_status=400)
    with engine.begin() as conn:
        pg = driver_connection(conn)
        row = pg.execute(package_sql(__file__, "store_inbox_event"), {
            "connector": CONNECTOR, "body_sha256": sha, "body": Jsonb(body), "raw_body": None,
            "model": event.model, "event": event.event, "record_id": str(event.record_id) if event.record_id else None,
            "event_at": event.event_at, "organisation_id": organisation_id, "status": "received",
            "reason": None}).fetchone()
        if row is None:
            return Receipt(200, "duplicate")
        status, reason, _ = _apply_stored(pg, row[0], event, organisation_id)
    return Receipt(403 if status == "rejected" else 200, status, row[0], reason)


def _store_rejected(engine: Engine, sha: str, organisation_id: int | None, *, reason: str, http_status: int,
                    body=None, raw_body: bytes | None = None) -> Receipt:
    with engine.begin() as conn:
        row = driver_connection(conn).execute(package_sql(__file__, "store_inbox_event"), {
            "connector": CONNECTOR, "body_sha256": sha, "body": Jsonb(body) if body is not None else None,
            "raw_body": raw_body, "model": None, "event": None, "record_id": None, "event_at": None,
            "organisation_id": organisation_id, "status": "rejected", "reason": reason}).fetchone()
    log.warning("webhook rejected", extra={"organisation_id": organisation_id, "reason": reason,
                                           "inbox_id": row[0] if row else None})
    return Receipt(http_status, "rejected", row[0] if row else None, reason)


def _apply_stored(pg, inbox_id: int, event: WebhookEvent,
                  organisation_id: int | None) -> tuple[str, str | None, bool]:
    """Apply a stored event and record the outcome: (status, reason, retries exhausted)."""
    try:
        with pg.transaction():  # a savepoint: a failure undoes the apply, never the stored event
            applied = apply_event(pg, event, organisation_id)
        status = "applied" if applied.status == "applied" else "ignored"
        reason = applied.reason
    except EventRejected as error:
        status, reason = "rejected", str(error)
        log.warning("webhook event refused", extra={"inbox_id": inbox_id, "reason": reason})
    except EventContractBreach as error:
        record_drift(pg, CONNECTOR, error.result)
        status, reason = "failed", str(error)
        log.error("webhook event broke its contract", extra={"inbox_id": inbox_id, "reason": reason})
    except Exception as error:  # stored, to be retried; the delivery is still acknowledged
        status, reason = "failed", safe_error_message(error)
        report_failure(log, error, "webhook event failed to apply", inbox_id=inbox_id, model=event.model)
    given_up = pg.execute(package_sql(__file__, "settle_inbox_event"), {
        "id": inbox_id, "status": status, "reason": reason, "max_attempts": MAX_ATTEMPTS}).fetchone()[0]
    return status, reason, given_up


@dataclass
class RetryReport:
    retried: int = 0
    applied: int = 0
    still_failing: int = 0
    given_up: list[int] = field(default_factory=list)


def retry_due_events(engine: Engine, limit: int = 200) -> RetryReport:
    """Apply again the inbox events whose retry is due."""
    report = RetryReport()
    with engine.begin() as conn:
        pg = driver_connection(conn)
        for inbox_id, body, organisation_id, received_at in pg.execute(
                package_sql(__file__, "due_inbox_events"), {"limit": limit}).fetchall():
            report.retried += 1
            status, _, given_up = _apply_stored(pg, inbox_id, parse_event(body, received_at), organisation_id)
            if status in ("applied", "ignored"):
                report.applied += 1
            else:
                report.still_failing += 1
                if given_up:
                    report.given_up.append(inbox_id)
    return report
