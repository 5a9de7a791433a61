"""The hand-made dataset (dataset.py) in a fresh warehouse, with beneficiaries and the views."""

from __future__ import annotations

import psycopg
import pytest

from sync_assets.coop.beneficiaires import merge_beneficiaires
from sync_assets.platform.views import apply_view
from sync_assets.platform.warehouse import libpq_url

from . import dataset

VIEWS = ("activity_listing", "account_dashboard", "rdv_statistics")


class Warehouse:
    def __init__(self, url: str):
        self.url = url
        self.ids: dict[str, int] = {}

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(libpq_url(self.url))

    def query(self, statement, params=None) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(statement, params).fetchall()

    def beneficiary(self, account_id: int, rdv_user_id: int) -> int:
        return self.query(
            "SELECT id FROM coop.beneficiaires WHERE account_id = %s AND rdv_user_id = %s", [account_id, rdv_user_id]
        )[0][0]


@pytest.fixture
def warehouse(database_url) -> Warehouse:
    """RDVs and users only (no beneficiaries, no activities)."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        dataset.load(conn)
    return Warehouse(database_url)


@pytest.fixture
def loaded(warehouse) -> Warehouse:
    """Beneficiaries merged, activities 1 and 2, RDV 4 declined, views created."""
    with warehouse.connect() as conn:
        merge_beneficiaires(conn)
        warehouse.ids = dataset.load_activities(conn)
        for name in VIEWS:
            apply_view(conn, name)
    return warehouse
