"""Declarative listings, read by one engine.

A listing is data: where to read it (an endpoint and query parameters, filled from the scope of
the run), how it pages (a paginator reading the next page from the body), where its records are
in a page, their contract (a pydantic model), the rows a record becomes (row mappers to
`TableSpec`s), whose rows they must be (the tenant rule), and its incremental cursor when the API
has one. A connector declares its listings; `ListingReader` reads them for a run: it fetches the
next page while the current one is processed, lands every page raw, validates its records,
applies the tenant rule, stages their rows, and counts pages, records and requests.

What is really a connector's own (RDV Service Public's skip of pages it applied before, say) uses
the reader's steps one by one: `pages`, then `stage` or `records` for each page.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import chain, islice
from typing import Any

from sync_assets.platform.contract import ContractModel, ContractResult, validate_batch
from sync_assets.platform.errors import ApiError
from sync_assets.platform.http import ApiClient, Page, PageNumbers, Paginator, dig, prefetched
from sync_assets.platform.merge import Stager, TableSpec
from sync_assets.platform.progress import Progress
from sync_assets.platform.raw import BackgroundLander

Scope = Mapping[str, Any]  # what a run reads: the account, the organisation, the poll's moment…
Rows = Iterable[tuple[TableSpec, tuple]]
RowMapper = Callable[[Any, Scope, Any], Rows]  # (record, scope, its payload when kept) -> rows to stage


@dataclass(frozen=True)
class Tenant:
    """Rows of a listing must belong to the run's tenants: `of(record)` is a record's, and a record
    of another is refused as breaking drift (`field`, `error`) and never stored."""

    of: Callable[[Any], object]
    field: str
    error: str


@dataclass(frozen=True)
class Incremental:
    """The listing can be asked for what changed since a moment (`parameter`); `field` is the
    record's time of change, whose highest value read is the next cursor. A run asks from its
    cursor less `lookback` (clock skew, late writes): re-read rows that did not change merge as noop."""

    field: str
    parameter: str
    lookback: timedelta = timedelta(0)


@dataclass(frozen=True)
class Listing:
    entity: str  # the contract's name, in drift events and checks
    endpoint: str  # formatted with the scope, e.g. "/api/v1/organisations/{organisation_id}/motifs"
    records: tuple[str, ...]  # where the records are in a page
    model: type[ContractModel]
    rows: RowMapper
    paginator: Paginator = PageNumbers()
    params: Callable[[Scope], Mapping[str, Any]] = lambda scope: {}
    tenant: Tenant | None = None
    incremental: Incremental | None = None
    keep_payloads: bool = False  # the row mappers get each record's payload as received
    total: tuple[str, ...] | None = None  # where a page gives the listing's total count


@dataclass
class ListingRead:
    """What reading a listing found."""

    records: int = 0  # records the API returned (valid or not)
    total: int = 0  # the API's own count, when the listing says where it is
    valid: list = field(default_factory=list)  # the valid records, when asked for (`keep=True`)
    rejected_ids: set = field(default_factory=set)  # ids of records refused: listed, so present at the API
    since: datetime | None = None  # what an incremental read asked from (its cursor less the lookback)
    high_water: datetime | None = None  # the latest time of change read, never before the cursor


class ListingReader:
    """Reads a connector's listings for one run, staging their rows (when given a stager) and
    landing their pages raw (when given a lander)."""

    def __init__(
        self,
        http: ApiClient,
        contracts: dict[str, ContractResult],
        *,
        stager: Stager | None = None,
        lander: BackgroundLander | None = None,
        progress: Progress | None = None,
        prefetch: bool = True,
    ):
        self.http, self.contracts, self.stager, self.lander = http, contracts, stager, lander
        self.progress, self.prefetch = progress, prefetch
        self.pages_read = 0
        self.records_read = 0

    def read(
        self,
        listing: Listing,
        scope: Scope,
        *,
        tenants: Collection[object] | None = None,
        cursor: datetime | None = None,
        lookback: timedelta | None = None,
        keep: bool = False,
    ) -> ListingRead:
        """Every page of `listing` for `scope`, staged; of an incremental listing with a `cursor`,
        only what changed since it, less `lookback` (the listing's own by default)."""
        found = ListingRead(high_water=cursor)
        if cursor is not None and listing.incremental is not None:
            found.since = cursor - (listing.incremental.lookback if lookback is None else lookback)
        for page in self.pages(listing, scope, since=found.since):
            self.stage(listing, page, scope, found, tenants=tenants, keep=keep)
        return found

    def pages(
        self,
        listing: Listing,
        scope: Scope,
        *,
        since: datetime | None = None,
        params: Mapping[str, Any] | None = None,
        first_alone: bool = False,
    ) -> Iterator[Page]:
        """The pages of `listing` for `scope`, landed and counted (the next one fetched meanwhile).
        With `first_alone`, nothing is fetched ahead of the first page: a caller that may stop
        after it spends one request."""
        query = {**listing.params(scope), **(params or {})}
        if since is not None and listing.incremental is not None:
            query[listing.incremental.parameter] = since.astimezone(timezone.utc).isoformat(timespec="microseconds")
        pages = listing.paginator.pages(self.http, listing.endpoint.format(**scope), query)
        first = list(islice(pages, 1)) if first_alone else []
        for page in chain(first, prefetched(pages) if self.prefetch else pages):
            if self.lander is not None:
                self.lander.land(page)
            self.pages_read += 1
            yield page

    def items(self, listing: Listing, page: Page) -> list:
        """A page's records, counted; ApiError when the page has none where the listing says."""
        items = dig(page.data, listing.records)
        if not isinstance(items, list):
            raise ApiError(
                self.http.connector, "GET", page.endpoint, f"the response has no `{'.'.join(listing.records)}` list"
            )
        self.records_read += len(items)
        if self.progress is not None:
            self.progress.page(len(items))
        return items

    def stage(
        self,
        listing: Listing,
        page: Page,
        scope: Scope,
        found: ListingRead,
        *,
        tenants: Collection[object] | None = None,
        keep: bool = False,
    ) -> ContractResult:
        """Validate a page's records, refuse those of other tenants, and stage the rows of the rest."""
        items = self.items(listing, page)
        result = validate_batch(listing.model, items, entity=listing.entity, keep_payloads=listing.keep_payloads)
        if listing.tenant is not None and tenants is not None:
            result.keep_tenant(listing.tenant.of, tenants, listing.tenant.field, listing.tenant.error)
        self.contracts.setdefault(listing.entity, ContractResult(listing.entity)).merge(result, keep_valid=False)
        payloads = result.valid_payloads if listing.keep_payloads else [None] * len(result.valid)
        for record, payload in zip(result.valid, payloads, strict=True):
            if self.stager is not None:
                for spec, row in listing.rows(record, scope, payload):
                    self.stager.add(spec, row)
            if listing.incremental is not None:
                changed = getattr(record, listing.incremental.field)
                if found.high_water is None or changed > found.high_water:
                    found.high_water = changed
        found.records += len(items)
        if listing.total is not None:
            found.total = dig(page.data, listing.total) or 0
        if keep:
            found.valid += result.valid
        if result.rejected:
            valid_ids = {getattr(record, "id", None) for record in result.valid}
            found.rejected_ids |= {
                item["id"]
                for item in items
                if isinstance(item, dict) and isinstance(item.get("id"), int) and item["id"] not in valid_ids
            }
        return result
