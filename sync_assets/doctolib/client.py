"""A Doctolib account's client: its key and the API's address from the environment, on the
platform's HTTP client with one rate limiter per key.

What the sync reads is declared in `listings.py`, with the contract in `models.py`: with this
file, the ones to change to plug in a partner API. The contract assumed here is documented in
docs/doctolib-api.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

import httpx

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.http import ApiClient, BearerKey, RetryPolicy, Timeouts, shared_rate_limiter

KEY_PREFIX = "DOCTOLIB_API_KEY_"
ACCOUNT_NAME = re.compile(r"^[a-z0-9_]+$")


def api_keys(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Account name -> API key, from every non-empty `DOCTOLIB_API_KEY_<ACCOUNT>` variable.

    The account name is `<ACCOUNT>` in lower case: `DOCTOLIB_API_KEY_CABINET_NORD` -> `cabinet_nord`.
    """
    environ = os.environ if environ is None else environ
    keys = {}
    for variable, value in environ.items():
        if variable.startswith(KEY_PREFIX) and value.strip():
            name = variable[len(KEY_PREFIX) :].lower()
            if not ACCOUNT_NAME.match(name):
                raise ConfigurationError(
                    f"{variable}: the account name after {KEY_PREFIX} may hold only letters, digits and underscores."
                )
            keys[name] = value.strip()
    return keys


def base_url(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    url = (environ.get("DOCTOLIB_BASE_URL") or "").strip()
    if not url:
        raise ConfigurationError(
            "DOCTOLIB_BASE_URL is not set: set it to the Doctolib API's base URL "
            "(the sandbox's is printed by `sync-assets sandbox`)."
        )
    return url.rstrip("/")


ClientFactory = Callable[[str, str], "DoctolibClient"]  # (account name, API key) -> client


def client_factory(base_url: str, requests_per_second: float = 20.0, **options) -> ClientFactory:
    return lambda account, key: DoctolibClient(
        base_url, account, key, requests_per_second=requests_per_second, **options
    )


class DoctolibClient:
    """One account's view of the API (one API key)."""

    def __init__(
        self,
        base_url: str,
        account: str,
        api_key: str,
        *,
        requests_per_second: float = 20.0,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.account = account
        # The API limits each key: one limiter per key, shared by every run in the process.
        limiter = shared_rate_limiter(f"doctolib:{account}", requests_per_second, max(1, int(requests_per_second)))
        self.http = ApiClient(
            "doctolib",
            base_url,
            auth=BearerKey(api_key),
            rate_limiter=limiter,
            retry=retry or RetryPolicy(),
            timeouts=timeouts or Timeouts(),
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DoctolibClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def account_profile(self) -> dict:
        """The account behind the key: `{"id", "name", "kind": "practice"|"dentist"}`."""
        return self.http.get_json("/v1/account")
