"""Write-back: the outbox `rdvsp.write_requests`, delivered to RDV Service Public (job `rdvsp_write_back`).

A host application inserts a request; the sensor `rdvsp_write_requests` starts this job, which
sends the due requests oldest first, with the account's token through the platform's HTTP client
(timeouts, retries, Retry-After, the token refreshed when needed), and records each outcome.

- `rdv_status` (payload `rdv_id`, `status`): `PATCH /rdvs/{id}/update_status`. Once accepted, the
  RDV is read back and merged like a webhook event stamped with the time of that read, so an
  older webhook still in flight is stale and the one RDV Service Public sends for this change
  changes nothing. If the read fails, the status alone is written (RDV and participations).
- `rdv_plan` (payload `user_id` or `beneficiaire_id`, optional `return_url`, `dossier_url`):
  `POST /rdv_plans` with the person's details as the warehouse holds them at sending time (the
  payload holds ids only). The plan is stored (`rdvsp.rdv_plans`), the user it is for is read and
  merged, and a beneficiary it was made for is linked to that user. Plans without an RDV are
  looked up again by later runs.

One run delivers at a time in the deployment (an advisory lock held by a session, not a
transaction), so requests go out in the order they were made and a request is in one run's
hands only. Each request is marked `sending` and committed before the API is called; the answer
is recorded in one short transaction. When a run dies between the API's answer and that commit,
the request stays `sending` and the next run settles it:
- a status is sent again (at least once; the same status twice is one change);
- a plan is never sent twice (each POST makes a plan): it fails, saying that the API may have
  created it (at most once, and the doubt is recorded).
Failures the API may retry (5xx, timeouts) leave a request pending with a growing delay, up to
MAX_ATTEMPTS sends; a refusal (403, 404, 422) or an unusable account fails it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import psycopg
from psycopg.rows import class_row, dict_row, namedtuple_row
from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from sync_assets.platform.contract import validate_batch
from sync_assets.platform.errors import ApiError, SyncError
from sync_assets.platform.merge import driver_connection, merge_values
from sync_assets.platform.observability import get_logger, report_failure
from sync_assets.platform.sql_files import package_sql
from sync_assets.platform.warehouse import libpq_url
from sync_assets.rdvsp import models, tables
from sync_assets.rdvsp.client import RdvspClient
from sync_assets.rdvsp.oauth import AccountError, unusable_account
from sync_assets.rdvsp.webhooks import WebhookEvent, apply_event

log = get_logger("rdvsp.write_back")

WRITE_BACK_LOCK = 0x5752_4954  # "WRIT": one write-back run at a time per warehouse
MAX_ATTEMPTS = 6
FIRST_RETRY_DELAY = timedelta(minutes=1)  # then 4, 16, 64 minutes…
PLAN_LOOKUP_GIVE_UP_DAYS = 30


@dataclass(frozen=True)
class Request:
    id: int
    account_id: int
    kind: str
    payload: dict
    attempts: int
    account_status: str


@dataclass(frozen=True)
class Outcome:
    status: str  # done | failed | pending (retry later)
    error: str | None = None
    result: dict | None = None
    # The warehouse's side of a success, written in the transaction that records it.
    apply: Callable[[psycopg.Connection], None] | None = None


class WriteRequestFailed(SyncError):
    """A write request failed for good (its error says why: ids, statuses, field names)."""


@dataclass
class WriteBackReport:
    done: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    interrupted: list[int] = field(default_factory=list)  # found 'sending', left by a run that died
    plans_checked: int = 0
    plans_with_rdv: int = 0


class WriteBack:
    """One run of the outbox. `client_for(account_id)` gives the account's API client."""

    def __init__(
        self, engine: Engine, client_for: Callable[[int], RdvspClient], emit: Callable[[str], None] = log.info
    ):
        self.engine, self.client_for, self.emit = engine, client_for, emit
        self._clients: dict[int, RdvspClient] = {}

    def run(self, request_ids: list[int] | None = None, limit: int = 200) -> WriteBackReport:
        report = WriteBackReport()
        conninfo = libpq_url(self.engine.url.render_as_string(hide_password=False))
        try:
            with psycopg.connect(conninfo, autocommit=True) as session:
                self._take_lock(session)
                self._settle_interrupted(session, report)
                with session.cursor(row_factory=class_row(Request)) as cur:
                    due = cur.execute(
                        package_sql(__file__, "due_write_requests"), {"ids": request_ids, "limit": limit}
                    ).fetchall()
                for request in due:
                    self._deliver(session, request, report)
                if request_ids is None:
                    self._check_plans(report, limit)
        finally:
            for client in self._clients.values():
                client.close()
        return report

    # --- the run ------------------------------------------------------------------------

    def _take_lock(self, session: psycopg.Connection) -> None:
        lock = {"key": WRITE_BACK_LOCK}
        if not session.execute(package_sql(__file__, "try_write_back_lock"), lock).fetchone()[0]:
            self.emit("another write-back run is delivering: waiting for it to finish")
            session.execute(package_sql(__file__, "wait_for_write_back_lock"), lock)

    def _settle_interrupted(self, session: psycopg.Connection, report: WriteBackReport) -> None:
        for request_id, kind in session.execute(package_sql(__file__, "settle_interrupted_write_requests")):
            report.interrupted.append(request_id)
            if kind == "rdv_plan":
                report_failure(
                    log,
                    WriteRequestFailed("a plan request was interrupted after it was sent"),
                    "write request interrupted: the plan may exist",
                    write_request_id=request_id,
                )
            else:
                log.warning("write request interrupted: it is sent again", extra={"write_request_id": request_id})

    def _deliver(self, session: psycopg.Connection, request: Request, report: WriteBackReport) -> None:
        if request.account_status != "active":
            unusable = unusable_account(request.account_id, request.account_status, None)
            self._record(request, Outcome("failed", str(unusable)), report)
            return
        if session.execute(package_sql(__file__, "mark_write_request_sending"), {"id": request.id}).fetchone() is None:
            return  # settled meanwhile (a host application cancelled it, say)
        try:
            outcome = self._send_status(request) if request.kind == "rdv_status" else self._send_plan(request)
        except AccountError as error:
            outcome = Outcome("failed", str(error))
        except ApiError as error:
            outcome = self._after_api_error(request, error)
        self._record(request, outcome, report)

    def _record(self, request: Request, outcome: Outcome, report: WriteBackReport) -> None:
        """The outcome, with the warehouse's side of a success, in one short transaction."""
        retry_at = None
        if outcome.status == "pending":
            retry_at = datetime.now(timezone.utc) + FIRST_RETRY_DELAY * 4 ** max(0, request.attempts)
        with self.engine.begin() as conn:
            pg = driver_connection(conn)
            if outcome.apply is not None:
                outcome.apply(pg)
            pg.execute(
                package_sql(__file__, "settle_write_request"),
                {
                    "id": request.id,
                    "status": outcome.status,
                    "error": outcome.error,
                    "result": Jsonb(outcome.result) if outcome.result is not None else None,
                    "next_attempt_at": retry_at,
                },
            )
        {"done": report.done, "failed": report.failed, "pending": report.retrying}[outcome.status].append(request.id)
        extra = {"write_request_id": request.id, "account_id": request.account_id, "kind": request.kind}
        if outcome.status == "failed":
            report_failure(log, WriteRequestFailed(outcome.error or "failed"), "write request failed", **extra)
        else:
            log.debug(f"write request {outcome.status}", extra=extra)

    def _after_api_error(self, request: Request, error: ApiError) -> Outcome:
        if request.kind == "rdv_plan" and error.outcome_unknown:
            return Outcome(
                "failed",
                f"{error} RDV Service Public may have created the plan: check with the agent before asking again.",
            )
        if request.attempts + 1 >= MAX_ATTEMPTS:
            return Outcome("failed", f"{error} (gave up after {MAX_ATTEMPTS} attempts)")
        return Outcome("pending", str(error))

    def _client(self, account_id: int) -> RdvspClient:
        client = self._clients.get(account_id)
        if client is None:
            client = self._clients[account_id] = self.client_for(account_id)
        return client

    # --- attendance status --------------------------------------------------------------

    def _send_status(self, request: Request) -> Outcome:
        rdv_id, status = int(request.payload["rdv_id"]), request.payload["status"]
        client = self._client(request.account_id)
        sent_at = datetime.now(timezone.utc)
        response = client.update_rdv_status(rdv_id, status)
        if not response.is_success:
            return Outcome("failed", _refusal(f"PATCH /api/v1/rdvs/{rdv_id}/update_status", response))
        read_at = datetime.now(timezone.utc)
        try:
            payload = client.rdv(rdv_id)
        except ApiError as error:
            log.warning("RDV not read back after its status changed", extra={"rdv_id": rdv_id, "reason": str(error)})
            payload = None

        def apply(pg: psycopg.Connection) -> None:
            if payload is not None:  # the RDV as it is now, versioned by the time it was read
                apply_event(pg, WebhookEvent("Rdv", "updated", rdv_id, read_at, None, payload))
            else:
                pg.execute(
                    package_sql(__file__, "set_rdv_status_here"), {"rdv_id": rdv_id, "status": status, "at": sent_at}
                )

        return Outcome("done", None, {"rdv_id": rdv_id, "status": status}, apply)

    # --- RDV plans ----------------------------------------------------------------------

    def _send_plan(self, request: Request) -> Outcome:
        body, beneficiaire_id, problem = self._plan_body(request)
        if problem:
            return Outcome("failed", problem)
        client = self._client(request.account_id)
        response, answer = client.create_rdv_plan(body)
        if not response.is_success:
            return Outcome("failed", _refusal("POST /api/v1/rdv_plans", response, answer))
        result = validate_batch(
            models.RdvPlan, [answer.get("rdv_plan") if isinstance(answer, dict) else None], entity="rdv_plans"
        )
        if not result.valid:
            return Outcome(
                "failed",
                "POST /api/v1/rdv_plans answered without a plan (id, url, user_id): the plan "
                "may exist; check with the agent before asking again.",
            )
        plan = result.valid[0]
        user_at = datetime.now(timezone.utc)
        try:
            user = client.user(plan.user_id).get("user")
        except ApiError as error:
            log.warning("the plan's user could not be read", extra={"rdv_plan_id": plan.id, "reason": str(error)})
            user = None
        return Outcome(
            "done",
            None,
            {
                "rdv_plan_id": plan.id,
                "url": plan.url,
                "user_id": plan.user_id,
                "rdv_id": plan.rdv.id if plan.rdv else None,
                "beneficiaire_id": beneficiaire_id,
            },
            lambda pg: self._store_plan(pg, request, plan, beneficiaire_id, user, user_at),
        )

    def _plan_body(self, request: Request) -> tuple[dict, int | None, str | None]:
        """The POST body, the beneficiary it is for (if any), or why it cannot be sent."""
        payload = request.payload
        urls = {k: payload[k] for k in ("return_url", "dossier_url") if isinstance(payload.get(k), str)}
        with self.engine.connect() as conn:
            pg = driver_connection(conn)
            if "user_id" in payload:
                with pg.cursor(row_factory=dict_row) as cur:
                    cur.execute(package_sql(__file__, "rdv_plan_user"), {"user_id": payload["user_id"]})
                    person = cur.fetchone() or {}
                return {"user": _present({"id": payload["user_id"], **person}), **urls}, None, None
            beneficiaire_id = payload["beneficiaire_id"]
            with pg.cursor(row_factory=namedtuple_row) as cur:
                beneficiary = cur.execute(
                    package_sql(__file__, "rdv_plan_beneficiaire"), {"beneficiaire_id": beneficiaire_id}
                ).fetchone()
        if beneficiary is None or beneficiary.account_id != request.account_id:
            return {}, None, f"beneficiary {beneficiaire_id} is not a beneficiary of account {request.account_id}"
        if beneficiary.anonymised_at is not None:
            return {}, None, f"beneficiary {beneficiaire_id} is anonymised: a plan needs a person"
        if beneficiary.rdv_user_id is None and not (beneficiary.first_name and beneficiary.last_name):
            return {}, None, f"beneficiary {beneficiaire_id} has no first and last name, which a plan needs"
        user = _present(
            {
                "id": beneficiary.rdv_user_id,
                "first_name": beneficiary.first_name,
                "last_name": beneficiary.last_name,
                "email": beneficiary.email,
                "phone_number": beneficiary.phone,
                "address": beneficiary.address,
            }
        )
        return {"user": user, **urls}, beneficiaire_id, None

    def _store_plan(
        self,
        pg: psycopg.Connection,
        request: Request,
        plan: models.RdvPlan,
        beneficiaire_id: int | None,
        user: Any,
        user_at: datetime,
    ) -> None:
        """Store the plan and its user, and link the beneficiary it was made for (unless another
        beneficiary of the account already is linked to that user)."""
        pg.execute(
            package_sql(__file__, "save_rdv_plan"),
            {
                "id": plan.id,
                "account_id": request.account_id,
                "user_id": plan.user_id,
                "beneficiaire_id": beneficiaire_id,
                "url": plan.url,
                "rdv_id": plan.rdv.id if plan.rdv else None,
                "write_request_id": request.id,
                "created_at": plan.created_at,
                "next_check_at": None if plan.rdv else datetime.now(timezone.utc) + timedelta(minutes=15),
            },
        )
        if isinstance(user, dict):
            apply_event(pg, WebhookEvent("User", "updated", plan.user_id, user_at, None, user))
            profiles = [
                (p["organisation"]["id"], plan.user_id, user_at)
                for p in user.get("user_profiles") or []
                if isinstance(p, dict)
                and isinstance(p.get("organisation"), dict)
                and isinstance(p["organisation"].get("id"), int)
            ]
            merge_values(pg, tables.USER_PROFILES, profiles)
        if beneficiaire_id is not None:
            pg.execute(
                package_sql(__file__, "link_beneficiaire_to_rdv_user"),
                {"beneficiaire_id": beneficiaire_id, "user_id": plan.user_id},
            )

    def _check_plans(self, report: WriteBackReport, limit: int) -> None:
        """Plans still without an RDV, looked up again when due."""
        with self.engine.connect() as conn:
            due = (
                driver_connection(conn)
                .execute(package_sql(__file__, "rdv_plans_to_check"), {"limit": limit})
                .fetchall()
            )
        for plan_id, account_id in due:
            try:
                response, answer = self._client(account_id).rdv_plan(plan_id)
            except (ApiError, AccountError) as error:
                log.warning("RDV plan not looked up", extra={"rdv_plan_id": plan_id, "reason": str(error)})
                continue
            rdv = (
                (answer.get("rdv_plan") or {}).get("rdv") if response.is_success and isinstance(answer, dict) else None
            )
            rdv_id = rdv.get("id") if isinstance(rdv, dict) and isinstance(rdv.get("id"), int) else None
            with self.engine.begin() as conn:
                driver_connection(conn).execute(
                    package_sql(__file__, "save_rdv_plan_check"),
                    {"id": plan_id, "rdv_id": rdv_id, "give_up_days": PLAN_LOOKUP_GIVE_UP_DAYS},
                )
            report.plans_checked += 1
            report.plans_with_rdv += rdv_id is not None


