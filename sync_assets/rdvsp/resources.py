"""Dagster resource for the RDV Service Public API (OAuth application, webhook target, rate)."""

import os

import dagster as dg
from sqlalchemy import Engine

from sync_assets.platform.budget import SharedBudgets
from sync_assets.platform.http import RefreshingBearer
from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.warehouse import libpq_url
from sync_assets.rdvsp.budget import (
    DEFAULT_RDV_LISTING_REQUESTS_PER_MINUTE,
    DEFAULT_REQUESTS_PER_MINUTE,
    budget_rule,
    configured_per_minute,
)
from sync_assets.rdvsp.client import RdvspClient
from sync_assets.rdvsp.oauth import DEFAULT_REDIRECT_URI, AccountTokens, RdvspSettings


class RdvspApiResource(dg.ConfigurableResource):
    """RDV Service Public: the server, our OAuth application, where webhooks should go.

    Its calls keep to the API's published budgets, shared by every process of the deployment
    (rdvsp/budget.py): `requests_per_minute` (RDVSP_REQUESTS_PER_MINUTE, 50) on every call and
    `rdv_listing_requests_per_minute` (RDVSP_RDV_LISTING_REQUESTS_PER_MINUTE, 20) per organisation
    on RDV listings.
    """

    base_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str | None = None
    webhook_url: str | None = None
    requests_per_minute: float | None = None
    rdv_listing_requests_per_minute: float | None = None

    def settings(self) -> RdvspSettings:
        """The application's settings; ConfigurationError naming the variable when one is missing."""
        if not (self.base_url and self.client_id and self.client_secret):
            return RdvspSettings.from_environment()
        return RdvspSettings(
            base_url=self.base_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=self.redirect_uri or os.environ.get("RDVSP_REDIRECT_URI") or DEFAULT_REDIRECT_URI,
            webhook_url=self.webhook_url or os.environ.get("RDVSP_WEBHOOK_URL") or None,
        )

    def client_for(self, engine: Engine, account_id: int, cipher: TokenCipher) -> RdvspClient:
        settings = self.settings()
        tokens = AccountTokens(engine, account_id, settings, cipher)
        return RdvspClient(settings, RefreshingBearer(tokens), budget=self.budgets(engine))

    def budgets(self, engine: Engine) -> SharedBudgets:
        """The deployment's shared budgets, kept in the warehouse of `engine`."""
        rule = budget_rule(
            configured_per_minute("RDVSP_REQUESTS_PER_MINUTE", DEFAULT_REQUESTS_PER_MINUTE, self.requests_per_minute),
            configured_per_minute(
                "RDVSP_RDV_LISTING_REQUESTS_PER_MINUTE",
                DEFAULT_RDV_LISTING_REQUESTS_PER_MINUTE,
                self.rdv_listing_requests_per_minute,
            ),
        )
        return SharedBudgets(libpq_url(engine.url.render_as_string(hide_password=False)), rule, connector="rdvsp")
