"""Dagster's own storage (runs, events, schedules) for the project's `dagster.yaml`.

The project's `dagster.yaml` names this class instead of a URL, so that Dagster's CLI
(`dagster dev`, `dagster definitions validate`, `dagster asset materialize`, `dg`) needs no
variable exported: every Dagster process (the CLI, the webserver, the daemon, each run) finds
the storage the way the project's command line does, `warehouse.dagster_storage_url()`:
DAGSTER_POSTGRES_URL, else the warehouse database (SYNC_DATABASE_URL), else the embedded
PostgreSQL under `.local/`, which is started again if it was stopped. Dagster passes the
instance's configuration (here: no URL, so no password) to its subprocesses on their command
line; each of them resolves the URL again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import click
import psycopg
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.warehouse import dagster_storage_url, libpq_url, redacted_url


class DagsterStorageUnavailable(ConfigurationError, click.ClickException):
    """Raised while Dagster builds its instance: Dagster's CLI prints it as one line (`Error: …`)
    and exits with status 1, and the project's command line prints it like its other errors."""


class ProjectPostgresStorage(DagsterPostgresStorage):
    """dagster-postgres's storage, on the PostgreSQL that the project's configuration names."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {}  # everything comes from the environment, as for the project's command line

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> ProjectPostgresStorage:
        return cls(postgres_url=_storage_url(), inst_data=inst_data)


def _storage_url() -> str:
    if not os.environ.get("DAGSTER_HOME"):
        # Dagster would then keep the instance's local files (run logs among them) in a temporary
        # folder it deletes on exit, while its runs stay in PostgreSQL: a half-kept instance.
        raise DagsterStorageUnavailable(
            "DAGSTER_HOME is not set: run `make run` or `make dev` once in the project folder (either writes the "
            ".env that Dagster's CLI reads there), or export DAGSTER_HOME (a folder holding a copy of dagster.yaml)."
        )
    try:
        url = dagster_storage_url()  # the embedded server is started here when it is the one
    except ConfigurationError as error:
        raise DagsterStorageUnavailable(str(error)) from None
    configured = "DAGSTER_POSTGRES_URL" if os.environ.get("DAGSTER_POSTGRES_URL") else "SYNC_DATABASE_URL"
    if os.environ.get(configured):
        # dagster-postgres retries a failed connection five times, logging a warning each time, then
        # raises with a traceback: a server that cannot be reached at all is said once, plainly.
        try:
            psycopg.connect(libpq_url(url), connect_timeout=10).close()
        except psycopg.OperationalError as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise DagsterStorageUnavailable(
                f"Dagster's storage {redacted_url(url)} (from {configured}) cannot be reached: {reason}. "
                f"Start that server, or correct or unset {configured}."
            ) from None
    return url
