"""The webhook receiver's metrics, served at `GET /metrics` in Prometheus' text format.

Deliveries are counted by model and outcome, and the time to store and apply an event is observed,
as they happen: counter and histogram increments only, nothing read or written in the warehouse
per delivery. The inbox backlog and the age of each organisation's last delivery are computed
when the metrics are scraped.

With several worker processes, `PROMETHEUS_MULTIPROC_DIR` names a folder where every process
writes its values; whichever worker answers the scrape adds them all up. What is read from the
warehouse at scrape time is the same whichever worker reads it, so it is not part of that sum.

Labels hold model names, outcomes and organisation ids only: never anything from a body.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine

from sync_assets.platform.merge import driver_connection
from sync_assets.platform.observability import get_logger, safe_error_message
from sync_assets.platform.sql_files import package_sql
from sync_assets.rdvsp.inbox import Receipt
from sync_assets.rdvsp.webhooks import KNOWN_MODELS

log = get_logger("rdvsp.receiver")
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
DELIVERIES = "rdvsp_webhook_deliveries"  # exposed as rdvsp_webhook_deliveries_total
APPLY_SECONDS = "rdvsp_webhook_apply_seconds"
INBOX_BACKLOG = "rdvsp_webhook_inbox_backlog"
LAST_DELIVERY = "rdvsp_webhook_last_delivery_timestamp_seconds"
LAST_DELIVERY_AGE = "rdvsp_webhook_last_delivery_age_seconds"
# An event stored and applied takes a few milliseconds; seconds mean lock waits or a slow disk.
APPLY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Outcomes of a delivery signed with its organisation's secret: RDV Service Public did deliver.
SIGNED_OUTCOMES = frozenset({"applied", "ignored", "failed", "rejected", "duplicate"})
# The same series with one process or several (multiprocess mode has no `_created` series).
disable_created_metrics()


def model_label(model: str | None) -> str:
    """A bounded label: "unknown" when the body was not read as an event, "other" for a model
    RDV Service Public is not known to send."""
    if model is None:
        return "unknown"
    return model if model in KNOWN_MODELS else "other"


class ReceiverMetrics:
    """One receiver process's metrics, and the scrape of everything /metrics shows."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            DELIVERIES,
            "Webhook deliveries by the event's model and their outcome (applied, ignored, failed, rejected, "
            "duplicate, unauthorised, oversized, not_stored).",
            ["model", "outcome"],
            registry=self.registry,
        )
        self.apply_seconds = Histogram(
            APPLY_SECONDS,
            "Seconds to store and apply an event that was applied (the wait for a connection included).",
            buckets=APPLY_BUCKETS,
            registry=self.registry,
        )
        # The maximum over processes, dead ones included: a worker's last delivery still counts
        # after it was replaced.
        self.last_delivery = Gauge(
            LAST_DELIVERY,
            "Unix time of the last signed delivery, by the organisation whose endpoint received it.",
            ["organisation_id"],
            multiprocess_mode="max",
            registry=self.registry,
        )
        self._lock = threading.Lock()
        self._delivered_to: set[int] = set()  # organisations with a delivery since this process started
        self._seeded = False

    def refused(self, outcome: str) -> None:
        """A delivery refused before its body was read as an event (unauthorised, oversized,
        not_stored)."""
        self.deliveries.labels("unknown", outcome).inc()

    def received(self, receipt: Receipt, organisation_id: int, seconds: float) -> None:
        self.deliveries.labels(model_label(receipt.model), receipt.status).inc()
        if receipt.status == "applied":
            self.apply_seconds.observe(seconds)
        if receipt.status in SIGNED_OUTCOMES:
            with self._lock:
                self._delivered_to.add(organisation_id)
                self.last_delivery.labels(str(organisation_id)).set(time.time())

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape's body and content type (as the scraper's Accept header asks). Reads the
        warehouse: call it off the event loop."""
        self._seed_last_deliveries()
        encode, content_type = choose_encoder(accept or "")
        return encode(_Scrape(self._recorded(), self._inbox_backlog)), content_type

    def _recorded(self) -> Iterable[Metric]:
        directory = os.environ.get(MULTIPROCESS_DIR)
        if directory:  # every process's values, added up (not registered anywhere: read once)
            return MultiProcessCollector(None, path=directory).collect()
        return self.registry.collect()

    def _seed_last_deliveries(self) -> None:
        """Once per process: the last delivery of each organisation whose endpoint is installed,
        from the inbox, so that an organisation gone silent before a restart is still shown."""
        if self._seeded:
            return
        try:
            with self.engine.connect() as conn:
                rows = driver_connection(conn).execute(package_sql(__file__, "last_webhook_deliveries")).fetchall()
        except Exception as error:  # noqa: BLE001 - the scrape still shows what this process counted
            log.warning("last webhook deliveries could not be read", extra={"error": safe_error_message(error)})
            return
        with self._lock:
            for organisation_id, delivered_at in rows:
                if organisation_id not in self._delivered_to:  # a delivery since is more recent
                    self.last_delivery.labels(str(organisation_id)).set(delivered_at)
            self._seeded = True

    def _inbox_backlog(self) -> float | None:
        """Events whose retry is due and not yet made (as the retry sensor counts them)."""
        try:
            with self.engine.connect() as conn:
                [(due,)] = driver_connection(conn).execute(package_sql(__file__, "due_inbox_count")).fetchall()
            return due
        except Exception as error:  # noqa: BLE001 - the deliveries' metrics are still worth a scrape
            log.warning("webhook inbox backlog could not be read", extra={"error": safe_error_message(error)})
            return None


class _Scrape:
    """What one scrape shows: the recorded metrics, and what is computed now from them and from
    the warehouse."""

    def __init__(self, recorded: Iterable[Metric], backlog: Callable[[], float | None]):
        self.recorded, self.backlog = recorded, backlog

    def collect(self) -> Iterator[Metric]:
        for family in self.recorded:
            yield family
            if family.name == LAST_DELIVERY:
                yield _ages(family, time.time())
        backlog = self.backlog()
        if backlog is not None:
            yield GaugeMetricFamily(
                INBOX_BACKLOG,
                "Webhook events that failed to apply and whose retry is due (retried by the "
                "rdvsp_webhook_inbox_retry sensor).",
                value=backlog,
            )


def _ages(last_delivery: Metric, now: float) -> GaugeMetricFamily:
    ages = GaugeMetricFamily(
        LAST_DELIVERY_AGE,
        "Seconds since the last signed delivery, by the organisation whose endpoint received it.",
        labels=["organisation_id"],
    )
    for sample in last_delivery.samples:
        ages.add_metric([sample.labels["organisation_id"]], max(0.0, now - sample.value))
    return ages


@contextlib.contextmanager
def shared_metrics_directory(workers: int) -> Iterator[None]:
    """The folder where worker processes keep their metrics: the operator's
    `PROMETHEUS_MULTIPROC_DIR`, emptied (values of a previous run would be added to this one's),
    or with several workers and none given, a temporary folder removed at exit."""
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield
    elif workers == 1:
        yield  # one process: its metrics stay in memory
    else:
        with tempfile.TemporaryDirectory(prefix="sync-assets-metrics-") as directory:
            # Set before the workers start, so that each records into the folder from its first metric.
            os.environ[MULTIPROCESS_DIR] = directory
            try:
                yield
            finally:
                del os.environ[MULTIPROCESS_DIR]
