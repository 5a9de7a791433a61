"""Activities (CRA) created from attended RDVs (the rules are in sql/create_activities_from_rdvs.sql)."""

from __future__ import annotations

from dataclasses import dataclass

from sync_assets.coop.beneficiaires import merge_beneficiaires
from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.sql_files import package_sql


@dataclass(frozen=True)
class ActivitiesCreated:
    activities: int
    beneficiary_links: int
    rdv_ids: list[int]


def create_activities_from_rdvs(conn, *, rdv_id: int | None = None, account_id: int | None = None) -> ActivitiesCreated:
    """One RDV, or every attended RDV of an account not converted nor declined; idempotent.

    The beneficiaries of the accounts concerned are merged first, in the same transaction, so
    that every participant can be linked to the activity.
    """
    if rdv_id is None and account_id is None:
        raise ConfigurationError(
            "Say which RDVs to turn into activities: an rdv_id, or an account_id for every "
            "attended RDV of that account not yet converted or declined."
        )
    pg = driver_connection(conn)
    accounts = (
        [account_id]
        if account_id is not None
        else [row[0] for row in pg.execute(package_sql(__file__, "accounts_of_rdv"), {"rdv_id": rdv_id})]
    )
    for account in accounts:
        merge_beneficiaires(pg, account)
    created, linked, rdv_ids = pg.execute(
        package_sql(__file__, "create_activities_from_rdvs"), {"rdv_id": rdv_id, "account_id": account_id}
    ).fetchone()
    return ActivitiesCreated(created, linked, list(rdv_ids))
