"""The executor of every job: Dagster's default (a process per step, or in-process), or Celery
workers when the deployment names a broker, so that runs spread over several machines.

With `SYNC_CELERY_BROKER_URL` set (for example `redis://redis:6379/0`), each step is a Celery task
taken by whichever worker is free; the workers are started with the same broker
(`dagster-celery worker start -A dagster_celery.app -y deploy/dagster.celery.yaml`). Pools and the
run queue's limits still hold: they are the instance's, whatever executes the steps.
"""

from __future__ import annotations

import os

import dagster as dg

from sync_assets.platform.errors import ConfigurationError

CELERY_BROKER_VARIABLE = "SYNC_CELERY_BROKER_URL"
# The broker also carries the results: one service to run, and Redis keeps both well.
CELERY_CONFIG = {"broker": {"env": CELERY_BROKER_VARIABLE}, "backend": {"env": CELERY_BROKER_VARIABLE}}


def configured_executor() -> dg.ExecutorDefinition | None:
    """Celery's executor when a broker is configured; None (Dagster's default) otherwise."""
    if not os.environ.get(CELERY_BROKER_VARIABLE):
        return None
    try:
        from dagster_celery import celery_executor
    except ImportError as error:
        raise ConfigurationError(
            f"{CELERY_BROKER_VARIABLE} is set but dagster-celery is not installed: "
            "pip install -c constraints.txt '.[celery]', or unset it to run steps without Celery."
        ) from error
    return celery_executor.configured(CELERY_CONFIG, name="celery")
