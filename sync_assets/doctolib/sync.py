"""The sync of one Doctolib practice (one partition), on the platform's partition engine
(`platform/partition_sync.py`).

Incremental by default: the API is asked for the appointments updated since the practice's
cursor minus a lookback window (clock skew, late writes). A full refresh re-reads everything,
deletes the practice's appointments the API no longer returns, and the patients only those
referred to. The rows, the cursor and the run's success commit together.

What is Doctolib's own: a practice reached through several accounts is read through one of them
(`practice_accounts.sql`), so its appointments are neither missed nor duplicated, and a run with
no account to go through is recorded as skipped; a key refused during a run sets its account
aside, so that the next run goes through another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

import psycopg
from sqlalchemy import Engine

from sync_assets.doctolib import listings, tables
from sync_assets.doctolib.client import ClientFactory
from sync_assets.platform.contract import ContractResult
from sync_assets.platform.errors import ApiError, SyncError
from sync_assets.platform.merge import driver_connection
from sync_assets.platform.observability import get_logger, report_failure
from sync_assets.platform.partition_sync import PartitionOutcome, PartitionSource, PartitionSync
from sync_assets.platform.run import Run, record_skipped_run
from sync_assets.platform.sql_files import package_sql

log = get_logger("doctolib.sync")
CONNECTOR = "doctolib"


class SyncSkipped(SyncError):
    """The run could not happen (no account can reach the practice); recorded as skipped."""


SOURCE = PartitionSource(
    CONNECTOR, "practice_id", listings.APPOINTMENTS, tables.PRACTICE_TABLES, owned=tables.APPOINTMENTS
)


@dataclass
class PracticeOutcome(PartitionOutcome):
    account: str | None = None  # the account the practice was read through

    @property
    def practice_id(self) -> int:
        return int(self.partition_key)


def choose_accounts(conn, practice_ids: list[int], account_names: list[str]) -> dict[int, str]:
    """Practice -> the account it is synced through (see practice_accounts.sql for the rule)."""
    rows = conn.execute(
        package_sql(__file__, "practice_accounts"), {"practice_ids": practice_ids, "names": account_names}
    ).fetchall()
    return {practice_id: name for practice_id, name in rows}


def record_skipped(
    conn, reason: str, *, practice_id: int | None = None, run_id: str | None = None, mode: str = "incremental"
) -> str:
    """A run that could not happen, kept in the run log with its reason; returns its id."""
    return record_skipped_run(
        conn,
        CONNECTOR,
        reason,
        partition_key=str(practice_id) if practice_id else None,
        kind=mode,
        dagster_run_id=run_id,
    )


class PracticeSync(PartitionSync):
    def __init__(
        self,
        engine: Engine,
        practice_id: int,
        *,
        clients: ClientFactory,
        api_keys: Mapping[str, str],
        full_refresh: bool = False,
        lookback: timedelta | None = None,
        run_id: str | None = None,
        emit: Callable[[str], None] = log.info,
    ):
        super().__init__(
            engine,
            SOURCE,
            str(practice_id),
            None,
            full_refresh=full_refresh,
            lookback=lookback,
            run_id=run_id,
            emit=emit,
        )
        self.practice_id, self.clients, self.api_keys = practice_id, clients, api_keys
        self.account: str | None = None
        self.former_patients: list[int] = []

    def run(self) -> PracticeOutcome:
        self.account = self.detail["account_name"] = self.ids["account"] = self._account()
        with self.clients(self.account, self.api_keys[self.account]) as client:
            self.http = client.http
            outcome = super().run()
        assert isinstance(outcome, PracticeOutcome)
        return outcome

    def new_outcome(self, run_log_id: str) -> PracticeOutcome:
        return PracticeOutcome(
            run_log_id, self.partition_key, self.mode, contract=ContractResult("appointments"), account=self.account
        )

    def _account(self) -> str:
        """The account the practice is synced through; SyncSkipped (recorded) when none can."""
        with self.engine.connect() as conn:
            account = choose_accounts(driver_connection(conn), [self.practice_id], sorted(self.api_keys)).get(
                self.practice_id
            )
        if account is not None:
            return account
        reason = (
            f"no account with an API key reaches practice {self.practice_id}: set the "
            "DOCTOLIB_API_KEY_<ACCOUNT> of an account that lists it, then let the "
            "doctolib_practice_partitions sensor rediscover practices."
        )
        with self.engine.begin() as conn:
            run_log_id = record_skipped(conn, reason, practice_id=self.practice_id, run_id=self.run_id, mode=self.mode)
        report_failure(
            log, SyncSkipped(reason), "doctolib sync skipped", practice_id=self.practice_id, run_log_id=run_log_id
        )
        raise SyncSkipped(reason)

    def before_merge(self, pg: psycopg.Connection, outcome: PartitionOutcome) -> None:
        if self.full_refresh:  # the patients a full refresh may leave without an appointment
            self.former_patients = [
                r[0] for r in pg.execute(package_sql(__file__, "practice_patients"), {"practice_id": self.practice_id})
            ]

    def after_merge(self, pg: psycopg.Connection, outcome: PartitionOutcome) -> None:
        if self.former_patients:
            gone = pg.execute(
                package_sql(__file__, "delete_orphan_patients"), {"patient_ids": self.former_patients}
            ).rowcount
            outcome.tables["patients"] = replace(
                outcome.tables["patients"], deleted=outcome.tables["patients"].deleted + gone
            )

    def failed(self, run: Run, error: BaseException, outcome: PartitionOutcome) -> None:
        """A refused key sets its account aside, so that the next run (a retry, the next schedule)
        goes through another account that reaches the practice."""
        if isinstance(error, ApiError) and error.status == 401:
            run.side.execute(
                package_sql(__file__, "mark_accounts_in_error"),
                {
                    "names": [self.account],
                    "reasons": [f"the API refused the key (HTTP 401) during a sync of practice {self.practice_id}"],
                },
            )


def table_names() -> list[str]:
    return [spec.name for spec in tables.PRACTICE_TABLES]
