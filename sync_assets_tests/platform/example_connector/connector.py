"""The connector, declared: its tables, its one listing, its partition source and its registration."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from sync_assets.platform.http import ApiClient, BearerKey, Cursors, RetryPolicy, Timeouts
from sync_assets.platform.listing import Incremental, Listing, Tenant
from sync_assets.platform.merge import TableSpec
from sync_assets.platform.partition_assets import partition_definitions
from sync_assets.platform.partition_sync import PartitionSource
from sync_assets.platform.registry import Connector, SyncRequest

from . import models

CUSTOMERS = TableSpec("example.customers", ("id",), ("id", "name", "email"))
INVOICES = TableSpec(
    "example.invoices", ("id",), ("id", "company_id", "number", "customer_id", "amount_cents", "status", "updated_at")
)


def invoice_rows(invoice: models.Invoice, scope, _) -> list:
    """Its customer's row and its own, each column read by name from the record."""
    return [
        (spec, tuple(getattr(record, c) for c in spec.columns))
        for spec, record in ((CUSTOMERS, invoice.customer), (INVOICES, invoice))
    ]


INVOICES_LISTING = Listing(
    "invoices",
    "/v1/companies/{company_id}/invoices",
    ("data",),
    models.Invoice,
    rows=invoice_rows,
    paginator=Cursors(),
    params=lambda scope: {"limit": 25},
    tenant=Tenant(lambda invoice: invoice.company_id, "company_id", "other_company"),
    incremental=Incremental("updated_at", "updated_since", lookback=timedelta(minutes=5)),
)
SOURCE = PartitionSource("example", "company_id", INVOICES_LISTING, (CUSTOMERS, INVOICES), owned=INVOICES)
companies = dg.DynamicPartitionsDefinition(name="example_companies")


class ExampleApiResource(dg.ConfigurableResource):
    base_url: str
    api_key: str

    def client(self, retry: RetryPolicy | None = None, timeouts: Timeouts | None = None) -> ApiClient:
        return ApiClient(
            "example",
            self.base_url,
            auth=BearerKey(self.api_key),
            retry=retry or RetryPolicy(),
            timeouts=timeouts or Timeouts(),
        )


def sync_request(company_id: int | str, *, full_refresh: bool = False) -> SyncRequest:
    return SyncRequest(
        str(company_id),
        {"example_partition_sync": {"config": {"full_refresh": full_refresh}}},
        {"sync_assets/company": str(company_id)},
    )


def definitions() -> dg.Definitions:
    return partition_definitions(
        SOURCE,
        partitions=companies,
        resource_key="example",
        client=lambda api, _: api.client(),
        descriptions={
            "customers": "Customers of synced invoices (personal data: names and emails).",
            "invoices": "Invoices of one company per partition, incremental on updated_at.",
        },
    )


def resources(base_url: str = "http://127.0.0.1:9", api_key: str = "unset") -> dict:
    return {"example": ExampleApiResource(base_url=base_url, api_key=api_key)}


CONNECTOR = Connector(
    name="example",
    title="Example invoicing API",
    partition="company",
    partitions=companies.name,
    sync_job="example_sync",
    tables=SOURCE.tables,
    listings=(INVOICES_LISTING,),
    definitions=definitions,
    resources=resources,
    request=sync_request,
    sync_arguments=lambda parser: None,
    sync_requests=lambda args, url: [sync_request(company) for company in (1, 2)],
)
