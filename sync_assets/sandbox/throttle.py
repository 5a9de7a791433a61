"""RDV Service Public's request throttling (its Rack::Attack configuration), for the sandbox.

Two throttles, both respected, each over fixed windows (`floor(now / period)`), each counting
every request it matches, refused ones included:

- `api`: `budget` requests per period per client IP, on every path containing `/api/v1/`;
- `rdv_listing`: `rdv_listing_budget` requests per period per client IP and `organisation_id`
  query parameter, on `GET` requests whose path contains `api/v1/rdvs` (the key is
  `"{ip}-api-rdvs-org-{organisation_id}"`, an empty organisation when the parameter is absent).

A request over a limit gets Rack::Attack's answer: 429, `RateLimit-Limit`, `RateLimit-Remaining: 0`,
`Retry-After` (whole seconds to the window's end, at least 1) and the API's French error body.
Answers let through carry no RateLimit-* header. In the process, through `Sandbox.throttle`: the
counters (`requests`, `throttled`, `throttled_by`, `stats()`) and `reset()`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs

API = "api"
RDV_LISTING = "rdv_listing"
ERROR_BODY = b'{"errors":["Limite d\'appels API atteinte. Merci de patienter."]}'


class Throttle:
    """ASGI middleware counting requests per fixed window and answering 429 above the limits."""

    def __init__(
        self,
        app,
        budget: int | None,
        period: float = 60,
        rdv_listing_budget: int | None = None,
        clock: Callable[[], float] = time.time,
    ):
        if period <= 0:
            raise ValueError("the period must be positive")
        for name, limit in (("budget", budget), ("rdv_listing_budget", rdv_listing_budget)):
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be a positive number of requests")
        self.app = app
        self.budget, self.period, self.rdv_listing_budget = budget, period, rdv_listing_budget
        self.clock = clock  # tests may swap it for a fake one
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}  # key -> (window, count): the current window only
        self._latest_window: int | None = None
        self.requests = 0  # HTTP requests seen (throttled or not, whatever their path)
        self.throttled = 0  # 429s answered
        self.throttled_by = {API: 0, RDV_LISTING: 0}

    def describe(self) -> str:
        """The throttle in one line, e.g. for the command's start-up message."""
        period = f"{self.period:g} s"
        parts = []
        if self.budget is not None:
            parts.append(f"throttling /api/v1/: {self.budget} requests per {period} per client IP")
        if self.rdv_listing_budget is not None:
            parts.append(f"RDV listings: {self.rdv_listing_budget} per {period} per IP and organisation")
        return "; ".join(parts) if parts else "no throttling"

    def reset(self) -> None:
        """Forget the windows and zero the counters."""
        with self._lock:
            self._windows.clear()
            self._latest_window = None
            self.requests = self.throttled = 0
            self.throttled_by = {API: 0, RDV_LISTING: 0}

    def stats(self) -> dict:
        with self._lock:
            return {"requests": self.requests, "throttled": self.throttled, "throttled_by": dict(self.throttled_by)}

    def _rules(self, scope) -> list[tuple[str, str, int]]:
        """The (throttle, key, limit) of each throttle matching the request."""
        path = scope["path"]
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        rules = []
        if self.budget is not None and "/api/v1/" in path:
            rules.append((API, f"{ip}-api", self.budget))
        if self.rdv_listing_budget is not None and scope["method"] == "GET" and "api/v1/rdvs" in path:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            organisation = query.get("organisation_id", [""])[-1]  # Rails keeps the last value
            rules.append((RDV_LISTING, f"{ip}-api-rdvs-org-{organisation}", self.rdv_listing_budget))
        return rules

    def check(self, scope) -> tuple[str, int, int] | None:
        """Count the request; if a window is over its limit, the (throttle, limit, retry-after) to answer."""
        now = self.clock()
        window = math.floor(now / self.period)
        over = None
        with self._lock:
            self.requests += 1
            if self._latest_window is None or window > self._latest_window:
                self._windows = {k: v for k, v in self._windows.items() if v[0] >= window}
                self._latest_window = window
            for name, key, limit in self._rules(scope):
                seen_window, count = self._windows.get(key, (window, 0))
                count = count + 1 if seen_window == window else 1
                self._windows[key] = (window, count)
                if count > limit and over is None:
                    over = (name, limit)
            if over is None:
                return None
            self.throttled += 1
            self.throttled_by[over[0]] += 1
        retry_after = max(1, math.ceil(self.period - now % self.period))
        return over[0], over[1], retry_after

    async def __call__(self, scope, receive, send) -> None:
        refused = self.check(scope) if scope["type"] == "http" else None
        if refused is None:
            await self.app(scope, receive, send)
            return
        _, limit, retry_after = refused
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"ratelimit-limit", str(limit).encode()),
                    (b"ratelimit-remaining", b"0"),
                    (b"retry-after", str(retry_after).encode()),
                    (b"content-length", str(len(ERROR_BODY)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": ERROR_BODY})
