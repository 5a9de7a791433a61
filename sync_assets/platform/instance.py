"""The Dagster instance the command line, `make run` and `make dev` share.

DAGSTER_HOME defaults to `.local/dagster`, holding a copy of the project's `dagster.yaml`;
DAGSTER_POSTGRES_URL defaults to the storage chosen by `warehouse.dagster_storage_url()`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.warehouse import dagster_storage_url, local_dir

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


def prepare_dagster_environment() -> dict[str, str]:
    """Set (in this process) and return DAGSTER_HOME and DAGSTER_POSTGRES_URL."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        if not (Path(home) / "dagster.yaml").exists():
            raise ConfigurationError(
                f"DAGSTER_HOME is {home} but it has no dagster.yaml. Copy the project's dagster.yaml there, "
                "or unset DAGSTER_HOME to use .local/dagster."
            )
    else:
        home_path = local_dir() / "dagster"
        home_path.mkdir(parents=True, exist_ok=True)
        if not PROJECT_DAGSTER_YAML.exists():
            raise ConfigurationError(f"The project's dagster.yaml was not found at {PROJECT_DAGSTER_YAML}.")
        # This folder is ours: keep its copy identical to the project's file.
        shutil.copyfile(PROJECT_DAGSTER_YAML, home_path / "dagster.yaml")
        home = str(home_path)
    environment = {"DAGSTER_HOME": home}
    environment["DAGSTER_POSTGRES_URL"] = os.environ.get("DAGSTER_POSTGRES_URL") or dagster_storage_url()
    os.environ.update(environment)
    return environment
