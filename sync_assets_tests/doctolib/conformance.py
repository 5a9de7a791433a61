"""Doctolib's harness for the conformance suite: practice 1 of the sandbox, reached by its accounts'
keys; its faults go into the practice's appointment listing, in pages of 50."""

from __future__ import annotations

from datetime import timedelta

from sync_assets.doctolib.client import client_factory
from sync_assets.doctolib.connector import CONNECTOR
from sync_assets.doctolib.resources import DoctolibApiResource
from sync_assets.doctolib.sync import SOURCE, PracticeSync
from sync_assets.sandbox.faults import set_field

from ..platform.conformance import RETRY, TIMEOUTS, Harness
from .conftest import Doctolib, environment_keys


class DoctolibHarness(Harness):
    connector = CONNECTOR
    fault_path = "/v1/practices/1/appointments"
    owned = "appointments"
    retyped = ("id", "1000001")  # ids are strict: a string is another type
    nested_field = "visit_motive"
    foreign = staticmethod(set_field("practice_id", 2))
    partition_key = "1"
    tables = SOURCE.tables

    def __init__(self, helper: Doctolib):
        self.helper, self.database_url, self.faults = helper, helper.database_url, helper.sandbox.faults
        helper.discover()

    @classmethod
    def build(cls, request) -> DoctolibHarness:
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setattr("sync_assets.doctolib.listings.PAGE_SIZE", 50)  # practice 1's 200 appointments: 4 pages
        sandbox = request.getfixturevalue("sandbox")
        for name, value in sandbox.doctolib.environment(sandbox.base_url).items():
            monkeypatch.setenv(name, value)  # for the Dagster resource
        return cls(Doctolib(sandbox, request.getfixturevalue("database_url"), environment_keys(sandbox)))

    def run(self, full: bool = False):
        clients = client_factory(self.helper.sandbox.base_url, requests_per_second=1000, retry=RETRY, timeouts=TIMEOUTS)
        return PracticeSync(
            self.helper.engine,
            1,
            clients=clients,
            api_keys=self.helper.keys,
            full_refresh=full,
            lookback=timedelta(hours=1),
            emit=lambda _: None,
        ).run()

    def change_source(self, count: int) -> None:
        world = self.helper.world
        for appointment_id in [a.id for a in world.appointments_of(1, None) if a.status == "confirmed"][:count]:
            world.cancel(appointment_id)

    def move_pages(self) -> None:
        """A new appointment and one already read moved to the end of the listing (its stamp changes)."""
        world = self.helper.world
        world.add_appointment(1, world.now() + timedelta(days=3))
        world.cancel(world.appointments_of(1, None)[0].id)

    def source_ids(self) -> set[int]:
        return {a.id for a in self.helper.world.appointments_of(1, None)}

    def stored_ids(self) -> set[int]:
        return {r[0] for r in self.query("SELECT id FROM doctolib.appointments WHERE practice_id = 1")}

    def personal_values(self) -> set[str]:
        return {
            value
            for patient in self.helper.world.patients.values()
            for value in (f"{patient['first_name']} {patient['last_name']}", patient["email"], patient["phone"])
            if value
        }

    def resources(self) -> dict:
        return {"doctolib": DoctolibApiResource(base_url=self.helper.sandbox.base_url, requests_per_second=1000)}
