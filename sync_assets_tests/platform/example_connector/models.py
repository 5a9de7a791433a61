"""The contract of the API's payloads: strict types, so a retyped field is breaking drift."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, StrictInt, StrictStr

from sync_assets.platform.contract import ContractModel


class Customer(ContractModel):
    id: StrictInt
    name: StrictStr  # personal data: kept in example.customers only, never logged
    email: StrictStr | None = None


class Invoice(ContractModel):
    id: StrictInt
    company_id: StrictInt
    number: StrictStr
    customer: Customer
    amount_cents: StrictInt
    status: Literal["draft", "sent", "paid", "cancelled"]
    updated_at: AwareDatetime

    @property
    def customer_id(self) -> int:
        return self.customer.id
