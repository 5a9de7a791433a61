"""Faults shared by the sandbox APIs.

- `ScriptedFault`: each API's own error answer to the next requests of a path (`fail_requests`);
- `FaultInjector`: middleware around the whole sandbox for faults of the transport and of the
  payload (status, connection reset, read timeout, truncated body, schema drift), per request or
  at a rate.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.responses import JSONResponse, Response


@dataclass
class ScriptedFault:
    """Answer `status` to requests whose path starts with `path`, after letting `after` through."""

    path: str
    status: int
    times: int = 1
    after: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: dict = field(default_factory=lambda: {"errors": ["Unexpected internal error"]})


def scripted_answer(faults: list[ScriptedFault], path: str) -> Response | None:
    """The answer of the first fault scripted for `path`, if one is due."""
    for fault in faults:
        if fault.times > 0 and path.startswith(fault.path):
            if fault.after > 0:
                fault.after -= 1
                return None
            fault.times -= 1
            return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
    return None


# --- Faults of the transport and of the payload, for both APIs ---------------------------------

FaultKind = Literal["status", "reset", "timeout", "truncated", "drift", "change"]


@dataclass
class Fault:
    """What to do to the requests whose path starts with `path`.

    - status: answer `status` (with `headers`, `body`) instead of the API;
    - reset: send the response's headers and half its body, then drop the connection;
    - timeout: answer only after `seconds` (longer than the client's read timeout);
    - truncated: send 200 with the first half of the JSON body;
    - drift: send the body as changed by `transform` (the parsed JSON in, the JSON to send out);
    - change: call `action` (which changes the API's data) before answering, so that the pages of
      one listing are read from two different states.

    `after` requests are let through first; then `times` requests are faulted (-1: all), each
    with probability `rate` (1: every one; below 1, drawn from a generator seeded with `seed`, so
    that a fault hits the same requests on every run).
    """

    kind: FaultKind
    path: str
    times: int = 1
    after: int = 0
    rate: float = 1.0
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: dict = field(default_factory=lambda: {"errors": ["Unexpected internal error"]})
    seconds: float = 2.0
    transform: Callable[[Any], Any] | None = None
    action: Callable[[], None] | None = None
    seed: int = 0
    hits: int = 0  # requests this fault changed

    def __post_init__(self) -> None:
        self._draws = random.Random(self.seed)


class FaultInjector:
    """ASGI middleware applying `faults` to the sandbox's answers (both APIs)."""

    def __init__(self, app):
        self.app = app
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _due(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times != 0 and path.startswith(fault.path):
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    if fault.rate < 1 and fault._draws.random() >= fault.rate:
                        return None
                    fault.times -= 1 if fault.times > 0 else 0
                    fault.hits += 1
                    return fault
        return None

    async def __call__(self, scope, receive, send) -> None:
        fault = self._due(scope["path"]) if scope["type"] == "http" else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind == "status":
            await JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)(scope, receive, send)
            return
        if fault.kind == "timeout":
            await asyncio.sleep(fault.seconds)
            await self.app(scope, receive, send)
            return
        if fault.kind == "change":
            if fault.action is not None:
                fault.action()
            await self.app(scope, receive, send)
            return
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if fault.kind == "reset":
            await send(start)
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise ConnectionResetError("sandbox fault: connection dropped mid-body")
        if fault.kind == "truncated":
            body = body[: len(body) // 2]
        elif fault.kind == "drift" and fault.transform is not None and start.get("status") == 200:
            body = json.dumps(fault.transform(json.loads(body))).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
