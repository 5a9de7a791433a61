"""Contracts of RDV Service Public payloads (OpenAPI v1, 2025 version, and the blueprints).

Fields the spec requires are required here: their absence is breaking drift. Fields that only
some versions of the API send are optional. Closed value sets are Literals: a value outside
them is breaking drift too (a status we do not know cannot be mapped). Fields the API sends
that we do not store are declared anyway (typed `Any`), so they are not reported as unknown.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BeforeValidator

from sync_assets.platform.contract import ContractModel

Status = Literal["unknown", "seen", "noshow", "excused", "revoked"]
CreatorType = Literal["Agent", "User", "FileAttente", "Prescripteur"]
Creator = Literal["agent", "user", "file_attente", "prescripteur"]


def _rails_time(value: Any) -> Any:
    """ "2022-01-01 08:00:00 +0100" (Rails) or ISO 8601, to an aware datetime."""
    if not isinstance(value, str):
        return value
    if len(value) == 25 and value[19] == " " and value[20] in "+-":
        # Rails' form: reshape the offset to ISO ("+01:00") for the fast C parser.
        value = f"{value[:19]}{value[20:23]}:{value[23:]}"
    elif value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    return parsed


Timestamp = Annotated[datetime, BeforeValidator(_rails_time)]


def parse_timestamp(value: str) -> datetime:
    """A timestamp as the API sends it, for code that reads payloads without a model."""
    return _rails_time(value)


class Organisation(ContractModel):
    id: int
    name: str
    email: str | None
    phone_number: str | None
    verticale: str | None = None
    website: str | None = None
    time_zone: str | None = None
    public_link_id: Any = None


class Agent(ContractModel):
    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    inclusion_connect_open_id_sub: Any = None


class MotifCategory(ContractModel):
    id: int
    name: str
    short_name: str | None


class Motif(ContractModel):
    id: int
    name: str
    organisation_id: int
    location_type: Literal["public_office", "phone", "home", "visio"]
    bookable_publicly: bool
    bookable_by: Literal["agents", "agents_and_prescripteurs", "agents_and_prescripteurs_and_invited_users", "everyone"]
    service_id: int | None
    deleted_at: Timestamp | None
    motif_category: MotifCategory | None = None
    collectif: bool | None = None
    follow_up: bool | None = None
    instruction_for_rdv: str | None = None
    default_duration_in_min: int | None = None
    min_public_booking_delay: int | None = None
    max_public_booking_delay: int | None = None


class Lieu(ContractModel):
    id: int
    name: str
    address: str
    organisation_id: int
    phone_number: str | None
    single_use: bool
    latitude: float | None = None
    longitude: float | None = None


class User(ContractModel):
    id: int
    first_name: str | None
    last_name: str | None
    birth_name: str | None
    birth_date: date | None
    address: str | None
    address_details: str | None
    affiliation_number: str | None
    phone_number: str | None
    phone_number_formatted: str | None
    notify_by_sms: bool
    notify_by_email: bool
    invitation_created_at: Timestamp | None
    invitation_accepted_at: Timestamp | None
    responsible_id: int | None
    created_at: Timestamp | None
    email: str | None = None
    notification_email: str | None = None
    caisse_affiliation: Literal["aucun", "caf", "msa"] | None = None
    family_situation: str | None = None
    number_of_children: int | None = None
    case_number: str | None = None
    logement: str | None = None
    notes: str | None = None
    responsible: Any = None
    user_profiles: Any = None


class Participation(ContractModel):
    id: int
    status: Status
    user: User
    created_by_type: Literal["Agent", "User", "Prescripteur"]
    send_lifecycle_notifications: bool
    send_reminder_notification: bool
    created_by_id: int | None = None
    created_by: Literal["agent", "user", "prescripteur"] | None = None
    created_by_agent_prescripteur: bool | None = None
    prescription: Any = None


class Rdv(ContractModel):
    id: int
    uuid: UUID
    status: Status
    starts_at: Timestamp
    duration_in_min: int
    address: str | None
    context: str | None
    cancelled_at: Timestamp | None
    max_participants_count: int | None
    users_count: int
    name: str | None
    collectif: bool
    created_by_type: CreatorType
    organisation: Organisation
    motif: Motif
    lieu: Lieu | None  # the spec's plain $ref is wrong here: RDVs by phone or at home have no lieu
    agents: list[Agent]
    participations: list[Participation]
    # Deprecated by the API, still sent: the same users as participations[].user (validated
    # there), so only its presence and shape are checked here.
    users: list[dict[str, Any]]
    ends_at: Timestamp | None = None
    created_by_id: int | None = None
    created_by: Creator | None = None
    created_at: Timestamp | None = None
    url_for_agents: str | None = None
    visio_url: str | None = None


class WebhookEndpoint(ContractModel):
    id: int
    target_url: str
    organisation_id: int
    subscriptions: list[str] = []
    secret: Any = None  # write-only in practice: never returned


class UserProfile(ContractModel):
    organisation: Organisation
    user: User


class AgentRole(ContractModel):
    agent: Agent
    organisation: Organisation
    access_level: str | None = None
    id: int | None = None


class RdvPlanRdv(ContractModel):
    id: int
    status: Status | None = None
    starts_at: Timestamp | None = None
    location_type: str | None = None


class RdvPlan(ContractModel):
    """`POST /rdv_plans` and `GET /rdv_plans/{id}` (examples of the 2025 spec)."""

    id: int
    url: str
    user_id: int
    created_at: Timestamp
    updated_at: Timestamp | None = None
    rdv: RdvPlanRdv | None = None
