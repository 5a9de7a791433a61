"""The Dagster instance the command line, `make run`, `make dev` and Dagster's own CLI share.

DAGSTER_HOME defaults to `.local/dagster`, whose `dagster.yaml` is the project's (linked, or
copied where links are not available). That file names the project's storage class
(`dagster_storage.ProjectPostgresStorage`), which finds PostgreSQL by itself: no URL is exported.
For Dagster's CLI run by hand in the project folder, the same set-up writes a `.env` there, which
Dagster loads before it builds its instance: it names DAGSTER_HOME (and the local folder), and
lets any variable exported in the shell win.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.warehouse import local_dir

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_DAGSTER_YAML = PROJECT_ROOT / "dagster.yaml"
DOTENV_BEGIN = "# >>> sync-assets: Dagster's CLI in this folder (generated; rewritten by make run and make dev)"
DOTENV_END = "# <<< sync-assets"


def prepare_dagster_environment() -> dict[str, str]:
    """Set (in this process) and return DAGSTER_HOME; write the project folder's `.env` for Dagster's CLI."""
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
        _link_project_dagster_yaml(home_path / "dagster.yaml")
        home = str(home_path)
        project_folder = local_dir().parent
        # Only beside a `.local` in a project folder (one with the workspace.yaml: `make run` there); a
        # local folder elsewhere (SYNC_LOCAL_DIR, the tests, a command run from another folder) writes none.
        if local_dir().name == ".local" and (project_folder / "workspace.yaml").exists():
            write_dotenv(project_folder / ".env", {"DAGSTER_HOME": home, "SYNC_LOCAL_DIR": str(local_dir())})
    environment = {"DAGSTER_HOME": home}
    os.environ.update(environment)
    return environment


def _link_project_dagster_yaml(target: Path) -> None:
    """`target` made the project's dagster.yaml: a link, so that `dagster` run by hand reads the
    current file even after it changed; a copy where links are refused. Replaced atomically:
    several processes may prepare the instance at once."""
    if target.is_symlink() and target.resolve() == PROJECT_DAGSTER_YAML:
        return
    staging = target.with_name(f".dagster.yaml.{os.getpid()}")
    staging.unlink(missing_ok=True)
    try:
        staging.symlink_to(PROJECT_DAGSTER_YAML)
    except OSError:
        shutil.copyfile(PROJECT_DAGSTER_YAML, staging)
    os.replace(staging, target)


def write_dotenv(path: Path, values: dict[str, str]) -> None:
    """Put `values` in the `.env` at `path`, in a block of ours; the rest of the file is left as it is.

    Each value is written as `${NAME:-value}`, which Dagster's `.env` loader (python-dotenv)
    expands from the environment first: a variable exported in the shell, or set above in the
    same file, keeps its value (the loader would otherwise override it). A value that such a
    line cannot hold as it is (a `$`, a quote, a brace…) is not written: the block says so.
    """
    lines = [
        DOTENV_BEGIN,
        "# The Dagster instance of make run and make dev, for `dagster dev`, `dagster definitions validate`,",
        "# `dagster asset materialize` and `dg` run here. A variable exported in the shell takes precedence.",
    ]
    for name, value in values.items():
        if any(character in value for character in "${}\"'\\#\n") or value != value.strip():
            lines.append(f"# {name} not written: its value holds characters a .env line cannot keep; export it.")
        else:
            lines.append(f"{name}=${{{name}:-{value}}}")
    lines.append(DOTENV_END)
    existing = path.read_text().splitlines() if path.exists() else []
    if DOTENV_BEGIN in existing and DOTENV_END in existing[existing.index(DOTENV_BEGIN) :]:
        start = existing.index(DOTENV_BEGIN)
        end = existing.index(DOTENV_END, start)
        updated = [*existing[:start], *lines, *existing[end + 1 :]]
    else:
        updated = [*existing, *lines]
    if updated == existing:
        return
    # Written beside it and renamed: a reader never sees half a file. A file of the user's keeps its mode.
    handle, staging = tempfile.mkstemp(dir=path.parent, prefix=".env.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write("\n".join(updated) + "\n")
        if path.exists():
            shutil.copymode(path, staging)
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise
