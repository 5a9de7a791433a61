"""The Doctolib sandbox API: the contract of docs/doctolib-api.md served over a `DoctolibWorld`.

- `Authorization: Bearer <key>` per account; 401 for an unknown key.
- `GET /v1/account`: the account behind the key (its kind: practice or dentist profile).
- `GET /v1/practices`, `GET /v1/practices/{id}/appointments?updated_since=&cursor=&limit=`:
  `{"data": [...], "next_cursor": str|null}`; appointments in (updated_at, id) order, the cursor
  is the position after the last one sent (keyset, so a change between pages misses nothing).
- Each key has its own request rate; above it, 429 with `Retry-After`.
- Changes at runtime: `PATCH /sandbox/doctolib/appointments/{id}` (`status`, `start_at`),
  `DELETE /sandbox/doctolib/appointments/{id}` (`?soft=1` sets `deleted_at`; otherwise it vanishes),
  `POST /sandbox/doctolib/changes` `{"count": N}` (N appointments spread over every practice).
"""

from __future__ import annotations

import base64
import bisect
import threading
import time
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_assets.sandbox.doctolib_world import DoctolibWorld
from sync_assets.sandbox.faults import ScriptedFault, scripted_answer

MAX_LIMIT = 500


class KeyRateLimit:
    """A token bucket per key: `rate` requests per second, bursts of `burst`."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float | None:
        """None when the request may go; otherwise the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


class DoctolibSandbox:
    def __init__(self, world: DoctolibWorld, rate_per_key: float = 200.0, burst: int = 50):
        self.world = world
        self.rate_limit = KeyRateLimit(rate_per_key, burst)
        self.faults: list[ScriptedFault] = []
        self.requests: dict[str, int] = {}  # by key

    def environment(self, base_url: str) -> dict[str, str]:
        """The variables a client needs: the base URL and one DOCTOLIB_API_KEY_<ACCOUNT> per account."""
        keys = {
            f"DOCTOLIB_API_KEY_{key.removesuffix('-key').replace('-', '_').upper()}": key
            for key in sorted(self.world.accounts)
        }
        return {"DOCTOLIB_BASE_URL": base_url, **keys}

    def fail_requests(
        self, path: str, status: int, *, times: int = 1, after: int = 0, headers: dict[str, str] | None = None
    ) -> ScriptedFault:
        fault = ScriptedFault(path, status, times, after, headers or {}, {"error": "sandbox fault"})
        self.faults.append(fault)
        return fault

    def routes(self) -> list[Route]:
        return [
            Route("/v1/account", self.api(self.account)),
            Route("/v1/practices", self.api(self.practices)),
            Route("/v1/practices/{practice_id:int}/appointments", self.api(self.appointments)),
            Route("/sandbox/doctolib/appointments/{appointment_id:int}", self.change, methods=["PATCH", "DELETE"]),
            Route("/sandbox/doctolib/changes", self.change_many, methods=["POST"]),
            Route("/sandbox/doctolib/environment", self.environment_route),
        ]

    def api(self, handler):
        async def endpoint(request: Request) -> Response:
            faulted = scripted_answer(self.faults, request.url.path)
            if faulted is not None:
                return faulted
            header = request.headers.get("authorization", "")
            key = header[7:] if header.lower().startswith("bearer ") else ""
            if key not in self.world.accounts:
                return JSONResponse({"error": "invalid_api_key"}, status_code=401)
            self.requests[key] = self.requests.get(key, 0) + 1
            wait = self.rate_limit.retry_after(key)
            if wait is not None:
                return JSONResponse(
                    {"error": "rate_limited"}, status_code=429, headers={"Retry-After": str(max(1, round(wait)))}
                )
            return handler(request, key)

        return endpoint

    def account(self, request: Request, key: str) -> Response:
        account = self.world.accounts[key]
        return JSONResponse({"id": account.key.removesuffix("-key"), "name": account.name, "kind": account.kind})

    def practices(self, request: Request, key: str) -> Response:
        practices = sorted(self.world.practices_of(key), key=lambda p: p.id)
        return self._page(practices, request, lambda p: (p.id,), lambda p: str(p.id), self.world.practice_json)

    def appointments(self, request: Request, key: str) -> Response:
        practice_id = request.path_params["practice_id"]
        if practice_id not in self.world.accounts[key].practice_ids:
            return JSONResponse({"error": "not_found"}, status_code=404)
        since_text = request.query_params.get("updated_since")
        try:
            since = datetime.fromisoformat(since_text.replace("Z", "+00:00")) if since_text else None
        except ValueError:
            return JSONResponse({"error": "updated_since must be an ISO-8601 date and time"}, status_code=400)
        return self._page(
            self.world.appointments_of(practice_id, since),
            request,
            lambda a: (a.updated_at.timestamp(), a.id),
            lambda a: f"{a.updated_at.timestamp()}|{a.id}",
            self.world.appointment_json,
        )

    def _page(self, items: list, request: Request, position, cursor_of, to_json) -> Response:
        """One page of `items` (sorted by `position`) after the cursor's position; only the
        page's items are turned into JSON."""
        try:
            limit = min(MAX_LIMIT, int(request.query_params.get("limit", 100)))
        except ValueError:
            return JSONResponse({"error": "limit must be a number"}, status_code=400)
        start = 0
        cursor = request.query_params.get("cursor")
        if cursor:
            *moment, last = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
            start = bisect.bisect_right(items, (*map(float, moment), int(last)), key=position)
        page = items[start : start + limit]
        following = None
        if start + limit < len(items):
            following = base64.urlsafe_b64encode(cursor_of(page[-1]).encode()).decode()
        return JSONResponse({"data": [to_json(item) for item in page], "next_cursor": following})

    async def environment_route(self, request: Request) -> Response:
        """The variables to set for this sandbox (its keys are not secrets)."""
        return JSONResponse(self.environment(str(request.base_url).rstrip("/")))

    async def change_many(self, request: Request) -> Response:
        """`{"count": N}`: change the status of N appointments spread over every practice."""
        body = await request.json()
        count = body.get("count") if isinstance(body, dict) else None
        if not isinstance(count, int) or count < 1:
            return JSONResponse({"error": "count must be a positive whole number"}, status_code=400)
        return JSONResponse({"changed": self.world.change_many(count)})

    async def change(self, request: Request) -> Response:
        appointment_id = request.path_params["appointment_id"]
        if appointment_id not in self.world.appointments:
            return JSONResponse({"error": "not_found"}, status_code=404)
        if request.method == "DELETE":
            if request.query_params.get("soft"):
                self.world.soft_delete(appointment_id)
            else:
                self.world.hard_delete(appointment_id)
            return Response(status_code=204)
        body = await request.json()
        changes = {k: body[k] for k in ("status",) if k in body}
        if "start_at" in body:
            changes["start_at"] = datetime.fromisoformat(body["start_at"].replace("Z", "+00:00"))
        updated = self.world.update_appointment(appointment_id, **changes)
        return JSONResponse(self.world.appointment_json(updated))
