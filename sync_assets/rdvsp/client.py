"""RDV Service Public API calls used by the sync, on the platform's HTTP client."""

from __future__ import annotations

from typing import Any

import httpx

from sync_assets.platform.http import ApiClient, PageNumbers, RequestBudget, RetryPolicy, Timeouts
from sync_assets.rdvsp.oauth import RdvspSettings

# Models we subscribe our webhooks to: those the receiver applies.
WEBHOOK_SUBSCRIPTIONS = ("rdv", "user", "user_profile", "organisation", "motif", "lieu", "agent", "agent_role")
# Answers that refuse a write for good (forbidden, not found, invalid): returned to the caller.
REFUSALS = frozenset({403, 404, 422})


class RdvspClient:
    """One account's calls to the API, other than the listings a sync reads (`listings.py`)."""

    def __init__(
        self,
        settings: RdvspSettings,
        auth: httpx.Auth,
        *,
        rate_limiter=None,
        budget: RequestBudget | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.http = ApiClient(
            "rdvsp",
            settings.base_url.rstrip("/"),
            auth=auth,
            rate_limiter=rate_limiter,
            budget=budget,
            retry=retry or RetryPolicy(),
            timeouts=timeouts or Timeouts(),
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def me(self) -> dict:
        return self.http.get_json("/api/v1/agents/me")

    def rdv(self, rdv_id: int) -> dict | None:
        """One RDV as the listing gives it (None when the agent does not see it any more)."""
        body = self.http.get_json("/api/v1/rdvs", {"id[]": [rdv_id]})
        rdvs = body.get("rdvs") if isinstance(body, dict) else None
        return next((r for r in rdvs or [] if isinstance(r, dict) and r.get("id") == rdv_id), None)

    def user(self, user_id: int) -> dict:
        """`GET /users/{id}`: the user, with its profiles in the agent's organisations."""
        return self.http.get_json(f"/api/v1/users/{user_id}")

    def update_rdv_status(self, rdv_id: int, status: str) -> httpx.Response:
        """Set an RDV's attendance status (idempotent: the same status twice is one change).
        Returns the response, 403, 404 and 422 included, for the caller to record why it failed."""
        response, _ = self.http.request(
            "PATCH", f"/api/v1/rdvs/{rdv_id}/update_status", json_body={"status": status}, handled_statuses=REFUSALS
        )
        return response

    def create_rdv_plan(self, body: dict) -> tuple[httpx.Response, Any]:
        """`POST /rdv_plans`. Never repeated once it may have reached the server (it is not
        idempotent: each call makes a plan); ApiError.outcome_unknown then says so."""
        return self.http.request(
            "POST", "/api/v1/rdv_plans", json_body=body, expect_json=True, handled_statuses=REFUSALS, idempotent=False
        )

    def rdv_plan(self, plan_id: int) -> tuple[httpx.Response, Any]:
        return self.http.request(
            "GET", f"/api/v1/rdv_plans/{plan_id}", expect_json=True, handled_statuses=frozenset({403, 404})
        )

    def webhook_endpoints(self, organisation_id: int, target_url: str) -> list:
        """The organisation's endpoints with this target (ours), as listed."""
        path = f"/api/v1/organisations/{organisation_id}/webhook_endpoints"
        return [
            endpoint
            for page in PageNumbers().pages(self.http, path, {"target_url": target_url})
            for endpoint in page.data.get("webhook_endpoints", [])
        ]

    def unsubscribe_webhook_endpoint(self, organisation_id: int, endpoint_id: int) -> httpx.Response:
        """Our endpoint subscribed to nothing: the API cannot delete an endpoint, only update it."""
        response, _ = self.http.request(
            "PATCH",
            f"/api/v1/organisations/{organisation_id}/webhook_endpoints/{endpoint_id}",
            json_body={"subscriptions": [], "trigger": False},
            handled_statuses=REFUSALS,
        )
        return response

    def save_webhook_endpoint(
        self, organisation_id: int, target_url: str, secret: str, endpoint_id: int | None = None
    ) -> httpx.Response:
        """Create (or update) an endpoint, never replaying every record (`trigger: false`).

        Returns the response, 403 and 422 included, for the caller to record why it failed.
        """
        path = f"/api/v1/organisations/{organisation_id}/webhook_endpoints"
        response, _ = self.http.request(
            "PATCH" if endpoint_id else "POST",
            f"{path}/{endpoint_id}" if endpoint_id else path,
            json_body={
                "target_url": target_url,
                "secret": secret,
                "subscriptions": list(WEBHOOK_SUBSCRIPTIONS),
                "trigger": False,
            },
            handled_statuses=REFUSALS,
        )
        return response
