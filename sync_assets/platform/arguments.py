"""Argument types of the command line, shared by the connectors' commands."""

from __future__ import annotations

import argparse
from datetime import date


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def id_list(value: str) -> list[int]:
    try:
        ids = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        ids = []
    if not ids or any(i < 1 for i in ids):
        raise argparse.ArgumentTypeError(f"expected comma-separated ids such as 12,15, got {value!r}")
    return ids


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None
