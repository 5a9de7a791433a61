"""Serve the sandbox APIs: in a thread (tests, the demo) or in the foreground (`sync-assets sandbox`)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from sync_assets.sandbox.doctolib_app import DoctolibSandbox
from sync_assets.sandbox.doctolib_world import DoctolibWorld
from sync_assets.sandbox.faults import FaultInjector
from sync_assets.sandbox.rdvsp_app import RdvspSandbox
from sync_assets.sandbox.rdvsp_world import RdvspWorld
from sync_assets.sandbox.throttle import Throttle
from sync_assets.sandbox.webhook_delivery import WebhookDeliverer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Sandbox:
    """The running sandbox: its URL and the objects behind it, for tests to steer."""

    base_url: str
    rdvsp: RdvspSandbox
    server: uvicorn.Server
    deliverer: WebhookDeliverer
    doctolib: DoctolibSandbox
    faults: FaultInjector  # transport and payload faults of both APIs (sandbox/faults.py)
    thread: threading.Thread | None = None
    throttle: Throttle | None = None  # RDV Service Public's request throttling, when asked (sandbox/throttle.py)

    @property
    def world(self) -> RdvspWorld:
        return self.rdvsp.world

    def stop(self) -> None:
        self.deliverer.stop()
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)


def build_sandbox(
    seed: int = 1,
    scale: int = 1000,
    port: int | None = None,
    host: str = "127.0.0.1",
    doctolib_practices: int = 3,
    doctolib_appointments: int = 200,
    doctolib_rate: float = 200.0,
    *,
    budget: int | None = None,
    budget_period: float = 60.0,
    rdv_listing_budget: int | None = None,
):
    """The sandbox, not yet serving. `budget` (requests per `budget_period` seconds per client IP on
    `/api/v1/`) and `rdv_listing_budget` (RDV listings per period per IP and organisation) throttle
    RDV Service Public as its Rack::Attack does; None: no throttling."""
    world = RdvspWorld(seed=seed, scale=scale)
    # Both APIs on one server: RDV Service Public under /api/v1 and /oauth, Doctolib under /v1.
    doctolib = DoctolibSandbox(
        DoctolibWorld(seed=seed, practices_count=doctolib_practices, appointments_per_practice=doctolib_appointments),
        rate_per_key=doctolib_rate,
    )
    rdvsp = RdvspSandbox(world)
    # Changes to the data are delivered as signed webhooks to the installed endpoints.
    deliverer = WebhookDeliverer(world)
    world.listeners.append(deliverer.on_change)
    rdvsp.on_replay = deliverer.on_replay
    routes: list[BaseRoute] = [*rdvsp.routes(), *doctolib.routes()]
    app = Starlette(routes=routes)
    throttle = None
    if budget is not None or rdv_listing_budget is not None:
        # Both throttles match only `/api/v1/` paths: RDV Service Public's API. Doctolib (`/v1/...`),
        # OAuth (`/oauth/...`) and the controls (`/sandbox/...`) are never counted.
        throttle = app = Throttle(app, budget, budget_period, rdv_listing_budget)
    faults = FaultInjector(app)
    port = port or free_port()
    world.base_url = f"http://{host}:{port}"  # webhook payloads carry the same URLs as the API's answers
    config = uvicorn.Config(faults, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    return Sandbox(
        f"http://{host}:{port}", rdvsp, uvicorn.Server(config), deliverer, doctolib, faults, throttle=throttle
    )


def start_in_thread(
    seed: int = 1,
    scale: int = 1000,
    port: int | None = None,
    *,
    budget: int | None = None,
    budget_period: float = 60.0,
    rdv_listing_budget: int | None = None,
    **doctolib_sizes,
) -> Sandbox:
    sandbox = build_sandbox(
        seed,
        scale,
        port,
        budget=budget,
        budget_period=budget_period,
        rdv_listing_budget=rdv_listing_budget,
        **doctolib_sizes,
    )
    sandbox.thread = serve_in_thread(sandbox.server, "sandbox")
    return sandbox


def serve_in_thread(server: uvicorn.Server, name: str) -> threading.Thread:
    """Run `server` in a daemon thread; return once it accepts connections."""
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the {name} did not start")
        time.sleep(0.01)
    return thread
