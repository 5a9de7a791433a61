"""OAuth 2.0 agent accounts: connecting one, and keeping its access token valid.

Connecting is the authorization-code flow with PKCE (authlib builds and parses the protocol
messages; our HTTP client sends them). Tokens are stored encrypted in `rdvsp.accounts`.

An access token is refreshed when it expires within a minute, or after the API refused it
(401). Refreshing takes the account's row lock, so there is one refresh at a time per account
across threads and processes; a caller that waited reuses the token the other one stored. This
matters because a refresh token is spent once used: two concurrent refreshes with the same
one would lose the account.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlparse

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.errors import MismatchingStateException, MissingCodeException
from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response, prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine

from sync_assets.platform.errors import ApiError, SyncError
from sync_assets.platform.http import ApiClient, RetryPolicy
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.observability import get_logger
from sync_assets.platform.secrets import TokenCipher, require_env
from sync_assets.platform.sql_files import package_sql

log = get_logger("rdvsp.oauth")

REFRESH_MARGIN_S = 60
DEFAULT_TOKEN_LIFETIME_S = 7200  # Doorkeeper's default, when the response omits expires_in
DEFAULT_WEBHOOK_PORT = 8787
DEFAULT_REDIRECT_URI = f"http://127.0.0.1:{DEFAULT_WEBHOOK_PORT}/oauth/rdvsp/callback"


class AccountError(SyncError):
    """The account cannot be used until someone reconnects it."""


def unusable_account(account_id: int, status: str, error: str | None) -> AccountError:
    """Why an account that is not active cannot be used, and what to do."""
    if status == "disconnected":
        return AccountError(
            f"RDV Service Public account {account_id} is disconnected: reconnect it with "
            "`sync-assets rdvsp connect` to use it again."
        )
    return AccountError(
        f"RDV Service Public account {account_id} is in error: {error} Reconnect it with `sync-assets rdvsp connect`."
    )


@dataclass(frozen=True)
class RdvspSettings:
    base_url: str
    client_id: str
    client_secret: str
    redirect_uri: str = DEFAULT_REDIRECT_URI
    webhook_url: str | None = None

    @classmethod
    def from_environment(cls) -> RdvspSettings:
        return cls(
            base_url=require_env("RDVSP_BASE_URL", "the RDV Service Public server, e.g. https://rdv.anct.gouv.fr"),
            client_id=require_env("RDVSP_CLIENT_ID", "the OAuth client id of our RDV Service Public application"),
            client_secret=require_env("RDVSP_CLIENT_SECRET", "the OAuth client secret of that application"),
            redirect_uri=os.environ.get("RDVSP_REDIRECT_URI") or DEFAULT_REDIRECT_URI,
            webhook_url=os.environ.get("RDVSP_WEBHOOK_URL") or None,
        )

    def http(self, **kwargs) -> ApiClient:
        return ApiClient("rdvsp", self.base_url.rstrip("/"), **kwargs)


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scope: str | None

    @classmethod
    def from_response(cls, body: dict, previous_refresh_token: str | None = None) -> Tokens:
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AccountError("The token endpoint answered without an access token.")
        lifetime = body.get("expires_in") or DEFAULT_TOKEN_LIFETIME_S
        return cls(
            access_token=body["access_token"],
            # A refresh response without a refresh token means: keep using the previous one.
            refresh_token=body.get("refresh_token") or previous_refresh_token,
            expires_at=datetime.now(timezone.utc) + timedelta(seconds=float(lifetime)),
            scope=body.get("scope"),
        )


def _token_request(http: ApiClient, settings: RdvspSettings, **fields: str) -> tuple[int, dict]:
    form = {"client_id": settings.client_id, "client_secret": settings.client_secret, **fields}
    response, body = http.request(
        "POST", "/oauth/token", form=form, expect_json=True, handled_statuses=frozenset({400, 401})
    )
    return response.status_code, body if isinstance(body, dict) else {}


@dataclass(frozen=True)
class Revocation:
    revoked: bool
    problem: str | None = None  # why the tokens could not be revoked (statuses and paths only)


def revoke_tokens(settings: RdvspSettings, tokens: list[tuple[str, str]], http: ApiClient | None = None) -> Revocation:
    """Revoke `(token, token_type_hint)` pairs at the API (OAuth 2.0 token revocation, RFC 7009).

    The server answers 200 for a token it revoked, did not know, or had already revoked; a server
    without revocation answers 404.
    """
    owned = http is None
    http = http or settings.http(retry=RetryPolicy(attempts=3))
    try:
        for token, hint in tokens:
            form = {
                "token": token,
                "token_type_hint": hint,
                "client_id": settings.client_id,
                "client_secret": settings.client_secret,
            }
            try:
                response, body = http.request(
                    "POST",
                    "/oauth/revoke",
                    form=form,
                    expect_json=False,
                    handled_statuses=frozenset({400, 401, 403, 404}),
                )
            except ApiError as error:
                return Revocation(False, f"the revocation endpoint did not answer ({error})")
            if response.status_code == 404:
                return Revocation(
                    False, "this RDV Service Public server offers no token revocation (POST /oauth/revoke answered 404)"
                )
            if response.status_code != 200:
                return Revocation(
                    False,
                    f"POST /oauth/revoke refused our client (HTTP {response.status_code}): "
                    "check RDVSP_CLIENT_ID and RDVSP_CLIENT_SECRET",
                )
    finally:
        if owned:
            http.close()
    return Revocation(True)


# --- connecting an account ----------------------------------------------------------------


@dataclass(frozen=True)
class ConnectedAccount:
    account_id: int
    sync_from: date


@dataclass(frozen=True)
class PendingAuthorization:
    url: str
    state: str
    verifier: str


def begin_authorization(settings: RdvspSettings) -> PendingAuthorization:
    """The authorize URL for a new authorization, with its state and PKCE verifier."""
    state, verifier = generate_token(30), generate_token(64)
    url = prepare_grant_uri(
        f"{settings.base_url.rstrip('/')}/oauth/authorize",
        settings.client_id,
        "code",
        redirect_uri=settings.redirect_uri,
        scope="write",
        state=state,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return PendingAuthorization(url, state, verifier)


def finish_authorization(
    engine: Engine,
    settings: RdvspSettings,
    cipher: TokenCipher,
    callback_url: str,
    pending: PendingAuthorization,
    sync_from: date,
) -> ConnectedAccount:
    """Exchange the code of `callback_url` and store the account's tokens."""
    try:
        code = parse_authorization_code_response(callback_url, state=pending.state)["code"]
    except MismatchingStateException:
        raise AccountError(
            "The authorization answer does not carry our state: it was not the answer to this "
            "request. Run `sync-assets rdvsp connect` again."
        ) from None
    except MissingCodeException:
        raise AccountError("The authorization was refused or cancelled (no code in the answer).") from None
    with settings.http(retry=RetryPolicy(attempts=3)) as http:
        status, body = _token_request(
            http,
            settings,
            grant_type="authorization_code",
            code=code,
            redirect_uri=settings.redirect_uri,
            code_verifier=pending.verifier,
        )
        if status != 200:
            raise AccountError(
                f"The token endpoint refused the authorization code ({body.get('error', status)}). "
                "Check RDVSP_CLIENT_ID, RDVSP_CLIENT_SECRET and RDVSP_REDIRECT_URI."
            )
        tokens = Tokens.from_response(body)
        _, me = http.request(
            "GET", "/api/v1/agents/me", expect_json=True, headers={"Authorization": f"Bearer {tokens.access_token}"}
        )
    try:
        account_id = int(me["agent"]["id"])
    except (KeyError, TypeError, ValueError):
        raise AccountError("/api/v1/agents/me did not return an agent id.") from None
    with engine.begin() as conn:
        driver_connection(conn).execute(
            package_sql(__file__, "upsert_account"),
            {
                "account_id": account_id,
                "base_url": settings.base_url.rstrip("/"),
                "access_token": cipher.encrypt(tokens.access_token),
                "refresh_token": cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
                "expires_at": tokens.expires_at,
                "scope": tokens.scope,
                "sync_from": sync_from,
            },
        )
    log.info("account connected", extra={"account_id": account_id, "sync_from": sync_from.isoformat()})
    return ConnectedAccount(account_id, sync_from)


