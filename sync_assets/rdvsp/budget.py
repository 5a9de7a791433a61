"""RDV Service Public's published rate limits, as the budgets every process of a deployment shares
(platform/budget.py).

The API throttles per client IP: 50 requests a minute on every `/api/v1/` path, and 20 a minute per
organisation on `GET /api/v1/rdvs` (the `organisation_id` parameter keys it). All the accounts of a
deployment leave from one IP, so the budgets are not per account.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from sync_assets.platform.budget import Budget, BudgetRule
from sync_assets.platform.errors import ConfigurationError

DEFAULT_REQUESTS_PER_MINUTE = 50.0
DEFAULT_RDV_LISTING_REQUESTS_PER_MINUTE = 20.0


def budget_rule(per_minute: float, rdv_listing_per_minute: float) -> BudgetRule:
    def budgets(method: str, endpoint: str, params: Mapping[str, Any]) -> Sequence[Budget]:
        if not endpoint.startswith("/api/v1/"):
            return ()  # OAuth and the rest: outside the API's throttles
        spent = [Budget("rdvsp", per_minute)]
        if method == "GET" and endpoint.startswith("/api/v1/rdvs"):
            organisation = params.get("organisation_id", "none")
            spent.append(Budget(f"rdvsp:rdvs:organisation:{organisation}", rdv_listing_per_minute))
        return spent

    return budgets


def configured_per_minute(name: str, default: float, given: float | None = None) -> float:
    """A budget from its variable (or `given`), checked: a positive number of requests per minute."""
    raw = given if given is not None else os.environ.get(name) or default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ConfigurationError(
            f"{name}={raw!r} is not a budget: give a positive number of requests per minute "
            f"(RDV Service Public publishes {default:g})."
        )
    return value
