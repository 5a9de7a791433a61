"""What a connector declares about itself, once, in its own folder (`<connector>/connector.py`).

The project's list of connectors (`sync_assets/connectors.py`) drives what every connector has:
the Dagster definitions and resources, the runs of the command line and the demo
(`sync-assets <connector> sync`), the tables the demo counts, and the conformance suite every
connector passes (`sync_assets_tests/platform/test_conformance.py`). A new connector is its
folder and one line in that list.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync_assets.platform.listing import Listing
from sync_assets.platform.merge import TableSpec


@dataclass(frozen=True)
class SyncRequest:
    """One partition to sync through the connector's sync job, with that run's config and tags."""

    partition_key: str
    ops_config: Mapping[str, Any] = field(default_factory=dict)  # the run config's `ops`
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Connector:
    name: str  # its schema, its rows in sync.runs, its command (`sync-assets <name>`)
    title: str  # as people name the source
    partition: str  # what one partition is ("account", "practice"), in messages
    partitions: str  # the name of its dynamic partitions
    sync_job: str  # the job that syncs one partition
    tables: tuple[TableSpec, ...]  # the tables its runs merge, in order
    listings: tuple[Listing, ...]  # what its runs read
    # Its Dagster definitions and resources (imported when asked: the command line stays light).
    definitions: Callable[[], Any]
    resources: Callable[[], Mapping[str, Any]]
    # A run of one partition, from the options people give (`request(key, **options)`).
    request: Callable[..., SyncRequest]
    # `sync-assets <name> sync`: its options, and the requests they make (args, warehouse URL).
    sync_arguments: Callable[[argparse.ArgumentParser], None]
    sync_requests: Callable[[argparse.Namespace, str], list[SyncRequest]]
    help: str = ""
    # More commands of its own (`sync-assets rdvsp connect`…), added to its subcommands.
    commands: Callable[[Any], None] | None = None


def find(connectors: tuple[Connector, ...], name: str) -> Connector:
    for connector in connectors:
        if connector.name == name:
            return connector
    raise KeyError(f"no connector named {name!r} (registered: {', '.join(c.name for c in connectors)})")
