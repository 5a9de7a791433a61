"""Tenant isolation: an account writes rows of its own organisations only, a practice partition
rows of its practice only, and an organisation's webhook secret changes that organisation only.

(Also proved elsewhere: a scope outside the account is refused, rdvsp/test_sync.py; a row of
another practice is never stored, doctolib/test_sync.py; a delivery signed by organisation A
about organisation B is refused, rdvsp/test_webhooks.py.)
"""

from __future__ import annotations

import json

import httpx
import pytest

from sync_assets.platform.errors import ContractBreach
from sync_assets.rdvsp.receiver import signature_of
from sync_assets.sandbox.faults import Fault, each_item

from ..rdvsp.conftest import rdvsp  # noqa: F401  (fixture)
from ..rdvsp.test_webhooks import hooked, rdv_event, secret_of, warehouse_rdvs  # noqa: F401  (fixture)


def organisation_rows(rdvsp, organisation_id: int) -> dict[str, int]:
    return dict(
        rdvsp.query(
            """
        SELECT 'rdvs', count(*) FROM rdvsp.rdvs WHERE organisation_id = %(o)s
        UNION ALL SELECT 'motifs', count(*) FROM rdvsp.motifs WHERE organisation_id = %(o)s
        UNION ALL SELECT 'lieux', count(*) FROM rdvsp.lieux WHERE organisation_id = %(o)s""",
            {"o": organisation_id},
        )
    )


@pytest.mark.parametrize(
    ("path", "move"),
    [
        (
            "/api/v1/rdvs",
            lambda world: each_item(
                lambda rdv: rdv.__setitem__("organisation", world.organisation_json(world.organisations[101]))
            ),
        ),
        (
            "/api/v1/organisations/100/motifs",
            lambda world: each_item(lambda motif: motif.__setitem__("organisation_id", 101)),
        ),
        ("/api/v1/lieux", lambda world: each_item(lambda lieu: lieu.__setitem__("organisation_id", 101))),
    ],
    ids=["rdvs", "motifs", "lieux"],
)
def test_an_account_never_writes_rows_of_an_organisation_it_does_not_belong_to(rdvsp, path, move):
    """Agent 2 belongs to organisation 100 only; its listings answer rows of organisation 101."""
    rdvsp.connect(agent_id=2)
    fault = rdvsp.sandbox.faults.add(Fault(kind="drift", path=path, transform=move(rdvsp.world), times=-1))
    with pytest.raises(ContractBreach, match="other_organisation"):
        rdvsp.sync()
    assert fault.hits >= 1
    assert organisation_rows(rdvsp, 101) == {"rdvs": 0, "motifs": 0, "lieux": 0}
    [(status,)] = rdvsp.query("SELECT status FROM rdvsp.sync_logs")
    assert status == "failed"
    assert rdvsp.query("SELECT DISTINCT field_path, error_type FROM sync.drift_events") == [
        ("organisation_id", "other_organisation")
    ]


def test_a_path_without_an_organisation_is_refused_without_trying_any_secret(hooked):
    """Only the secret of the organisation in the URL is ever tried: `POST /webhooks/rdvsp` answers
    404 without reading the body, even when it carries a valid signature of some organisation."""
    other = next(r for r in hooked.world.rdvs.values() if r.organisation_id == 101)
    raw = json.dumps(rdv_event(hooked, other)).encode()
    before = warehouse_rdvs(hooked)
    refused = httpx.post(
        f"{hooked.receiver.url}/webhooks/rdvsp",
        content=raw,
        headers={"X-Lapin-Signature": signature_of(secret_of(hooked, 101), raw)},
    )
    assert refused.status_code == 404 and "/webhooks/rdvsp/<organisation id>" in refused.json()["error"]
    assert warehouse_rdvs(hooked) == before
    assert hooked.query("SELECT count(*) FROM sync.webhook_inbox") == [(0,)]
