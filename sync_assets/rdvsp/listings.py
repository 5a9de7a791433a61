"""RDV Service Public's listings, declared for the platform's engine (`platform/listing.py`).

The scope of a run: `account_id`, `polled_at` (the version of every row it reads), and, per
organisation, `organisation_id` and `sync_from`. An account writes rows of its own organisations
only: a motif, lieu or RDV of another is refused (breaking drift `organisation_id`,
`other_organisation`).
"""

from __future__ import annotations

from sync_assets.platform.listing import Listing, Tenant
from sync_assets.rdvsp import models, tables

# The organisation a listed row belongs to (an RDV's is nested, a motif's or a lieu's is an id).
OWN_ORGANISATIONS = Tenant(
    lambda row: row.organisation.id if isinstance(row, models.Rdv) else row.organisation_id,
    "organisation_id",
    "other_organisation",
)


def _in_organisation(scope) -> dict:
    return {"organisation_id": scope["organisation_id"]}


ORGANISATIONS = Listing(
    "organisations",
    "/api/v1/organisations",
    ("organisations",),
    models.Organisation,
    rows=lambda o, scope, _: [
        (tables.ORGANISATIONS, tables.organisation_row(o, scope["polled_at"])),
        (tables.ACCOUNT_ORGANISATIONS, (scope["account_id"], o.id)),
    ],
    total=("meta", "total_count"),
)
MOTIFS = Listing(
    "motifs",
    "/api/v1/organisations/{organisation_id}/motifs",
    ("motifs",),
    models.Motif,
    rows=lambda m, scope, _: [(tables.MOTIFS, tables.motif_row(m, scope["polled_at"]))],
    tenant=OWN_ORGANISATIONS,
)
LIEUX = Listing(
    "lieux",
    "/api/v1/lieux",
    ("lieux",),
    models.Lieu,
    params=_in_organisation,
    rows=lambda lieu, scope, _: [(tables.LIEUX, tables.lieu_row(lieu, scope["polled_at"]))],
    tenant=OWN_ORGANISATIONS,
)
AGENTS = Listing(
    "agents",
    "/api/v1/agents",
    ("agents",),
    models.Agent,
    params=_in_organisation,
    rows=lambda a, scope, _: [
        (tables.AGENTS, tables.agent_row(a, scope["polled_at"])),
        (tables.AGENT_ROLES, (scope["organisation_id"], a.id, scope["polled_at"])),
    ],
)
USERS = Listing(
    "users",
    "/api/v1/organisations/{organisation_id}/users",
    ("users",),
    models.User,
    rows=lambda u, scope, _: [
        (tables.USERS, tables.user_row(u, scope["polled_at"])),
        (tables.USER_PROFILES, (scope["organisation_id"], u.id, scope["polled_at"])),
    ],
)
# Staged once our endpoint is installed (the installation may add or change one).
WEBHOOK_ENDPOINTS = Listing(
    "webhook_endpoints",
    "/api/v1/organisations/{organisation_id}/webhook_endpoints",
    ("webhook_endpoints",),
    models.WebhookEndpoint,
    rows=lambda endpoint, scope, _: [],
)


def rdv_rows(rdv: models.Rdv, scope, raw) -> list:
    """An RDV, its link to the account, and what it embeds (motif, lieu, agents, participants)."""
    at = scope["polled_at"]
    rows = [
        (tables.RDVS, tables.rdv_row(rdv, raw, at)),
        (tables.ACCOUNT_RDVS, (scope["account_id"], rdv.id, rdv.organisation.id, rdv.starts_at)),
        (tables.MOTIFS, tables.motif_row(rdv.motif, at)),
    ]
    if rdv.lieu is not None:
        rows.append((tables.LIEUX, tables.lieu_row(rdv.lieu, at)))
    rows += [(tables.AGENTS, tables.agent_row(agent, at)) for agent in rdv.agents]
    for participation in rdv.participations:
        rows.append((tables.PARTICIPATIONS, tables.participation_row(rdv.id, participation)))
        rows.append((tables.USERS, tables.user_row(participation.user, at)))
    return rows


# No ORDER BY at the API: an RDV can slip between two pages, or come twice (see sync.py).
RDVS = Listing(
    "rdvs",
    "/api/v1/rdvs",
    ("rdvs",),
    models.Rdv,
    rows=rdv_rows,
    tenant=OWN_ORGANISATIONS,
    keep_payloads=True,
    params=lambda scope: {"organisation_id": scope["organisation_id"], "starts_after": scope["sync_from"].isoformat()},
    total=("meta", "total_count"),
)
# RDVs by id (`ids`, at most IDS_PER_LOOKUP at a time): those a listing missed.
RDVS_BY_ID = Listing(
    "rdvs",
    "/api/v1/rdvs",
    ("rdvs",),
    models.Rdv,
    rows=rdv_rows,
    tenant=OWN_ORGANISATIONS,
    keep_payloads=True,
    params=lambda scope: {"id[]": scope["ids"]},
)
IDS_PER_LOOKUP = 50  # RDV ids per `id[]` lookup (keeps the URL short)