def connect(
    engine: Engine,
    settings: RdvspSettings,
    cipher: TokenCipher,
    *,
    sync_from: date,
    unattended: bool,
    wait_for_callback: Callable[[str, str], str] | None = None,
    show: Callable[[str], None] = print,
) -> ConnectedAccount:
    """Run the authorization-code flow and store the account's tokens.

    unattended: follow the authorize redirect ourselves (servers that approve at once).
    Otherwise print the URL and wait for the browser to come back to the redirect URI: on our
    own listener, or, when the webhook server holds that address, through it (see
    `complete_from_callback`).
    """
    pending = begin_authorization(settings)
    if unattended:
        with settings.http(retry=RetryPolicy(attempts=3)) as http:
            callback_url = _follow_authorize_redirect(http, pending.url, settings.redirect_uri)
        return finish_authorization(engine, settings, cipher, callback_url, pending, sync_from)
    show(f"Open this URL in a browser and approve the access:\n\n  {pending.url}\n")
    if wait_for_callback is not None:
        return finish_authorization(
            engine, settings, cipher, wait_for_callback(settings.redirect_uri, pending.state), pending, sync_from
        )
    if _address_free(settings.redirect_uri):
        callback_url = receive_callback(settings.redirect_uri, pending.state)
        return finish_authorization(engine, settings, cipher, callback_url, pending, sync_from)
    return _through_webhook_server(engine, cipher, pending, sync_from)


