"""SQL kept in `.sql` files, loaded by path (each package keeps its statements in `sql/`)."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def read_sql(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@functools.cache
def package_sql(module_file: str, name: str) -> str:
    """The statement `name`.sql from the `sql/` folder beside the module `module_file`."""
    return read_sql(Path(module_file).resolve().parent / "sql" / f"{name}.sql")
