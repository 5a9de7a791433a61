"""Contracts of Doctolib payloads, as assumed in docs/doctolib-api.md (no public API exists).

With `client.py`, the only file to change to plug in a partner API. Types are strict: an id
sent as a string, or a timestamp without a time zone, is a changed type, so breaking drift;
so is a status outside the four we map.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, StrictInt, StrictStr

from sync_assets.platform.contract import ContractModel

Status = Literal["confirmed", "cancelled", "no_show", "done"]
AccountKind = Literal["practice", "dentist"]


def _iso_time(value: Any) -> Any:
    """ISO 8601 with a time zone ("…Z" or "…+01:00") to an aware datetime; anything else fails."""
    if not isinstance(value, str):
        raise ValueError("a timestamp must be an ISO 8601 string")
    parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    return parsed


def _iso_date(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("a date must be an ISO 8601 string")
    return date.fromisoformat(value)


Timestamp = Annotated[datetime, BeforeValidator(_iso_time)]
Day = Annotated[date, BeforeValidator(_iso_date)]


class Account(ContractModel):
    id: StrictStr | StrictInt
    name: StrictStr | None = None
    kind: AccountKind


class Practice(ContractModel):
    id: StrictInt
    name: StrictStr
    city: StrictStr | None = None
    zipcode: StrictStr | None = None


class Practitioner(ContractModel):
    id: StrictInt
    name: StrictStr


class Patient(ContractModel):
    id: StrictInt
    first_name: StrictStr | None
    last_name: StrictStr | None
    birth_date: Day | None
    phone: StrictStr | None
    email: StrictStr | None


class VisitMotive(ContractModel):
    id: StrictInt
    name: StrictStr


class Appointment(ContractModel):
    id: StrictInt
    practice_id: StrictInt
    agenda_id: StrictInt | None
    practitioner: Practitioner
    patient: Patient
    visit_motive: VisitMotive
    start_at: Timestamp
    end_at: Timestamp
    status: Status
    created_at: Timestamp
    updated_at: Timestamp
    deleted_at: Timestamp | None
