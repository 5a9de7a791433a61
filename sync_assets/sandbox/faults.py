"""Scripted faults shared by the sandbox APIs: answer a status to the next requests of a path."""

from __future__ import annotations

from dataclasses import dataclass, field

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
