"""The webhook inbox: every accepted delivery stored and applied in one transaction.

When the apply fails, that transaction is rolled back and the event is stored alone (status
`failed`, with its error) and the delivery is still acknowledged; `retry_due_events` applies it
again later, with a growing delay (each retry in a savepoint), and gives up after MAX_ATTEMPTS
(the retry run then fails, loudly). A body received twice is stored and applied once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from sync_assets.platform.contract import json_depth, load_json, record_drift
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.observability import get_logger, report_failure, safe_error_message
from sync_assets.platform.sql_files import package_sql
from sync_assets.rdvsp.webhooks import (
    Applied,
    EventContractBreach,
    EventRejected,
    WebhookEvent,
    apply_event,
    parse_event,
    read_version,
    version_of,
)

log = get_logger("rdvsp.inbox")
CONNECTOR = "rdvsp"
MAX_EVENT_DEPTH = 32  # an RDV event nests 6 levels deep
MAX_ATTEMPTS = 8  # then the event waits for an operator (retries span about two hours)


@dataclass(frozen=True)
class Receipt:
    http_status: int
    status: str  # applied | ignored | failed | rejected | duplicate
    inbox_id: int | None = None
    reason: str | None = None
    model: str | None = None  # the event's model, when the body was an event


def receive(engine: Engine, raw: bytes, organisation_id: int | None) -> Receipt:
    """Store and apply one verified delivery. Raises only when it could not be stored."""
    received_at = datetime.now(timezone.utc)
    sha = hashlib.sha256(raw).hexdigest()
    try:
        body = load_json(raw)
    except ValueError:
        return _store_rejected(
            engine,
            sha,
            organisation_id,
            raw_body=raw,
            reason="the body is not valid JSON, or is nested too deeply to be read",
            http_status=400,
        )
    if json_depth(body) > MAX_EVENT_DEPTH:
        return _store_rejected(
            engine,
            sha,
            organisation_id,
            raw_body=raw,
            http_status=400,
            reason=f"the body is nested more than {MAX_EVENT_DEPTH} levels deep: not an event",
        )
    try:
        event = parse_event(body, received_at)
    except EventRejected as error:
        return _store_rejected(engine, sha, organisation_id, body=body, reason=str(error), http_status=400)
    for attempt in (1, 2):
        connection = engine.raw_connection()
        try:
            return _receive_event(connection.driver_connection, sha, body, event, organisation_id)
        except psycopg.OperationalError:
            # A connection the server closed (a restart): storing is idempotent, so try once more
            # on a new connection before answering 503.
            connection.invalidate()
            if attempt == 2:
                raise
        finally:
            connection.close()
    raise AssertionError("unreachable")


def _receive_event(pg: psycopg.Connection, sha: str, body, event: WebhookEvent, organisation_id: int | None) -> Receipt:
    """Store the event as applied and apply it, in one transaction and three round trips; when
    the apply fails, roll back and store the event as failed (or rejected) instead."""
    stored = {
        "connector": CONNECTOR,
        "body_sha256": sha,
        "body": Jsonb(body),
        "raw_body": None,
        "model": event.model,
        "event": event.event,
        "record_id": str(event.record_id) if event.record_id else None,
        "event_at": event.event_at,
        "organisation_id": organisation_id,
        "status": "applied",
        "reason": None,
        "attempts": 1,
    }
    try:
        with pg.pipeline():
            pg.cursor().execute(package_sql(__file__, "bound_lock_waits"))
            inserted = pg.cursor().execute(package_sql(__file__, "store_inbox_event"), stored)
            released = _send_released_check(pg, organisation_id)  # sent with the insert
            version = read_version(pg, event)
            row = inserted.fetchone()
            if row is None:
                pg.rollback()
                return Receipt(200, "duplicate", model=event.model)
            if released.fetchone():
                applied = Applied("ignored", _released_reason(organisation_id))
            else:
                applied = apply_event(pg, event, organisation_id, version_of(version))
            if applied.status != "applied" or applied.reason:
                pg.execute(
                    package_sql(__file__, "settle_received_event"),
                    {
                        "id": row[0],
                        "status": "applied" if applied.status == "applied" else "ignored",
                        "reason": applied.reason,
                    },
                )
            pg.commit()  # in the pipeline: sent with the statements above
        outcome = "applied" if applied.status == "applied" else "ignored"
        return Receipt(200, outcome, row[0], applied.reason, event.model)
    except psycopg.OperationalError as error:
        if pg.closed or pg.broken:
            raise
        failure: Exception = error
    except Exception as error:  # noqa: BLE001 - every failure is stored with the event, below
        failure = error
    pg.rollback()
    status, reason = _failure_outcome(failure, event)
    with pg.transaction():
        row = pg.execute(
            package_sql(__file__, "store_inbox_event"), {**stored, "status": status, "reason": reason}
        ).fetchone()
        if isinstance(failure, EventContractBreach):
            record_drift(pg, CONNECTOR, failure.result)
    if row is None:
        return Receipt(200, "duplicate", model=event.model)
    _log_failure(failure, row[0], event, reason)
    return Receipt(403 if status == "rejected" else 200, status, row[0], reason, event.model)


def _send_released_check(pg: psycopg.Connection, organisation_id: int | None) -> psycopg.Cursor:
    """Whether the organisation's webhook was released at a disconnection (a row if so)."""
    return pg.cursor().execute(package_sql(__file__, "released_organisation"), {"organisation_id": organisation_id})


