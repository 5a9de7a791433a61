"""The synced tables of RDV Service Public and how a validated payload becomes their rows."""

from __future__ import annotations

from datetime import datetime

from sync_assets.platform.merge import ParentLink, TableSpec
from sync_assets.rdvsp import models

VERSIONED = {"untracked": ("last_event_at",), "version_column": "last_event_at"}

ORGANISATIONS = TableSpec(
    "rdvsp.organisations",
    ("id",),
    ("id", "name", "email", "phone_number", "verticale", "website", "time_zone", "last_event_at"),
    **VERSIONED,
)
ACCOUNT_ORGANISATIONS = TableSpec(
    "rdvsp.account_organisations", ("account_id", "organisation_id"), ("account_id", "organisation_id")
)
AGENTS = TableSpec("rdvsp.agents", ("id",), ("id", "email", "first_name", "last_name", "last_event_at"), **VERSIONED)
AGENT_ROLES = TableSpec(
    "rdvsp.agent_roles", ("organisation_id", "agent_id"), ("organisation_id", "agent_id", "last_event_at"), **VERSIONED
)
# From AgentRole webhooks, which carry the access level (listings do not).
AGENT_ROLE_LEVELS = TableSpec(
    "rdvsp.agent_roles",
    ("organisation_id", "agent_id"),
    ("organisation_id", "agent_id", "access_level", "last_event_at"),
    **VERSIONED,
)
USERS = TableSpec(
    "rdvsp.users",
    ("id",),
    (
        "id",
        "first_name",
        "last_name",
        "birth_name",
        "birth_date",
        "email",
        "notification_email",
        "address",
        "address_details",
        "phone_number",
        "phone_number_formatted",
        "caisse_affiliation",
        "affiliation_number",
        "family_situation",
        "number_of_children",
        "notify_by_sms",
        "notify_by_email",
        "invitation_created_at",
        "invitation_accepted_at",
        "responsible_id",
        "case_number",
        "logement",
        "notes",
        "created_at",
        "last_event_at",
    ),
    **VERSIONED,
)
USER_PROFILES = TableSpec(
    "rdvsp.user_profiles", ("organisation_id", "user_id"), ("organisation_id", "user_id", "last_event_at"), **VERSIONED
)
MOTIFS = TableSpec(
    "rdvsp.motifs",
    ("id",),
    (
        "id",
        "organisation_id",
        "name",
        "location_type",
        "bookable_by",
        "bookable_publicly",
        "service_id",
        "collectif",
        "follow_up",
        "instruction_for_rdv",
        "motif_category_id",
        "motif_category_name",
        "motif_category_short_name",
        "default_duration_in_min",
        "min_public_booking_delay",
        "max_public_booking_delay",
        "deleted_at",
        "last_event_at",
    ),
    **VERSIONED,
)
LIEUX = TableSpec(
    "rdvsp.lieux",
    ("id",),
    (
        "id",
        "organisation_id",
        "name",
        "address",
        "phone_number",
        "single_use",
        "latitude",
        "longitude",
        "last_event_at",
    ),
    **VERSIONED,
)
RDVS = TableSpec(
    "rdvsp.rdvs",
    ("id",),
    (
        "id",
        "uuid",
        "organisation_id",
        "motif_id",
        "lieu_id",
        "status",
        "starts_at",
        "ends_at",
        "duration_in_min",
        "address",
        "context",
        "name",
        "collectif",
        "max_participants_count",
        "users_count",
        "cancelled_at",
        "created_at",
        "created_by",
        "created_by_type",
        "created_by_id",
        "agent_ids",
        "url_for_agents",
        "visio_url",
        "raw",
        "last_event_at",
    ),
    # The payload embeds its participants' details: a user's change is the users table's, not
    # the RDV's. `raw` is the payload as of the RDV's last change.
    untracked=("raw", "last_event_at"),
    version_column="last_event_at",
)
# An RDV's links and participants follow the RDV: a poll writes or deletes them only under an RDV
# it could have seen (not one a webhook changed or destroyed since its listing began).
ACCOUNT_RDVS = TableSpec(
    "rdvsp.account_rdvs",
    ("account_id", "rdv_id"),
    ("account_id", "rdv_id", "organisation_id", "starts_at"),
    parent=ParentLink(RDVS, ("rdv_id",)),
)
PARTICIPATIONS = TableSpec(
    "rdvsp.participations",
    ("id",),
    (
        "id",
        "rdv_id",
        "user_id",
        "status",
        "send_lifecycle_notifications",
        "send_reminder_notification",
        "created_by",
        "created_by_type",
        "created_by_id",
        "created_by_agent_prescripteur",
    ),
    parent=ParentLink(RDVS, ("rdv_id",)),
)
WEBHOOK_ENDPOINTS = TableSpec(
    "rdvsp.webhook_endpoints", ("id",), ("id", "organisation_id", "target_url", "subscriptions")
)

