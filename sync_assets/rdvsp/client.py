"""RDV Service Public API calls used by the sync, on the platform's HTTP client."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

import httpx

from sync_assets.platform.http import ApiClient, Page, RetryPolicy, Timeouts, paginate_by_page_number
from sync_assets.rdvsp.oauth import RdvspSettings

# Models we subscribe our webhooks to: those the receiver applies.
WEBHOOK_SUBSCRIPTIONS = ("rdv", "user", "user_profile", "organisation", "motif", "lieu", "agent", "agent_role")
IDS_PER_LOOKUP = 50  # RDV ids per `id[]` lookup (keeps the URL short)
# Answers that refuse a write for good (forbidden, not found, invalid): returned to the caller.
REFUSALS = frozenset({403, 404, 422})


class RdvspClient:
    def __init__(self, settings: RdvspSettings, auth: httpx.Auth, *, rate_limiter=None,
                 retry: RetryPolicy | None = None, timeouts: Timeouts | None = None,
                 transport: httpx.BaseTransport | None = None):
        self.http = ApiClient("rdvsp", settings.base_url.rstrip("/"), auth=auth, rate_limiter=rate_limiter,
                              retry=retry or RetryPolicy(), timeouts=timeouts or Timeouts(), transport=transport)
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    def _pages(self, endpoint: str, params: dict[str, Any] | None = None) -> Iterator[Page]:
        for page in paginate_by_page_number(self.http, endpoint, params):
            self.requests += 1
            yield page

    def me(self) -> dict:
        self.requests += 1
        return self.http.get_json("/api/v1/agents/me")

    def organisations(self) -> Iterator[Page]:
        return self._pages("/api/v1/organisations")

    def organisation_users(self, organisation_id: int) -> Iterator[Page]:
        return self._pages(f"/api/v1/organisations/{organisation_id}/users")

    def motifs(self, organisation_id: int) -> Iterator[Page]:
        return self._pages(f"/api/v1/organisations/{organisation_id}/motifs")

    def lieux(self, organisation_id: int) -> Iterator[Page]:
        return self._pages("/api/v1/lieux", {"organisation_id": organisation_id})

    def agents(self, organisation_id: int) -> Iterator[Page]:
        return self._pages("/api/v1/agents", {"organisation_id": organisation_id})

    def rdvs(self, organisation_id: int, starts_after: date) -> Iterator[Page]:
        return self._pages("/api/v1/rdvs", {"organisation_id": organisation_id, "starts_after": starts_after.isoformat()})

    def rdvs_by_id(self, ids: Iterable[int]) -> Iterator[Page]:
        ids = sorted(ids)
        for start in range(0, len(ids), IDS_PER_LOOKUP):
            yield from self._pages("/api/v1/rdvs", {"id[]": ids[start:start + IDS_PER_LOOKUP]})

    def webhook_endpoints(self, organisation_id: int, target_url: str | None = None) -> Iterator[Page]:
        params = {"target_url": target_url} if target_url else None
        return self._pages(f"/api/v1/organisations/{organisation_id}/webhook_endpoints", params)

    def user(self, user_id: int) -> dict:
        """`GET /users/{id}`: the user, with its profiles in the agent's organisations."""
        self.requests += 1
        return self.http.get_json(f"/api/v1/users/{user_id}")

    def update_rdv_status(self, rdv_id: int, status: str) -> httpx.Response:
        """Set an RDV's attendance status (idempotent: the same status twice is one change).
        Returns the response, 403, 404 and 422 included, for the caller to record why it failed."""
        self.requests += 1
        response, _ = self.http.request("PATCH", f"/api/v1/rdvs/{rdv_id}/update_status", json_body={"status": status},
                                        handled_statuses=REFUSALS)
        return response

    def create_rdv_plan(self, body: dict) -> tuple[httpx.Response, Any]:
        """`POST /rdv_plans`. Never repeated once it may have reached the server (it is not
        idempotent: each call makes a plan); ApiError.outcome_unknown then says so."""
        self.requests += 1
        return self.http.request("POST", "/api/v1/rdv_plans", json_body=body, expect_json=True,
                                 handled_statuses=REFUSALS, idempotent=False)

    def rdv_plan(self, plan_id: int) -> tuple[httpx.Response, Any]:
        self.requests += 1
        return self.http.request("GET", f"/api/v1/rdv_plans/{plan_id}", expect_json=True,
                                 handled_statuses=frozenset({403, 404}))

    def unsubscribe_webhook_endpoint(self, organisation_id: int, endpoint_id: int) -> httpx.Response:
        """Our endpoint subscribed to nothing: the API cannot delete an endpoint, only update it."""
        self.requests += 1
        response, _ = self.http.request(
            "PATCH", f"/api/v1/organisations/{organisation_id}/webhook_endpoints/{endpoint_id}",
            json_body={"subscriptions": [], "trigger": False}, handled_statuses=REFUSALS)
        return response

    def save_webhook_endpoint(self, organisation_id: int, target_url: str, secret: str,
                              endpoint_id: int | None = None) -> httpx.Response:
        """Create (or update) an endpoint, never replaying every record (`trigger: false`).

        Returns the response, 403 and 422 included, for the caller to record why it failed.
        """
        path = f"/api/v1/organisations/{organisation_id}/webhook_endpoints"
        self.requests += 1
        response, _ = self.http.request(
            "PATCH" if endpoint_id else "POST", f"{path}/{endpoint_id}" if endpoint_id else path,
            json_body={"target_url": target_url, "secret": secret, "subscriptions": list(WEBHOOK_SUBSCRIPTIONS),
                       "trigger": False},
            handled_statuses=REFUSALS)
        return response
