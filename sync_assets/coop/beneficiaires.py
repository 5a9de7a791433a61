"""Beneficiaries merged from the users of synced RDVs (the rule is in sql/merge_beneficiaires.sql)."""

from __future__ import annotations

from dataclasses import dataclass

from sync_assets.platform.merge import driver_connection
from sync_assets.platform.sql_files import package_sql


@dataclass(frozen=True)
class BeneficiaryMerge:
    users_seen: int  # distinct (account, RDV user) pairs among the synced RDVs
    created: int
    filled: int  # existing beneficiaries whose empty fields were filled
    anonymised: int  # unlinked because the RDV user was anonymised

    @property
    def unchanged(self) -> int:
        return self.users_seen - self.created - self.filled - self.anonymised


def merge_beneficiaires(conn, account_id: int | None = None) -> BeneficiaryMerge:
    """Create or merge the beneficiaries of one account's RDV users (every account: None)."""
    row = driver_connection(conn).execute(package_sql(__file__, "merge_beneficiaires"),
                                          {"account_id": account_id}).fetchone()
    return BeneficiaryMerge(*row)
