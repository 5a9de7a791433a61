"""Beneficiaries merged from the users of synced RDVs (the rule is in sql/merge_beneficiaires.sql)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from psycopg.rows import dict_row

from sync_assets.platform.merge import driver_connection
from sync_assets.platform.sql_files import package_sql

DEFAULT_REGION = "FR"  # a number without a country code is French


@dataclass(frozen=True)
class BeneficiaryMerge:
    users_seen: int  # distinct (account, RDV user) pairs among the synced RDVs
    created: int
    filled: int  # existing beneficiaries whose empty fields were filled
    anonymised: int  # unlinked because the RDV user was anonymised
    phones_unparsed: int = 0  # distinct phone numbers kept as they were: not a valid number

    @property
    def unchanged(self) -> int:
        return self.users_seen - self.created - self.filled - self.anonymised


def international_phones(numbers: Iterable[str]) -> tuple[dict[str, str], int]:
    """Each number that parses as a valid phone number (French by default), in E.164 form
    (+33612345678); and how many did not."""
    converted, unparsed = {}, 0
    for raw in numbers:
        try:
            number = phonenumbers.parse(raw, DEFAULT_REGION)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            unparsed += 1
            continue
        converted[raw] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return converted, unparsed


def merge_beneficiaires(conn, account_id: int | None = None) -> BeneficiaryMerge:
    """Create or merge the beneficiaries of one account's RDV users (every account: None)."""
    pg = driver_connection(conn)
    scope = {"account_id": account_id}
    phones, unparsed = international_phones(
        raw for (raw,) in pg.execute(package_sql(__file__, "beneficiaire_phones"), scope)
    )
    with pg.cursor(row_factory=dict_row) as cur:
        counts = cur.execute(
            package_sql(__file__, "merge_beneficiaires"),
            {**scope, "phones_from": list(phones), "phones_to": list(phones.values())},
        ).fetchone()
    return BeneficiaryMerge(**counts, phones_unparsed=unparsed)
