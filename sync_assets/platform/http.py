"""The HTTP side of the connector contract: one client for every connector.

- explicit connect/read timeouts;
- retries with exponential backoff and jitter on connection errors, timeouts, 5xx, 429 and
  bodies that are not the JSON they claim to be (truncated), honouring `Retry-After`;
  other 4xx are never retried;
- a token-bucket rate limiter shared by every client of the same connector (or API key) in
  the process;
- paginators configured by paths into the body: page numbers (`meta.next_page`) and cursors
  (`next_cursor`);
- auth helpers: a fixed bearer key, and a bearer token that expires and is refreshed (OAuth);
- the count of calls each client made (a run's `api_requests`).

Errors name the endpoint path, never its query string: query values can hold personal data.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import random
import ssl
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from sync_assets.platform.contract import load_json
from sync_assets.platform.errors import ApiError
from sync_assets.platform.observability import get_logger

log = get_logger("platform.http")
K = TypeVar("K")
T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRYABLE_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# Failures before the request left: the server cannot have acted on it. A 429 is refused before
# any work too. Only these are retried for a request that must not be applied twice.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
NOT_PROCESSED_STATUSES = frozenset({429})
# A 429 with Retry-After is waited out without spending a retry attempt (we keep to the budget,
# the API's window is just fuller than we knew), up to this many times for one call.
MAX_THROTTLED_WAITS = 10


class RequestBudget(Protocol):
    """A budget of requests shared beyond this client (platform/budget.py's SharedBudgets)."""

    def take(self, method: str, endpoint: str, params: Mapping[str, Any]) -> float: ...

    def throttled(self, method: str, endpoint: str, params: Mapping[str, Any], retry_after_s: float) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # in all, the first included
    backoff_multiplier: float = 0.5  # seconds: waits of 0.5, 1, 2, 4… plus jitter
    backoff_max: float = 30.0
    jitter: float = 0.5
    # A Retry-After longer than this is not waited for: the call fails and says so.
    max_retry_after: float = 300.0


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0


class TokenBucket:
    """At most `rate` requests a second on average, in bursts of up to `burst`. Thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limiter needs rate > 0 and burst >= 1")
        self.rate, self.burst = rate, burst
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting if none is left; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1  # reserve now, so concurrent callers queue behind each other
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


_shared_limiters: dict[str, TokenBucket] = {}
_shared_limiters_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def default_ssl_context() -> ssl.SSLContext:
    """httpx's default context (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), made once per process:
    loading the CA bundle takes about 0.1 s, which a client per practice run would pay each time."""
    return httpx.create_ssl_context()


def shared_rate_limiter(name: str, rate: float, burst: int = 1) -> TokenBucket:
    """The process-wide limiter called `name` (a connector, or a connector and API key)."""
    with _shared_limiters_lock:
        limiter = _shared_limiters.get(name)
        if limiter is None or (limiter.rate, limiter.burst) != (rate, burst):
            limiter = _shared_limiters[name] = TokenBucket(rate, burst)
        return limiter


@dataclass(frozen=True)
class Page:
    """One response of a listing: what was asked, and the body as received and as parsed."""

    endpoint: str
    params: Mapping[str, Any]
    status: int
    body: bytes
    data: Any

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


class _Retryable(Exception):
    """A response worth trying again, with the wait the server asked for, if any."""

    def __init__(
        self, reason: str, status: int | None = None, retry_after: float | None = None, outcome_unknown: bool = True
    ):
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after
        self.outcome_unknown = outcome_unknown


@dataclass
class _Call:
    """One call of `ApiClient.request`: what it sends, which statuses its caller handles, and how
    many attempts it took (for the error that ends it)."""

    method: str
    endpoint: str
    params: Mapping[str, Any] | None
    json_body: Any
    form: Mapping[str, str] | None
    headers: Mapping[str, str] | None
    expect_json: bool
    handled_statuses: frozenset[int]
    idempotent: bool
    attempts: int = 0


@dataclass
class ApiClient:
    """An httpx client with the contract's timeouts, retries and rate limit."""

    connector: str
    base_url: str
    auth: httpx.Auth | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_limiter: TokenBucket | None = None
    budget: RequestBudget | None = None  # shared with the deployment's other processes
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    requests: int = field(default=0, init=False)  # calls made (each counts once, however many attempts)
    throttled: int = field(default=0, init=False)  # 429s answered and waited out

    def __post_init__(self) -> None:
        self._counting = threading.Lock()  # listings read side by side call from several threads
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=self.auth,
            verify=default_ssl_context(),
            headers={"Accept": "application/json", "User-Agent": "sync-assets", **self.headers},
            timeout=httpx.Timeout(self.timeouts.read, connect=self.timeouts.connect),
            transport=self.transport,
        )

    def close(self) -> None:
        self._http.close()
        if self.budget is not None:
            self.budget.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        expect_json: bool = False,
        handled_statuses: frozenset[int] = frozenset(),
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> tuple[httpx.Response, Any]:
        """Send a request with retries; return the response and, if `expect_json`, its parsed body.

        Raises ApiError for a non-2xx status that is not retried (unless it is among
        `handled_statuses`, returned for the caller to read), or once retries run out.
        `idempotent=False` (a creation): retried only when the server surely did not act on it;
        otherwise the ApiError says `outcome_unknown`.
        """
        with self._counting:
            self.requests += 1
        call = _Call(method, endpoint, params, json_body, form, headers, expect_json, handled_statuses, idempotent)
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self.sleep,
            before_sleep=lambda state: self._log_retry(method, endpoint, state),
            reraise=True,
        )
        try:
            return retrying(self._attempt, call)
        except _Retryable as error:
            raise ApiError(
                self.connector,
                method,
                endpoint,
                error.reason,
                status=error.status,
                attempts=call.attempts,
                outcome_unknown=error.outcome_unknown,
            ) from None

    def _attempt(self, call: _Call) -> tuple[httpx.Response, Any]:
        """One try of `call`: raises _Retryable for what is worth trying again, ApiError otherwise."""
        call.attempts += 1
        try:
            response = self._send_within_budget(call)
        except RETRYABLE_TRANSPORT_ERRORS as error:
            failure = _Retryable(_transport_reason(error), outcome_unknown=not isinstance(error, NOT_SENT_ERRORS))
            raise self._unless_repeatable(failure, call) from None
        self._check_status(call, response)
        if not call.expect_json:
            return response, None
        try:
            return response, load_json(response.content)
        except ValueError:
            # A truncated body: the next attempt may well receive all of it.
            raise _Retryable(f"HTTP {response.status_code} with a body that is not valid JSON") from None

    def _send_within_budget(self, call: _Call) -> httpx.Response:
        """Send `call` once its budget allows; a 429 that names its wait is waited out and sent
        again, without spending an attempt (a 429 beyond that goes through the retries)."""
        waits = 0
        while True:
            self._take_budget(call)
            response = self._http.request(
                call.method,
                call.endpoint,
                params=call.params,
                json=call.json_body,
                data=call.form,
                headers=call.headers,
            )
            if response.status_code != 429 or waits == MAX_THROTTLED_WAITS:
                return response
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is None or retry_after > self.retry.max_retry_after:
                return response  # not ours to wait out: the retries decide
            waits += 1
            with self._counting:
                self.throttled += 1
            if self.budget is not None:
                self.budget.throttled(call.method, call.endpoint, call.params or {}, retry_after)
            else:
                self.sleep(retry_after)

    def _take_budget(self, call: _Call) -> None:
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()
        if self.budget is not None:
            self.budget.take(call.method, call.endpoint, call.params or {})

    def _check_status(self, call: _Call, response: httpx.Response) -> None:
        """Raise for a status `call` does not take: _Retryable for a passing failure, ApiError for
        an error status the caller did not say it handles."""
        if response.status_code in RETRYABLE_STATUSES:
            failure = _Retryable(
                f"HTTP {response.status_code}",
                response.status_code,
                _retry_after_seconds(response.headers.get("Retry-After")),
                outcome_unknown=response.status_code not in NOT_PROCESSED_STATUSES,
            )
            raise self._unless_repeatable(failure, call)
        if response.is_error and response.status_code not in call.handled_statuses:
            raise ApiError(
                self.connector,
                call.method,
                call.endpoint,
                f"HTTP {response.status_code}",
                status=response.status_code,
                attempts=call.attempts,
            )

    def _unless_repeatable(self, failure: _Retryable, call: _Call) -> Exception:
        """The failure to retry, or, for a request that may have been applied and must not be
        applied twice, the ApiError that ends it."""
        if call.idempotent or not failure.outcome_unknown:
            return failure
        return ApiError(
            self.connector,
            call.method,
            call.endpoint,
            f"{failure.reason}; the server may have applied it",
            status=failure.status,
            attempts=call.attempts,
            outcome_unknown=True,
        )

    def get_page(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Page:
        response, data = self.request("GET", endpoint, params=params, expect_json=True)
        return Page(endpoint, dict(params or {}), response.status_code, response.content, data)

    def get_json(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.get_page(endpoint, params).data

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Retryable) and error.retry_after is not None:
            if error.retry_after > self.retry.max_retry_after:
                # Waiting would hold the run (and a pool slot) for too long: fail now, loudly.
                raise _Retryable(
                    f"{error.reason}, asked to retry after {error.retry_after:.0f} s "
                    f"(more than the {self.retry.max_retry_after:.0f} s allowed)",
                    error.status,
                    outcome_unknown=error.outcome_unknown,
                )
            return error.retry_after
        backoff = self.retry.backoff_multiplier * 2 ** (state.attempt_number - 1)
        return min(self.retry.backoff_max, backoff + random.uniform(0, self.retry.jitter))

    def _log_retry(self, method: str, endpoint: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "retrying API call",
            extra={
                "connector": self.connector,
                "method": method,
                "endpoint": endpoint,
                "attempt": state.attempt_number,
                "of": self.retry.attempts,
                "wait_s": round(state.upcoming_sleep, 3),
                "reason": getattr(error, "reason", type(error).__name__),
            },
        )


def _transport_reason(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"timed out ({type(error).__name__})"
    return f"connection failed ({type(error).__name__})"


def _retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# --- Paginators ---------------------------------------------------------------------------


def prefetched(pages: Iterator[Page], ahead: int = 2) -> Iterator[Page]:
    """The same pages, fetched by a background thread up to `ahead` pages before they are asked
    for, so that the API's response time overlaps the caller's work on the previous page.

    An error of the listing is raised where the caller would have met it. Stopping early (or
    failing) stops the thread after its current request.
    """
    import queue

    done = object()
    buffer: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                if stop.is_set():
                    return
                buffer.put(page)
            buffer.put(done)
        except BaseException as error:  # handed to the caller's thread
            buffer.put(error)

    thread = threading.Thread(target=fetch, name="page-prefetch", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a fetcher waiting for room
            with contextlib.suppress(queue.Empty):
                buffer.get(timeout=0.1)
        thread.join()


def interleaved(streams: Iterable[tuple[K, Iterator[T]]], width: int) -> Iterator[tuple[K, T]]:
    """The items of several streams, taken in turn from up to `width` of them at a time (each
    with its key), the next stream joining when one ends. With prefetched page streams, `width`
    listings are fetched side by side: a budget per listing then does not pace the whole run."""
    pending = iter(streams)
    active: list[tuple[K, Iterator[T]]] = []
    try:
        while True:
            while len(active) < width and (stream := next(pending, None)) is not None:
                active.append(stream)
            if not active:
                return
            for key, items in list(active):
                item = next(items, _END)
                if item is _END:
                    active.remove((key, items))
                else:
                    yield key, item
    finally:
        for _, items in active:
            close = getattr(items, "close", None)
            if close is not None:
                close()


_END: Any = object()


def dig(body: Any, path: Sequence[str]) -> Any:
    """The value at `path` in a JSON body (None where the path does not lead)."""
    for step in path:
        if not isinstance(body, dict):
            return None
        body = body.get(step)
    return body


@dataclass(frozen=True)
class PageNumbers:
    """A listing paged by number: the body says the next page's number at `next_page` (null on the
    last page), sent back as the `parameter` query parameter. RDV Service Public's envelope,
    `{"<items>": [...], "meta": {"next_page": 2, …}}`, is the default."""

    next_page: tuple[str, ...] = ("meta", "next_page")
    parameter: str = "page"

    def pages(self, client: ApiClient, endpoint: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        params = dict(params or {})
        number = int(params.pop(self.parameter, 1))
        while True:
            page = client.get_page(endpoint, {**params, self.parameter: number})
            yield page
            if not isinstance(page.data, dict) or not isinstance(dig(page.data, self.next_page[:-1]), dict):
                raise ApiError(
                    client.connector,
                    "GET",
                    endpoint,
                    f"the response has no pagination `{'.'.join(self.next_page[:-1])}` object",
                )
            following = dig(page.data, self.next_page)
            if following is None:
                return
            try:
                following = int(following)
            except (TypeError, ValueError):
                raise ApiError(
                    client.connector, "GET", endpoint, f"`{'.'.join(self.next_page)}` is not a page number"
                ) from None
            if following <= number:
                raise ApiError(
                    client.connector,
                    "GET",
                    endpoint,
                    f"`{'.'.join(self.next_page)}` went from {number} to {following}; stopping to avoid a loop",
                )
            number = following


@dataclass(frozen=True)
class Cursors:
    """A listing paged by cursor: the body gives the next cursor at `next_cursor` (null or empty on
    the last page), sent back as the `parameter` query parameter. Doctolib's envelope,
    `{"data": [...], "next_cursor": "…"}`, is the default."""

    next_cursor: tuple[str, ...] = ("next_cursor",)
    parameter: str = "cursor"

    def pages(self, client: ApiClient, endpoint: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        params = dict(params or {})
        cursor = params.pop(self.parameter, None)
        seen: set[str] = set()
        while True:
            page = client.get_page(endpoint, {**params, **({self.parameter: cursor} if cursor else {})})
            yield page
            cursor = dig(page.data, self.next_cursor)
            if not cursor:
                return
            if cursor in seen:
                raise ApiError(
                    client.connector,
                    "GET",
                    endpoint,
                    "the API returned a cursor it had already returned; stopping to avoid a loop",
                )
            seen.add(cursor)


Paginator = PageNumbers | Cursors


# --- Auth -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BearerKey(httpx.Auth):
    """A fixed API key, sent as `Authorization: Bearer <key>`."""

    key: str

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.key}"
        yield request


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def after_rejection(self, rejected: str) -> str: ...


class RefreshingBearer(httpx.Auth):
    """A bearer token that expires (OAuth): a valid one on each request, from `source`; after a 401,
    one retry with the token the source gives in its place (refreshed if need be)."""

    def __init__(self, source: TokenSource):
        self.source = source

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.source.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self.source.after_rejection(token)}"
            yield request
