"""Dagster resource for the Doctolib API: where it is, and the keys of the accounts."""

import dagster as dg

from sync_assets.doctolib.client import ClientFactory, api_keys, base_url, client_factory


class DoctolibApiResource(dg.ConfigurableResource):
    """Doctolib: the server and the client-side rate per API key.

    Keys come from `DOCTOLIB_API_KEY_<ACCOUNT>` variables, read when a run needs them, so that
    adding an account needs no change to the definitions.
    """

    base_url: str | None = None
    """The API server; when None, DOCTOLIB_BASE_URL, and a clear error when that is unset too."""
    requests_per_second: float = 20.0

    def api_keys(self) -> dict[str, str]:
        return api_keys()

    def clients(self) -> ClientFactory:
        return client_factory((self.base_url or base_url()).rstrip("/"), self.requests_per_second)
