"""Dagster resource for the RDV Service Public API (OAuth application, webhook target, rate)."""

import os

import dagster as dg
from sqlalchemy import Engine

from sync_assets.platform.http import RefreshingBearer, shared_rate_limiter
from sync_assets.platform.secrets import TokenCipher
from sync_assets.rdvsp.client import RdvspClient
from sync_assets.rdvsp.oauth import DEFAULT_REDIRECT_URI, AccountTokens, RdvspSettings


class RdvspApiResource(dg.ConfigurableResource):
    """RDV Service Public: the server, our OAuth application, where webhooks should go.

    The API publishes no rate limit for authenticated calls: we stay under
    `requests_per_second` per process and honour 429/Retry-After.
    """

    base_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str | None = None
    webhook_url: str | None = None
    requests_per_second: float = 10.0

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
        limiter = shared_rate_limiter("rdvsp", self.requests_per_second, max(1, int(self.requests_per_second)))
        return RdvspClient(settings, RefreshingBearer(tokens), rate_limiter=limiter)
