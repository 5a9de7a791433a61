"""A small stand-in of the invoicing API, served over real HTTP with the sandbox's faults.

`GET /v1/companies/{id}/invoices?updated_since=&cursor=&limit=` behind `Authorization: Bearer
<key>`: the company's invoices in (updated_at, id) order, from `updated_since` on, paged by a
keyset cursor (an invoice changed during a listing moves to its end, and is read there).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sync_assets.sandbox.faults import FaultInjector
from sync_assets.sandbox.server import free_port, serve_in_thread

STATUSES = ("draft", "sent", "paid", "cancelled")


@dataclass
class InvoicingWorld:
    companies: int = 2
    per_company: int = 60
    key: str = "example-key"
    invoices: dict[int, dict] = field(default_factory=dict)
    _last: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __post_init__(self) -> None:
        for company in range(1, self.companies + 1):
            for _ in range(self.per_company):
                self.add(company)

    def now(self) -> datetime:
        """Strictly increasing times of change."""
        self._last = max(datetime.now(timezone.utc), self._last + timedelta(microseconds=1))
        return self._last

    def add(self, company: int) -> None:
        n = len(self.invoices) + 1
        self.invoices[n] = {
            "id": n,
            "company_id": company,
            "number": f"F-{company}-{n:04d}",
            "amount_cents": 1000 + n,
            "status": STATUSES[n % 3],
            "updated_at": self.now().isoformat(timespec="microseconds"),
            "customer": {
                "id": 1000 + n % 40,
                "name": f"Zéphyrine Moulinard {n % 40}",
                "email": f"zephyrine.moulinard{n % 40}@exemple.fr",
            },
        }

    def change(self, count: int, company: int = 1) -> None:
        """`count` invoices of `company` paid (or cancelled when already paid)."""
        for invoice in [i for i in self.invoices.values() if i["company_id"] == company][:count]:
            invoice["status"] = "cancelled" if invoice["status"] == "paid" else "paid"
            invoice["updated_at"] = self.now().isoformat(timespec="microseconds")

    def listing(self, company: int, since: datetime | None) -> list[dict]:
        rows = [i for i in self.invoices.values() if i["company_id"] == company]
        rows = [i for i in rows if since is None or datetime.fromisoformat(i["updated_at"]) >= since]
        return sorted(rows, key=lambda i: (i["updated_at"], i["id"]))


def routes(world: InvoicingWorld) -> list[Route]:
    async def invoices(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {world.key}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        since = request.query_params.get("updated_since")
        rows = world.listing(request.path_params["company_id"], datetime.fromisoformat(since) if since else None)
        after = request.query_params.get("cursor")  # "<updated_at>|<id>" of the previous page's last row
        if after:
            rows = [i for i in rows if (i["updated_at"], i["id"]) > (after.split("|")[0], int(after.split("|")[1]))]
        page = rows[: int(request.query_params.get("limit", 25))]
        following = f"{page[-1]['updated_at']}|{page[-1]['id']}" if len(page) < len(rows) else None
        return JSONResponse({"data": page, "next_cursor": following})

    return [Route("/v1/companies/{company_id:int}/invoices", invoices)]


@dataclass
class RunningApi:
    url: str
    world: InvoicingWorld
    faults: FaultInjector
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(world: InvoicingWorld) -> RunningApi:
    faults = FaultInjector(Starlette(routes=routes(world)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(faults, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    return RunningApi(f"http://127.0.0.1:{port}", world, faults, server, serve_in_thread(server, "example API"))