# Bookkeeping, not an API table: which RDV listing pages a successful sync applied.
APPLIED_PAGES = TableSpec(
    "rdvsp.applied_pages", ("account_id", "endpoint", "params"), ("account_id", "endpoint", "params", "body_sha256")
)

# The order in which a sync merges (parents before the rows that refer to them).
MERGE_ORDER = (
    ORGANISATIONS,
    ACCOUNT_ORGANISATIONS,
    AGENTS,
    AGENT_ROLES,
    USERS,
    USER_PROFILES,
    MOTIFS,
    LIEUX,
    WEBHOOK_ENDPOINTS,
    RDVS,
    ACCOUNT_RDVS,
    PARTICIPATIONS,
)


# `at`: the version of the state (an event's timestamp, or a poll's start).


def organisation_row(o: models.Organisation, at: datetime) -> tuple:
    return (o.id, o.name, o.email, o.phone_number, o.verticale, o.website, o.time_zone, at)


def agent_row(a: models.Agent, at: datetime) -> tuple:
    return (a.id, a.email, a.first_name, a.last_name, at)


def user_row(u: models.User, at: datetime) -> tuple:
    return (
        u.id,
        u.first_name,
        u.last_name,
        u.birth_name,
        u.birth_date,
        u.email,
        u.notification_email,
        u.address,
        u.address_details,
        u.phone_number,
        u.phone_number_formatted,
        u.caisse_affiliation,
        u.affiliation_number,
        u.family_situation,
        u.number_of_children,
        u.notify_by_sms,
        u.notify_by_email,
        u.invitation_created_at,
        u.invitation_accepted_at,
        u.responsible_id,
        u.case_number,
        u.logement,
        u.notes,
        u.created_at,
        at,
    )


def motif_row(m: models.Motif, at: datetime) -> tuple:
    category = m.motif_category
    return (
        m.id,
        m.organisation_id,
        m.name,
        m.location_type,
        m.bookable_by,
        m.bookable_publicly,
        m.service_id,
        m.collectif,
        m.follow_up,
        m.instruction_for_rdv,
        category.id if category else None,
        category.name if category else None,
        category.short_name if category else None,
        m.default_duration_in_min,
        m.min_public_booking_delay,
        m.max_public_booking_delay,
        m.deleted_at,
        at,
    )


def lieu_row(lieu: models.Lieu, at: datetime) -> tuple:
    return (
        lieu.id,
        lieu.organisation_id,
        lieu.name,
        lieu.address,
        lieu.phone_number,
        lieu.single_use,
        lieu.latitude,
        lieu.longitude,
        at,
    )


def rdv_row(r: models.Rdv, raw: dict, at: datetime) -> tuple:
    return (
        r.id,
        r.uuid,
        r.organisation.id,
        r.motif.id,
        r.lieu.id if r.lieu else None,
        r.status,
        r.starts_at,
        r.ends_at,
        r.duration_in_min,
        r.address,
        r.context,
        r.name,
        r.collectif,
        r.max_participants_count,
        r.users_count,
        r.cancelled_at,
        r.created_at,
        r.created_by,
        r.created_by_type,
        r.created_by_id,
        sorted(a.id for a in r.agents),
        r.url_for_agents,
        r.visio_url,
        raw,
        at,
    )


def participation_row(rdv_id: int, p: models.Participation) -> tuple:
    return (
        p.id,
        rdv_id,
        p.user.id,
        p.status,
        p.send_lifecycle_notifications,
        p.send_reminder_notification,
        p.created_by,
        p.created_by_type,
        p.created_by_id,
        p.created_by_agent_prescripteur,
    )


def webhook_endpoint_row(e: models.WebhookEndpoint) -> tuple:
    return (e.id, e.organisation_id, e.target_url, sorted(e.subscriptions))
