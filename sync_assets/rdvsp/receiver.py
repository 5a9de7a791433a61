"""The webhook receiver (`sync-assets webhooks serve`): RDV Service Public deliveries, and the
OAuth callback of `sync-assets rdvsp connect`.

`POST /webhooks/rdvsp/{organisation_id}` is the endpoint we install for each organisation: the
delivery must be signed (`X-Lapin-Signature`, HMAC-SHA256 hex of the raw body) with that
organisation's secret, and may only change that organisation's records.

Refusing a forged request costs at most one HMAC, whatever the number of organisations: only the
secret of the organisation in the URL is tried (a path without one answers 404 at once), and the
HMAC runs in a worker thread, never on the event loop. Refusals are counted and logged together,
at most once a minute, not one line each.

Answers: 401 for a missing or wrong signature (nothing stored), 413 for a body over the limit,
400 for a body that is not an event (stored as rejected), 403 for an event about another
organisation (stored as rejected), 200 once the event is durably stored (applied, ignored, or
failed and to be retried), 503 when it could not be stored (RDV Service Public retries).

`GET /metrics` shows deliveries by model and outcome, apply latency, the inbox backlog and the
age of each organisation's last delivery, in Prometheus' format (see receiver_metrics).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sync_assets.platform.merge import driver_connection
from sync_assets.platform.observability import get_logger, report_failure
from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.sql_files import package_sql
from sync_assets.rdvsp.inbox import receive
from sync_assets.rdvsp.oauth import AccountError, RdvspSettings, complete_from_callback
from sync_assets.rdvsp.receiver_metrics import ReceiverMetrics

log = get_logger("rdvsp.receiver")
MAX_BODY_BYTES = 2 * 1024 * 1024  # an RDV with its participants is a few kilobytes
DELIVERIES_PER_PROCESS = 2
SIGNATURE_CHECKS_PER_PROCESS = 2
TOO_LARGE = "body too large"


class SecretBook:
    """Our endpoints' secrets, by organisation, reread every `ttl_s` (and on a miss, at most
    every `miss_reload_s`)."""

    def __init__(self, engine: Engine, cipher: TokenCipher, ttl_s: float = 30.0, miss_reload_s: float = 1.0):
        self.engine, self.cipher, self.ttl_s, self.miss_reload_s = engine, cipher, ttl_s, miss_reload_s
        self._secrets: dict[int, str] = {}
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def _reload(self) -> None:
        with self.engine.connect() as conn:
            rows = driver_connection(conn).execute(package_sql(__file__, "webhook_secrets")).fetchall()
        self._secrets = {org: self.cipher.decrypt(secret) for org, secret in rows}
        self._loaded_at = time.monotonic()

    def cached(self, organisation_id: int) -> dict[int, str] | None:
        """The candidates without reading the database, or None when they must be reread."""
        secrets = self._secrets
        if self._must_reload(secrets, organisation_id):
            return None
        return self._pick(secrets, organisation_id)

    def _must_reload(self, secrets: dict[int, str], organisation_id: int) -> bool:
        age = time.monotonic() - self._loaded_at
        # An unknown organisation may have just installed its endpoint; rereading at most once
        # a second keeps deliveries for unknown organisations from costing a query each.
        return age > self.ttl_s or (organisation_id not in secrets and age > self.miss_reload_s)

    def candidates(self, organisation_id: int) -> dict[int, str]:
        with self._lock:
            if self._must_reload(self._secrets, organisation_id):
                self._reload()
            return self._pick(self._secrets, organisation_id)

    @staticmethod
    def _pick(secrets: dict[int, str], organisation_id: int) -> dict[int, str]:
        secret = secrets.get(organisation_id)
        return {organisation_id: secret} if secret else {}


class Refusals:
    """Deliveries refused before anything is stored (no or wrong signature, unknown organisation,
    too large), counted by reason. The first of a quiet spell is logged at once; the rest are
    logged together, at most once per `interval_s`: a flood of forged requests costs a line a
    minute, not a line each."""

    def __init__(
        self,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        metrics: ReceiverMetrics | None = None,
    ):
        self.interval_s, self.clock, self.metrics = interval_s, clock, metrics
        self.total: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()
        self._logged_at: float | None = None
        self._lock = threading.Lock()

    def note(self, reason: str, organisation_id: int | None) -> None:
        if self.metrics is not None:
            self.metrics.refused("oversized" if reason == TOO_LARGE else "unauthorised")
        now = self.clock()
        with self._lock:
            self.total[reason] += 1
            if self._logged_at is None or now - self._logged_at >= self.interval_s:
                pending, self._pending = self._pending + Counter({reason: 1}), Counter()
                self._logged_at = now
            else:
                self._pending[reason] += 1
                pending = None
        log.debug("webhook refused", extra={"reason": reason, "organisation_id": organisation_id})
        if pending:
            log.warning(
                "webhook deliveries refused (further refusals are counted and logged once a minute)",
                extra={"refused": dict(pending)},
            )


def signature_of(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def _signed_with(raw: bytes, signature: str, secret: str) -> bool:
    """Whether `secret` signed `raw` (compared in constant time). CPU-bound: call it off the loop."""
    return hmac.compare_digest(signature_of(secret, raw), signature)


async def _read_body(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def build_receiver(
    engine: Engine, cipher: TokenCipher, settings: RdvspSettings | None = None, max_body_bytes: int = MAX_BODY_BYTES
) -> Starlette:
    metrics = ReceiverMetrics(engine)
    refusals = Refusals(metrics=metrics)
    deliveries = _delivery_endpoint(engine, SecretBook(engine, cipher), refusals, metrics, max_body_bytes)
    return Starlette(
        routes=[
            Route("/webhooks/rdvsp/{organisation_id:int}", deliveries, methods=["POST"]),
            Route("/webhooks/rdvsp", _without_organisation_endpoint(refusals), methods=["POST"]),
            Route("/oauth/rdvsp/callback", _oauth_callback_endpoint(engine, cipher, settings), methods=["GET"]),
            Route("/health", _health, methods=["GET"]),
            Route("/metrics", _metrics_endpoint(metrics), methods=["GET"]),
        ]
    )


def _delivery_endpoint(
    engine: Engine, book: SecretBook, refusals: Refusals, metrics: ReceiverMetrics, max_body_bytes: int
) -> Callable[[Request], Awaitable[Response]]:
    """`POST /webhooks/rdvsp/{organisation_id}`: check the signature, then store and apply the event."""
    # Two deliveries' transactions at a time per process (one computing while the other waits
    # on Postgres); more threads contending for the interpreter lock made each one's round trips
    # wait behind the others. Worker processes add capacity.
    deliveries_at_once = anyio.CapacityLimiter(DELIVERIES_PER_PROCESS)
    # Signature checks have threads of their own: a flood of forged bodies waits behind them, and
    # never takes the threads that store real deliveries.
    signature_checks = anyio.CapacityLimiter(SIGNATURE_CHECKS_PER_PROCESS)

    async def rdvsp_webhook(request: Request) -> Response:
        organisation_id = request.path_params["organisation_id"]
        signature = (request.headers.get("x-lapin-signature") or "").strip().lower()
        if not signature:  # refused before the body is read
            refusals.note("missing signature", organisation_id)
            return JSONResponse({"error": "missing X-Lapin-Signature"}, status_code=401)
        secrets = book.cached(organisation_id)
        if secrets is None:  # a database read: off the event loop
            try:
                secrets = await run_in_threadpool(book.candidates, organisation_id)
            except Exception as error:  # the warehouse is unreachable: the sender must retry
                metrics.refused("not_stored")
                report_failure(log, error, "webhook secrets could not be read", organisation_id=organisation_id)
                return JSONResponse({"error": "not stored, retry later"}, status_code=503)
        secret = secrets.get(organisation_id)
        if secret is None:  # no endpoint of ours there: refused before the body is read
            refusals.note("unknown organisation", organisation_id)
            return JSONResponse({"error": "invalid X-Lapin-Signature"}, status_code=401)
        raw = await _read_body(request, max_body_bytes)
        if raw is None:
            refusals.note(TOO_LARGE, organisation_id)
            return JSONResponse({"error": f"body over {max_body_bytes} bytes"}, status_code=413)
        if not await anyio.to_thread.run_sync(_signed_with, raw, signature, secret, limiter=signature_checks):
            refusals.note("wrong signature", organisation_id)
            return JSONResponse({"error": "invalid X-Lapin-Signature"}, status_code=401)
        started = time.perf_counter()
        try:
            receipt = await anyio.to_thread.run_sync(receive, engine, raw, organisation_id, limiter=deliveries_at_once)
        except Exception as error:  # not stored: the sender must retry
            metrics.refused("not_stored")
            report_failure(log, error, "webhook could not be stored", organisation_id=organisation_id)
            return JSONResponse({"error": "not stored, retry later"}, status_code=503)
        metrics.received(receipt, organisation_id, time.perf_counter() - started)
        return JSONResponse({"status": receipt.status, "inbox_id": receipt.inbox_id}, status_code=receipt.http_status)

    return rdvsp_webhook


def _without_organisation_endpoint(refusals: Refusals) -> Callable[[Request], Awaitable[Response]]:
    async def without_organisation(request: Request) -> Response:
        refusals.note("no organisation in the path", None)
        return JSONResponse(
            {
                "error": "deliveries go to /webhooks/rdvsp/<organisation id>, the endpoint installed "
                "for each organisation"
            },
            status_code=404,
        )

    return without_organisation


def _oauth_callback_endpoint(
    engine: Engine, cipher: TokenCipher, settings: RdvspSettings | None
) -> Callable[[Request], Awaitable[Response]]:
    """The redirect URI of `sync-assets rdvsp connect`, when the webhook server serves it."""

    async def oauth_callback(request: Request) -> Response:
        state = request.query_params.get("state", "")
        if settings is None:
            return PlainTextResponse(
                "This server is not configured for RDV Service Public (RDVSP_* variables).", status_code=503
            )
        try:
            account = await run_in_threadpool(complete_from_callback, engine, settings, cipher, str(request.url), state)
        except AccountError as error:
            return PlainTextResponse(f"Connection failed: {error}", status_code=400)
        return PlainTextResponse(
            f"RDV Service Public account {account.account_id} connected: you can close this window."
        )

    return oauth_callback


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _metrics_endpoint(metrics: ReceiverMetrics) -> Callable[[Request], Awaitable[Response]]:
    async def scrape(request: Request) -> Response:
        # Reads the warehouse (the inbox backlog): off the event loop, as deliveries are.
        body, content_type = await run_in_threadpool(metrics.exposition, request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return scrape


def app_from_environment() -> Starlette:
    """The receiver configured from the environment (each worker process builds its own)."""
    from sync_assets.platform.errors import ConfigurationError
    from sync_assets.platform.observability import configure_logging, init_sentry
    from sync_assets.platform.warehouse import database_url, engine_for

    configure_logging()
    init_sentry()
    try:
        settings = RdvspSettings.from_environment()
    except ConfigurationError:
        settings = None  # webhooks still work; only the OAuth callback needs the application
    return build_receiver(engine_for(database_url(), low_latency=True), TokenCipher.from_environment(), settings)
