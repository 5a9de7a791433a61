"""The example connector's harness for the conformance suite: company 1 of its stand-in API."""

from __future__ import annotations

from pathlib import Path

from sync_assets.platform.partition_sync import PartitionSync
from sync_assets.platform.warehouse import engine_for
from sync_assets.sandbox.faults import set_field

from ..conformance import RETRY, TIMEOUTS, Harness
from . import api
from . import connector as invoicing


class ExampleHarness(Harness):
    connector = invoicing.CONNECTOR
    fault_path = "/v1/companies/1/invoices"
    owned = "invoices"
    retyped = ("id", "1000001")
    nested_field = "customer"
    foreign = staticmethod(set_field("company_id", 2))
    partition_key = "1"
    tables = invoicing.SOURCE.tables

    def __init__(self, running: api.RunningApi, database_url: str):
        self.api, self.world, self.faults, self.database_url = running, running.world, running.faults, database_url
        with engine_for(database_url).begin() as conn:
            conn.exec_driver_sql((Path(__file__).parent / "schema.sql").read_text())

    @classmethod
    def build(cls, request) -> ExampleHarness:
        running = api.serve(api.InvoicingWorld())
        request.addfinalizer(running.stop)
        return cls(running, request.getfixturevalue("database_url"))

    def run(self, full: bool = False):
        with self.resources()["example"].client(retry=RETRY, timeouts=TIMEOUTS) as http:
            return PartitionSync(
                engine_for(self.database_url), invoicing.SOURCE, "1", http, full_refresh=full, emit=lambda _: None
            ).run()

    def change_source(self, count: int) -> None:
        self.world.change(count)

    def move_pages(self) -> None:
        self.world.add(1)
        self.world.change(1)

    def source_ids(self) -> set[int]:
        return {invoice["id"] for invoice in self.world.listing(1, None)}

    def stored_ids(self) -> set[int]:
        return {r[0] for r in self.query("SELECT id FROM example.invoices WHERE company_id = 1")}

    def personal_values(self) -> set[str]:
        customers = [invoice["customer"] for invoice in self.world.invoices.values()]
        return {c["name"] for c in customers} | {c["email"] for c in customers}

    def resources(self) -> dict:
        return invoicing.resources(self.api.url, self.world.key)
