"""A mediator's settings in the host application (`coop.account_settings`, a row per account)."""

from __future__ import annotations

from sync_assets.platform.merge import driver_connection
from sync_assets.platform.sql_files import package_sql


def list_rdvs_in_activity_listing(conn, account_id: int, include: bool = True) -> None:
    """Whether the account's RDVs not yet turned into activities appear in analytics.activity_listing
    (the host application's `includeRdvsInActivitesList`, off by default)."""
    driver_connection(conn).execute(
        package_sql(__file__, "set_rdvs_in_activity_listing"), {"account_id": account_id, "include": include}
    )