def _present(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


def _refusal(what: str, response: httpx.Response, body: Any = None) -> str:
    """Why the API refused a write: the status, and the names of the fields it found wrong (never
    their values, which may be a person's)."""
    if body is None:
        try:
            body = response.json()
        except ValueError:
            body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    fields = f" (fields: {', '.join(sorted(map(str, errors)))})" if isinstance(errors, dict) and errors else ""
    return f"{what} was refused with HTTP {response.status_code}{fields}"


@dataclass(frozen=True)
class WriteRequest:
    """A row of the outbox, as the command line reports it."""

    id: int
    account_id: int
    kind: str
    status: str
    attempts: int
    error: str | None
    result: dict | None
    next_attempt_at: datetime | None


def queue_write_request(engine: Engine, account_id: int, kind: str, payload: dict) -> int:
    """Insert a request into the outbox, as a host application does; its id."""
    try:
        with engine.begin() as conn:
            return (
                driver_connection(conn)
                .execute(
                    package_sql(__file__, "insert_write_request"),
                    {"account_id": account_id, "kind": kind, "payload": Jsonb(payload)},
                )
                .fetchone()[0]
            )
    except psycopg.errors.ForeignKeyViolation:
        raise AccountError(
            f"There is no RDV Service Public account {account_id}: connect it with `sync-assets rdvsp connect`."
        ) from None
    except psycopg.errors.CheckViolation:
        raise WriteRequestFailed(f"A {kind} request needs {PAYLOADS[kind]}.") from None


PAYLOADS = {
    "rdv_status": "an rdv_id (a number) and a status among seen, noshow, excused, revoked",
    "rdv_plan": "either a user_id or a beneficiaire_id (a number), not both",
}


def write_request(engine: Engine, request_id: int) -> WriteRequest | None:
    with engine.connect() as conn, driver_connection(conn).cursor(row_factory=class_row(WriteRequest)) as cur:
        return cur.execute(package_sql(__file__, "write_request_outcome"), {"id": request_id}).fetchone()