def _released_reason(organisation_id: int | None) -> str:
    return (
        f"organisation {organisation_id} has no connected account any more (its webhook was released when "
        "its account was disconnected)"
    )


def _failure_outcome(error: Exception, event: WebhookEvent) -> tuple[str, str]:
    if isinstance(error, EventRejected):
        return "rejected", str(error)
    if isinstance(error, EventContractBreach):
        return "failed", str(error)
    return "failed", safe_error_message(error)


def _log_failure(error: Exception, inbox_id: int, event: WebhookEvent, reason: str) -> None:
    if isinstance(error, EventRejected):
        log.warning("webhook event refused", extra={"inbox_id": inbox_id, "reason": reason})
    elif isinstance(error, EventContractBreach):
        log.error("webhook event broke its contract", extra={"inbox_id": inbox_id, "reason": reason})
    else:  # stored, to be retried; the delivery is still acknowledged
        report_failure(log, error, "webhook event failed to apply", inbox_id=inbox_id, model=event.model)


def _store_rejected(
    engine: Engine,
    sha: str,
    organisation_id: int | None,
    *,
    reason: str,
    http_status: int,
    body=None,
    raw_body: bytes | None = None,
) -> Receipt:
    with engine.begin() as conn:
        row = (
            driver_connection(conn)
            .execute(
                package_sql(__file__, "store_inbox_event"),
                {
                    "connector": CONNECTOR,
                    "body_sha256": sha,
                    "body": Jsonb(body) if body is not None else None,
                    "raw_body": raw_body,
                    "model": None,
                    "event": None,
                    "record_id": None,
                    "event_at": None,
                    "organisation_id": organisation_id,
                    "status": "rejected",
                    "reason": reason,
                    "attempts": 0,
                },
            )
            .fetchone()
        )
    log.warning(
        "webhook rejected",
        extra={"organisation_id": organisation_id, "reason": reason, "inbox_id": row[0] if row else None},
    )
    return Receipt(http_status, "rejected", row[0] if row else None, reason)


def _apply_stored(pg, inbox_id: int, event: WebhookEvent, organisation_id: int | None) -> tuple[str, str | None, bool]:
    """Apply a stored event and record the outcome: (status, reason, retries exhausted)."""
    try:
        with pg.transaction():  # a savepoint: a failure undoes the apply, never the stored event
            if _send_released_check(pg, organisation_id).fetchone():
                applied = Applied("ignored", _released_reason(organisation_id))
            else:
                applied = apply_event(pg, event, organisation_id)
        status = "applied" if applied.status == "applied" else "ignored"
        reason = applied.reason
    except Exception as error:  # noqa: BLE001 - stored with the event, retried later
        status, reason = _failure_outcome(error, event)
        if isinstance(error, EventContractBreach):
            record_drift(pg, CONNECTOR, error.result)
        _log_failure(error, inbox_id, event, reason)
    given_up = pg.execute(
        package_sql(__file__, "settle_inbox_event"),
        {"id": inbox_id, "status": status, "reason": reason, "max_attempts": MAX_ATTEMPTS},
    ).fetchone()[0]
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
            package_sql(__file__, "due_inbox_events"), {"limit": limit}
        ).fetchall():
            report.retried += 1
            status, _, given_up = _apply_stored(pg, inbox_id, parse_event(body, received_at), organisation_id)
            if status in ("applied", "ignored"):
                report.applied += 1
            else:
                report.still_failing += 1
                if given_up:
                    report.given_up.append(inbox_id)
    return report
