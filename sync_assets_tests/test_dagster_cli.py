"""Dagster's own CLI in a project folder, as a Dagster user runs it: nothing exported."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What `make run` does before its sandbox: the embedded warehouse, migrated, and the instance prepared.
SET_UP = (
    "from sync_assets.platform import instance, migrations, warehouse; "
    "migrations.upgrade(warehouse.database_url()); instance.prepare_dagster_environment()"
)


def _run(folder: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def _ours(result: subprocess.CompletedProcess[str]) -> str:
    """The output less Dagster's notice that `dg` supersedes its `dagster` commands: the pinned
    release prints it itself, before it reads anything of the project."""
    lines = (result.stdout + result.stderr).splitlines()
    notices = {i for i, line in enumerate(lines) if "SupersessionWarning" in line}
    notices |= {
        i + 1 for i in notices if i + 1 < len(lines) and lines[i + 1].strip() == "return callback(*args, **kwargs)"
    }
    return "\n".join(line for i, line in enumerate(lines) if i not in notices)


@pytest.fixture
def project_folder(tmp_path):
    """A project folder (its pyproject.toml and workspace.yaml) with nothing set up yet, and an
    environment with none of the project's or Dagster's variables."""
    folder = tmp_path / "project"
    folder.mkdir()
    for name in ("pyproject.toml", "workspace.yaml", "dagster.yaml"):
        shutil.copyfile(PROJECT / name, folder / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "SYNC_", "RDVSP_", "DOCTOLIB_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    try:
        yield folder, env
    finally:
        _run(folder, env, str(BIN / "sync-assets"), "db", "stop")


@pytest.mark.slow
def test_dagster_commands_in_the_project_folder_after_the_set_up(project_folder):
    folder, env = project_folder
    dagster = str(BIN / "dagster")

    before = _run(folder, env, dagster, "definitions", "validate")
    assert before.returncode == 1 and "Traceback" not in _ours(before), _ours(before)
    assert "Error: DAGSTER_HOME is not set: run `make run` or `make dev`" in _ours(before)

    set_up = _run(folder, env, sys.executable, "-c", SET_UP)
    assert set_up.returncode == 0, _ours(set_up)
    assert (folder / ".env").exists()

    validate = _run(folder, env, dagster, "definitions", "validate")
    assert validate.returncode == 0, _ours(validate)
    assert "Validation successful for code location sync_assets" in _ours(validate)

    # A stopped embedded server is started again by Dagster's storage.
    assert "stopped the embedded PostgreSQL" in _run(folder, env, str(BIN / "sync-assets"), "db", "stop").stdout
    materialize = _run(
        folder, env, dagster, "asset", "materialize", "-m", "sync_assets.definitions", "--select", "coop/beneficiaires"
    )
    assert materialize.returncode == 0, _ours(materialize)[-3000:]
    assert "RUN_SUCCESS" in _ours(materialize)

    for result in (validate, materialize):
        output = _ours(result)
        assert "Warning" not in output and "WARNING" not in output and "Traceback" not in output, output[-3000:]


@pytest.mark.slow
@pytest.mark.skipif(not (BIN / "dg").exists(), reason="the dg CLI (dagster-dg-cli) is not installed")
def test_dg_check_defs_in_the_project_folder_after_the_set_up(project_folder):
    folder, env = project_folder
    # dg looks for the project's package inside the project folder (with its SQL files beside it).
    for name in ("sync_assets", "sql"):
        shutil.copytree(PROJECT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    env["VIRTUAL_ENV"] = str(BIN.parent)  # as in an activated virtualenv
    assert _run(folder, env, sys.executable, "-c", SET_UP).returncode == 0
    check = _run(folder, env, str(BIN / "dg"), "check", "defs")
    assert check.returncode == 0 and "All definitions loaded successfully." in _ours(check), _ours(check)
    assert "Warning" not in _ours(check) and "Traceback" not in _ours(check)
