"""RDV Service Public's harness for the conformance suite: one connected account (agent 1, admin of
organisations 100 and 101); its faults go into the RDV listing."""

from __future__ import annotations

from datetime import datetime, time

from sync_assets.rdvsp.connector import CONNECTOR
from sync_assets.rdvsp.resources import RdvspApiResource
from sync_assets.rdvsp.sync import RdvspAccountSync
from sync_assets.sandbox.faults import each_item
from sync_assets.sandbox.rdvsp_world import PARIS

from ..platform.conformance import RETRY, TIMEOUTS, Harness


class RdvspHarness(Harness):
    connector = CONNECTOR
    fault_path = "/api/v1/rdvs"
    owned = "rdvs"
    retyped = ("duration_in_min", "quarante-cinq")  # ids are read leniently ("12" is 12), numbers are not
    nested_field = "motif"
    foreign = staticmethod(each_item(lambda rdv: rdv["organisation"].__setitem__("id", 999)))
    # An access token expires; the client refreshes it and tries again.
    extra_recoverable = {
        "access token expired mid-run": dict(kind="status", status=401, body={"error": "invalid_token"}, after=1)
    }

    def __init__(self, helper):
        self.helper, self.database_url, self.faults = helper, helper.database_url, helper.sandbox.faults
        self.partition_key, self.tables = str(helper.account_id), CONNECTOR.tables

    @classmethod
    def build(cls, request) -> RdvspHarness:
        return cls(request.getfixturevalue("connected"))

    def run(self, full: bool = False):
        h = self.helper
        client = h.client(retry=RETRY, timeouts=TIMEOUTS)
        try:
            return RdvspAccountSync(
                h.engine,
                client,
                h.account_id,
                cipher=h.cipher,
                webhook_url=h.settings.webhook_url,
                emit=lambda _: None,
                kind="nightly" if full else "polling",
            ).run()
        finally:
            client.close()

    def change_source(self, count: int) -> None:
        world = self.helper.world
        for rdv_id in [i for i in sorted(world.rdvs) if world.rdvs[i].status == "unknown"][:count]:
            world.cancel_rdv(rdv_id)

    def move_pages(self) -> None:
        """A new RDV and a changed one: the API lists RDVs unordered, so every page moves."""
        world = self.helper.world
        world.create_rdv(organisation_id=100)
        world.update_rdv(min(world.rdvs), context="changed during the listing")

    def source_ids(self) -> set[int]:
        [(sync_from,)] = self.query("SELECT sync_from FROM rdvsp.accounts WHERE id = %s", [self.helper.account_id])
        world = self.helper.world
        return set(
            world.rdv_listing(
                world.agents[self.helper.account_id], starts_after=datetime.combine(sync_from, time(0), PARIS)
            )
        )

    def stored_ids(self) -> set[int]:
        return {r[0] for r in self.query("SELECT id FROM rdvsp.rdvs")}

    def personal_values(self) -> set[str]:
        return {
            value
            for user in self.helper.world.users.values()
            for value in (f"{user.first_name} {user.last_name}", user.email, user.phone_number)
            if value
        }

    def resources(self) -> dict:
        settings = self.helper.settings
        return {
            "rdvsp": RdvspApiResource(
                base_url=settings.base_url,
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                webhook_url=settings.webhook_url,
            )
        }