def _address_free(redirect_uri: str) -> bool:
    parsed = urlparse(redirect_uri)
    with socket.socket() as probe:
        try:
            probe.bind((parsed.hostname or "127.0.0.1", parsed.port or 80))
        except OSError:
            return False
    return True


def _through_webhook_server(
    engine: Engine, cipher: TokenCipher, pending: PendingAuthorization, sync_from: date, timeout_s: float = 600
) -> ConnectedAccount:
    """The redirect URI is served by `sync-assets webhooks serve`: hand it the pending authorization."""
    with engine.begin() as conn:
        driver_connection(conn).execute(
            package_sql(__file__, "save_pending_authorization"),
            {"state": pending.state, "verifier": cipher.encrypt(pending.verifier), "sync_from": sync_from},
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            done, account_id, error = (
                driver_connection(conn)
                .execute(package_sql(__file__, "pending_authorization_outcome"), {"state": pending.state})
                .fetchone()
            )
        if done:
            if error:
                raise AccountError(error)
            return ConnectedAccount(account_id, sync_from)
        time.sleep(0.5)
    raise AccountError(f"No answer within {timeout_s:.0f} s: was the URL opened and the access approved?")


def complete_from_callback(
    engine: Engine, settings: RdvspSettings, cipher: TokenCipher, callback_url: str, state: str
) -> ConnectedAccount:
    """The webhook server's side: finish the authorization `rdvsp connect` left pending."""
    with engine.begin() as conn:
        pg = driver_connection(conn)
        with pg.cursor(row_factory=namedtuple_row) as cur:
            row = cur.execute(package_sql(__file__, "take_pending_authorization"), {"state": state}).fetchone()
        if row is None:
            raise AccountError(
                "No pending connection matches this answer (expired or already completed): "
                "run `sync-assets rdvsp connect` again."
            )
        pending = PendingAuthorization("", state, cipher.decrypt(row.code_verifier_encrypted))
        try:
            account = finish_authorization(engine, settings, cipher, callback_url, pending, row.sync_from)
        except AccountError as error:
            pg.execute(
                package_sql(__file__, "complete_pending_authorization"),
                {"state": state, "account_id": None, "error": str(error)},
            )
            raise
        pg.execute(
            package_sql(__file__, "complete_pending_authorization"),
            {"state": state, "account_id": account.account_id, "error": None},
        )
        return account


def _follow_authorize_redirect(http: ApiClient, authorize_url: str, redirect_uri: str) -> str:
    parsed = urlparse(authorize_url)
    response, _ = http.request("GET", f"{parsed.path}?{parsed.query}", handled_statuses=frozenset({400, 401, 403}))
    location = response.headers.get("location", "")
    if response.status_code not in (301, 302, 303, 307) or not location.startswith(redirect_uri):
        raise AccountError(
            f"The authorize page answered HTTP {response.status_code} instead of redirecting to the redirect URI: "
            "this server asks a person to log in. Run `sync-assets rdvsp connect` without --unattended."
        )
    return location


def receive_callback(redirect_uri: str, state: str, timeout_s: float = 600) -> str:
    """Listen on the redirect URI until the browser comes back; return the full callback URL."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    parsed = urlparse(redirect_uri)
    received: queue.Queue[str] = queue.Queue()

    async def callback(request: Request) -> PlainTextResponse:
        if request.query_params.get("state") != state:
            return PlainTextResponse("This answer is not for the pending connection.", status_code=400)
        received.put(str(request.url))
        return PlainTextResponse("RDV Service Public account connected: you can close this window.")

    app = Starlette(routes=[Route(parsed.path or "/", callback)])
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=parsed.hostname or "127.0.0.1", port=parsed.port or 80, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        return received.get(timeout=timeout_s)
    except queue.Empty:
        raise AccountError(f"No answer on {redirect_uri} within {timeout_s:.0f} s.") from None
    finally:
        server.should_exit = True
        thread.join(timeout=5)


# --- keeping the token valid --------------------------------------------------------------

_process_locks: dict[int, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(account_id: int) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(account_id, threading.Lock())


class AccountTokens:
    """The access token of one account, refreshed when needed, one refresh at a time."""

    def __init__(
        self,
        engine: Engine,
        account_id: int,
        settings: RdvspSettings,
        cipher: TokenCipher,
        http: ApiClient | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.engine, self.account_id, self.settings, self.cipher = engine, account_id, settings, cipher
        self.http = http or settings.http(retry=RetryPolicy(attempts=3))
        self.clock = clock
        self._cached: tuple[str, float] | None = None
        self.refreshes = 0  # refreshes this object performed (for metadata and tests)

    def access_token(self) -> str:
        cached = self._cached
        if cached and cached[1] - self.clock() > REFRESH_MARGIN_S:
            return cached[0]
        return self._valid_token(rejected=None)

    def after_rejection(self, rejected: str) -> str:
        """The API answered 401 to `rejected`: a token other than it, refreshed if need be."""
        return self._valid_token(rejected=rejected)

    def _valid_token(self, rejected: str | None) -> str:
        with _process_lock(self.account_id):
            failure: AccountError | None = None
            with self.engine.begin() as conn:
                pg = driver_connection(conn)
                row = pg.execute(
                    package_sql(__file__, "lock_account_tokens"), {"account_id": self.account_id}
                ).fetchone()
                if row is None:
                    raise AccountError(
                        f"RDV Service Public account {self.account_id} is not connected: "
                        "run `sync-assets rdvsp connect`."
                    )
                access_enc, refresh_enc, expires_at, status, error = row
                if status != "active":
                    raise unusable_account(self.account_id, status, error)
                access = self.cipher.decrypt(access_enc) if access_enc else None
                expires = expires_at.timestamp() if expires_at else 0.0
                if access and access != rejected and expires - self.clock() > REFRESH_MARGIN_S:
                    # Still valid, or refreshed by someone else while we waited for the lock.
                    self._cached = (access, expires)
                    return access
                refresh_token = self.cipher.decrypt(refresh_enc) if refresh_enc else None
                if not refresh_token:
                    failure = self._mark_error(pg, "its access token expired and it has no refresh token.")
                else:
                    status_code, body = _token_request(
                        self.http, self.settings, grant_type="refresh_token", refresh_token=refresh_token
                    )
                    if status_code != 200:
                        failure = self._mark_error(
                            pg,
                            f"the refresh token was refused ({body.get('error', status_code)}): it was revoked, "
                            "expired or already used.",
                        )
                    else:
                        tokens = Tokens.from_response(body, previous_refresh_token=refresh_token)
                        pg.execute(
                            package_sql(__file__, "save_account_tokens"),
                            {
                                "account_id": self.account_id,
                                "access_token": self.cipher.encrypt(tokens.access_token),
                                "refresh_token": self.cipher.encrypt(tokens.refresh_token)
                                if tokens.refresh_token
                                else None,
                                "expires_at": tokens.expires_at,
                                "scope": tokens.scope,
                            },
                        )
                        self.refreshes += 1
                        self._cached = (tokens.access_token, tokens.expires_at.timestamp())
                        log.info("access token refreshed", extra={"account_id": self.account_id})
                        return tokens.access_token
            # The error mark is committed (the block above ended normally) before we raise.
            assert failure is not None
            raise failure

    def _mark_error(self, pg, reason: str) -> AccountError:
        message = f"RDV Service Public account {self.account_id}: {reason}"
        pg.execute(package_sql(__file__, "mark_account_error"), {"account_id": self.account_id, "error": reason})
        log.error("account in error", extra={"account_id": self.account_id, "reason": reason})
        return AccountError(f"{message} Reconnect it with `sync-assets rdvsp connect`.")
