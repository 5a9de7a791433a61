"""The webhook receiver (`sync-assets webhooks serve`): RDV Service Public deliveries, and the
OAuth callback of `sync-assets rdvsp connect`.

`POST /webhooks/rdvsp/{organisation_id}` is the endpoint we install for each organisation: the
delivery must be signed (`X-Lapin-Signature`, HMAC-SHA256 hex of the raw body) with that
organisation's secret, and may only change that organisation's records.
`POST /webhooks/rdvsp` accepts a delivery signed with the secret of any installed endpoint.

Answers: 401 for a missing or wrong signature (nothing stored), 413 for a body over the limit,
400 for a body that is not an event (stored as rejected), 403 for an event about another
organisation (stored as rejected), 200 once the event is durably stored (applied, ignored, or
failed and to be retried), 503 when it could not be stored (RDV Service Public retries).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

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

log = get_logger("rdvsp.receiver")
MAX_BODY_BYTES = 2 * 1024 * 1024  # an RDV with its participants is a few kilobytes
DELIVERIES_PER_PROCESS = 2


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

    def cached(self, organisation_id: int | None) -> dict[int, str] | None:
        """The candidates without reading the database, or None when they must be reread."""
        secrets = self._secrets
        if self._must_reload(secrets, organisation_id):
            return None
        return self._pick(secrets, organisation_id)

    def _must_reload(self, secrets: dict[int, str], organisation_id: int | None) -> bool:
        age = time.monotonic() - self._loaded_at
        # An unknown organisation may have just installed its endpoint; rereading at most once
        # a second keeps deliveries for unknown organisations from costing a query each.
        return age > self.ttl_s or (organisation_id is not None and organisation_id not in secrets
                                    and age > self.miss_reload_s)

    def candidates(self, organisation_id: int | None) -> dict[int, str]:
        with self._lock:
            if self._must_reload(self._secrets, organisation_id):
                self._reload()
            return self._pick(self._secrets, organisation_id)

    @staticmethod
    def _pick(secrets: dict[int, str], organisation_id: int | None) -> dict[int, str]:
        if organisation_id is None:
            return dict(secrets)
        secret = secrets.get(organisation_id)
        return {organisation_id: secret} if secret else {}


def signature_of(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def _signed_by(raw: bytes, signature: str, secrets: dict[int, str]) -> int | None:
    """The organisation whose secret signed `raw`, or None. Compares in constant time."""
    signed_by = None
    for organisation_id, secret in secrets.items():
        if hmac.compare_digest(signature_of(secret, raw), signature):
            signed_by = organisation_id
    return signed_by


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


def build_receiver(engine: Engine, cipher: TokenCipher, settings: RdvspSettings | None = None,
                   max_body_bytes: int = MAX_BODY_BYTES) -> Starlette:
    book = SecretBook(engine, cipher)
    # Two deliveries' transactions at a time per process (one computing while the other waits
    # on Postgres); more threads contending for the interpreter lock made each one's round trips
    # wait behind the others. Worker processes add capacity.
    deliveries_at_once = anyio.CapacityLimiter(DELIVERIES_PER_PROCESS)

    async def rdvsp_webhook(request: Request) -> Response:
        organisation_id = request.path_params.get("organisation_id")
        raw = await _read_body(request, max_body_bytes)
        if raw is None:
            return JSONResponse({"error": f"body over {max_body_bytes} bytes"}, status_code=413)
        signature = (request.headers.get("x-lapin-signature") or "").strip().lower()
        if not signature:
            log.warning("webhook without signature", extra={"organisation_id": organisation_id})
            return JSONResponse({"error": "missing X-Lapin-Signature"}, status_code=401)
        secrets = book.cached(organisation_id)
        if secrets is None:  # a database read: off the event loop
            try:
                secrets = await run_in_threadpool(book.candidates, organisation_id)
            except Exception as error:  # the warehouse is unreachable: the sender must retry
                report_failure(log, error, "webhook secrets could not be read", organisation_id=organisation_id)
                return JSONResponse({"error": "not stored, retry later"}, status_code=503)
        signed_by = _signed_by(raw, signature, secrets)
        if signed_by is None:
            log.warning("webhook with a wrong signature", extra={"organisation_id": organisation_id})
            return JSONResponse({"error": "invalid X-Lapin-Signature"}, status_code=401)
        try:
            receipt = await anyio.to_thread.run_sync(receive, engine, raw, signed_by, limiter=deliveries_at_once)
        except Exception as error:  # not stored: the sender must retry
            report_failure(log, error, "webhook could not be stored", organisation_id=signed_by)
            return JSONResponse({"error": "not stored, retry later"}, status_code=503)
        return JSONResponse({"status": receipt.status, "inbox_id": receipt.inbox_id}, status_code=receipt.http_status)

    async def oauth_callback(request: Request) -> Response:
        state = request.query_params.get("state", "")
        if settings is None:
            return PlainTextResponse("This server is not configured for RDV Service Public (RDVSP_* variables).",
                                     status_code=503)
        try:
            account = await run_in_threadpool(complete_from_callback, engine, settings, cipher, str(request.url), state)
        except AccountError as error:
            return PlainTextResponse(f"Connection failed: {error}", status_code=400)
        return PlainTextResponse(f"RDV Service Public account {account.account_id} connected: you can close this window.")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/webhooks/rdvsp/{organisation_id:int}", rdvsp_webhook, methods=["POST"]),
        Route("/webhooks/rdvsp", rdvsp_webhook, methods=["POST"]),
        Route("/oauth/rdvsp/callback", oauth_callback, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ])


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
