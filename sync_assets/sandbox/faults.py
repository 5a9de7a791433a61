"""Faults shared by the sandbox APIs.

- `ScriptedFault`: each API's own error answer to the next requests of a path (`fail_requests`);
- `FaultInjector`: middleware around the whole sandbox for faults of the transport and of the
  payload (status, connection reset, read timeout, truncated body, schema drift, data changing
  between pages), per request or at a rate. In the process, through `Sandbox.faults`; from
  another one, with `POST /sandbox/faults` (a JSON fault), `GET` (the faults and their hits) and
  `DELETE` (clear them).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
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


# --- Payload drift ---------------------------------------------------------------------------


def each_item(change: Callable[[dict], None]) -> Callable[[Any], Any]:
    """A drift transform: apply `change` to every object of the listing's lists."""

    def transform(body):
        for value in body.values() if isinstance(body, dict) else []:
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        change(item)
        return body

    return transform


def set_field(name: str, value: Any) -> Callable[[Any], Any]:
    """Every listed object's `name` becomes `value` (a new field, a new type, an enum value)."""
    return each_item(lambda item: item.__setitem__(name, value))


def drop_field(name: str) -> Callable[[Any], Any]:
    return each_item(lambda item: item.pop(name, None))


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
        if scope["type"] == "http" and scope["path"] == "/sandbox/faults":
            response = await self._control(Request(scope, receive))
            await response(scope, receive, send)
            return
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

    async def _control(self, request: Request) -> Response:
        """`POST /sandbox/faults` adds a fault given as JSON: the fields of `Fault`, with drift as
        `{"set_field": [name, value]}` or `{"drop_field": name}` and `retry_after` as a shortcut;
        `GET` lists the faults with their hits; `DELETE` clears them."""
        if request.method == "DELETE":
            self.clear()
            return JSONResponse({"faults": []})
        if request.method == "POST":
            try:
                fault = self.add(fault_from_json(await request.json()))
            except (ValueError, TypeError) as error:
                return JSONResponse({"error": str(error)}, status_code=422)
            return JSONResponse(describe(fault), status_code=201)
        with self._lock:
            return JSONResponse({"faults": [describe(f) for f in self.faults]})


def fault_from_json(spec: Any) -> Fault:
    if not isinstance(spec, dict):
        raise ValueError("a fault is a JSON object")
    spec = dict(spec)
    if "set_field" in spec:
        name, value = spec.pop("set_field")
        spec["transform"] = set_field(name, value)
    if "drop_field" in spec:
        spec["transform"] = drop_field(spec.pop("drop_field"))
    if "retry_after" in spec:
        spec["headers"] = {**spec.get("headers", {}), "Retry-After": str(spec.pop("retry_after"))}
    unknown = set(spec) - {
        "kind",
        "path",
        "times",
        "after",
        "rate",
        "status",
        "headers",
        "body",
        "seconds",
        "transform",
        "seed",
    }
    if unknown:
        raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
    if spec.get("kind") not in ("status", "reset", "timeout", "truncated", "drift"):
        raise ValueError("kind must be status, reset, timeout, truncated or drift")
    if not isinstance(spec.get("path"), str) or not spec["path"].startswith("/"):
        raise ValueError("path must be the start of the request paths to fault, e.g. /api/v1/rdvs")
    return Fault(**spec)


def describe(fault: Fault) -> dict:
    return {
        "kind": fault.kind,
        "path": fault.path,
        "times": fault.times,
        "after": fault.after,
        "rate": fault.rate,
        "status": fault.status if fault.kind == "status" else None,
        "hits": fault.hits,
    }
