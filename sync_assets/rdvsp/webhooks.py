"""RDV Service Public webhook events: parsing one, and applying it to the warehouse.

An event is applied with the same contracts, row mappings and merge rules as polling, for one
record, in the caller's transaction (the receiver stores it in the inbox in that same
transaction). An event older than the state a row holds (`last_event_at`) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import psycopg
from psycopg import sql

from sync_assets.platform.contract import ContractResult, validate_batch
from sync_assets.platform.errors import SyncError
from sync_assets.platform.merge import (
    DeleteWhere,
    MergeCounts,
    TableSpec,
    counts_of,
    counts_of_many,
    destroy_record,
    destroy_statement,
    driver_connection,
    lock_tenants_statement,
    merge_values,
    run_pipelined,
    values_merge_many,
)
from sync_assets.platform.sql_files import package_sql
from sync_assets.rdvsp import models, tables

CONNECTOR = "rdvsp"
EVENTS = ("created", "updated", "destroyed")
# Models RDV Service Public sends that the warehouse does not hold, and why.
IGNORED_MODELS = {
    "Absence": "absences (agents' time off) are not synced",
    "PlageOuverture": "plages d'ouverture (agents' opening hours) are not synced",
    "ReferentAssignation": "referent assignations are not synced",
}


class EventRejected(SyncError):
    """The body is not an event we can apply, and never will be (stored as rejected)."""


class EventContractBreach(SyncError):
    """The record broke its contract: the event stays in the inbox as failed, drift recorded."""

    def __init__(self, result: ContractResult):
        self.result = result
        paths = ", ".join(f"{d.field_path} ({d.error_type})" for d in result.breaking)
        super().__init__(f"{result.entity} record broke its contract: {paths}")


@dataclass(frozen=True)
class WebhookEvent:
    model: str
    event: str
    record_id: int | None
    event_at: datetime
    reason: str | None
    data: Any


@dataclass
class Applied:
    status: str  # applied | stale | ignored
    reason: str | None = None
    tables: dict[str, MergeCounts] = field(default_factory=dict)


def parse_event(body: Any, received_at: datetime | None = None) -> WebhookEvent:
    """The event of a webhook body; EventRejected when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("meta"), dict) or "data" not in body:
        raise EventRejected("the body is not an event: it needs a `data` and a `meta` object")
    meta = body["meta"]
    model, event = meta.get("model"), meta.get("event")
    if not isinstance(model, str) or event not in EVENTS:
        raise EventRejected("`meta.model` must name a model and `meta.event` be created, updated or destroyed")
    # The 2024 API sends `timestamp`; newer documentation `event_occurred_at`/`payload_computed_at`.
    stamp = meta.get("event_occurred_at") or meta.get("timestamp") or meta.get("payload_computed_at")
    try:
        event_at = models.parse_timestamp(stamp) if isinstance(stamp, str) else None
    except ValueError:
        raise EventRejected("`meta` has a timestamp that is not a date and time") from None
    data = body["data"]
    record_id = data.get("id") if isinstance(data, dict) else None
    return WebhookEvent(
        model,
        event,
        record_id if isinstance(record_id, int) else None,
        event_at or received_at or datetime.now(timezone.utc),
        meta.get("webhook_reason"),
        data,
    )


NOT_READ = object()  # the stored version of the event's record was not read ahead


def apply_event(
    conn, event: WebhookEvent, endpoint_organisation_id: int | None = None, stored_version=NOT_READ
) -> Applied:
    """Apply one event in the caller's transaction.

    `stored_version` is the record's version, when the caller read it ahead (`read_version`,
    sent with other statements); otherwise it is read here.
    """
    pg = driver_connection(conn)
    if event.model in IGNORED_MODELS:
        return Applied("ignored", IGNORED_MODELS[event.model])
    handler = _HANDLERS.get(event.model)
    if handler is None:
        return Applied("ignored", f"model {event.model} is not synced")
    return handler.apply(pg, event, endpoint_organisation_id, stored_version)


def read_version(pg: psycopg.Connection, event: WebhookEvent) -> psycopg.Cursor | None:
    """Send the query for the stored version of the event's record, when staleness is judged by it;
    the caller fetches it (in a pipeline, together with its own statements)."""
    handler = _HANDLERS.get(event.model)
    if handler is None or handler.versioned is None or event.event == "destroyed" or event.record_id is None:
        return None
    return pg.cursor().execute(
        _for_table(pg, "record_version", handler.versioned), {"id": event.record_id, "table": handler.versioned.table}
    )


def version_of(cursor: psycopg.Cursor | None):
    """What `read_version` read: NOT_READ without a query, else (the stored row's version, its
    tombstone's version), each None when there is none."""
    if cursor is None:
        return NOT_READ
    return tuple(cursor.fetchone())


# --- helpers ------------------------------------------------------------------------------


def _validated(model, entity: str, data: Any):
    result = validate_batch(model, [data], entity=entity)
    if result.rejected:
        raise EventContractBreach(result)
    return result.valid[0]


def _same_tenant(endpoint_organisation_id: int | None, organisation_id: int, model: str) -> None:
    if endpoint_organisation_id is not None and organisation_id != endpoint_organisation_id:
        raise EventRejected(
            f"a {model} of organisation {organisation_id} arrived on the endpoint of organisation "
            f"{endpoint_organisation_id}, whose secret signed it: refused"
        )


_statements: dict[tuple[str, str], str] = {}


def _for_table(pg: psycopg.Connection, name: str, spec: TableSpec) -> str:
    """The statement `name`.sql for `spec`'s table, composed once."""
    statement = _statements.get((name, spec.table))
    if statement is None:
        statement = _statements[(name, spec.table)] = (
            sql.SQL(package_sql(__file__, name)).format(table=spec.identifier()).as_string(pg)
        )
    return statement


def _is_stale(pg: psycopg.Connection, spec: TableSpec, record_id: int, event_at: datetime, stored_version) -> bool:
    """Whether the warehouse holds a newer state of the record, or deleted it at the event's time or later."""
    if stored_version is NOT_READ:
        stored_version = tuple(
            pg.execute(_for_table(pg, "record_version", spec), {"id": record_id, "table": spec.table}).fetchone()
        )
    row_version, deleted_version = stored_version
    return (row_version is not None and row_version > event_at) or (
        deleted_version is not None and deleted_version >= event_at
    )


def _destroy(pg: psycopg.Connection, spec: TableSpec, event: WebhookEvent, key: tuple | None = None) -> Applied:
    """Delete the record unless the warehouse holds a newer state; its tombstone stays either way,
    so that no older state (a late delivery, a poll that listed it before) brings it back."""
    if event.record_id is None and key is None:
        raise EventRejected(f"a destroyed {event.model} without an id")
    gone = destroy_record(pg, spec, key or (event.record_id,), event.event_at)
    reason = None if gone else "no such record (already deleted, never synced, or newer in the warehouse)"
    return Applied("applied", reason, {spec.name: MergeCounts(deleted=gone)})


def _upsert(
    pg: psycopg.Connection, spec: TableSpec, row: tuple, record_id: int, event_at: datetime, stored_version
) -> Applied:
    if _is_stale(pg, spec, record_id, event_at, stored_version):
        return Applied("stale", "the warehouse holds a newer state of this record")
    return Applied("applied", None, {spec.name: merge_values(pg, spec, [row])})


# --- models -------------------------------------------------------------------------------


def _rdv(pg: psycopg.Connection, event: WebhookEvent, endpoint_org: int | None, stored_version) -> Applied:
    if event.event == "destroyed":
        return _destroy_rdv(pg, event, endpoint_org)
    rdv = _validated(models.Rdv, "rdvs", event.data)
    _same_tenant(endpoint_org, rdv.organisation.id, "Rdv")
    if _is_stale(pg, tables.RDVS, rdv.id, event.event_at, stored_version):
        return Applied("stale", "the warehouse holds a newer state of this RDV, or deleted it since")
    at = event.event_at
    merges = {
        "organisations": (tables.ORGANISATIONS, [tables.organisation_row(rdv.organisation, at)], None),
        "motifs": (tables.MOTIFS, [tables.motif_row(rdv.motif, at)], None),
        "lieux": (tables.LIEUX, [tables.lieu_row(rdv.lieu, at)] if rdv.lieu else [], None),
        "agents": (tables.AGENTS, [tables.agent_row(a, at) for a in rdv.agents], None),
        "users": (tables.USERS, [tables.user_row(p.user, at) for p in rdv.participations], None),
        "rdvs": (tables.RDVS, [tables.rdv_row(rdv, event.data, at)], None),
        # The participants the RDV no longer has are deleted.
        "participations": (
            tables.PARTICIPATIONS,
            [tables.participation_row(rdv.id, p) for p in rdv.participations],
            DeleteWhere(sql.SQL("t.rdv_id = %s"), [rdv.id]),
        ),
    }
    statements = [
        # Waits while a poll merges this organisation's rows (see lock_tenants).
        lock_tenants_statement(CONNECTOR, [rdv.organisation.id], shared=True),
        values_merge_many(pg, list(merges.values())),  # one statement (foreign keys hold at its end)
        # Every connected account among the RDV's agents sees it (not only the first agent's).
        (
            package_sql(__file__, "link_rdv_to_accounts"),
            {
                "rdv_id": rdv.id,
                "organisation_id": rdv.organisation.id,
                "starts_at": rdv.starts_at,
                "agent_ids": [a.id for a in rdv.agents],
            },
        ),
    ]
    _, merged, linked = run_pipelined(pg, statements)  # one round trip
    counts = dict(zip(merges, counts_of_many(merged), strict=True))
    counts["account_rdvs"] = counts_of(linked)
    return Applied("applied", None, counts)


def _destroy_rdv(pg: psycopg.Connection, event: WebhookEvent, endpoint_org: int | None) -> Applied:
    """The RDV first (its participations go with it, by cascade), then its account links if it went:
    the RDV's lock comes before any of its children's, as in a poll's merge."""
    if event.record_id is None:
        raise EventRejected("a destroyed Rdv without an id")
    organisation = (event.data.get("organisation") or {}).get("id") if isinstance(event.data, dict) else None
    organisation = organisation if isinstance(organisation, int) else endpoint_org
    key = {"id": event.record_id}
    statements = [
        lock_tenants_statement(CONNECTOR, [organisation] if organisation is not None else [], shared=True),
        (package_sql(__file__, "count_rdv_participations"), key),
        destroy_statement(tables.RDVS, [event.record_id], event.event_at),
        (package_sql(__file__, "delete_links_of_destroyed_rdv"), key),
    ]
    _, (participations,), (gone,), (links,) = run_pipelined(pg, statements)
    reason = None if gone else "no such record (already deleted, never synced, or newer in the warehouse)"
    if event.reason == "rgpd":
        reason = "destroyed by RDV Service Public's personal-data purge"
    return Applied(
        "applied",
        reason,
        {
            "rdvs": MergeCounts(deleted=gone),
            "participations": MergeCounts(deleted=participations if gone else 0),
            "account_rdvs": MergeCounts(deleted=links),
        },
    )


def _simple(spec: TableSpec, model, entity: str, to_row, organisation_of=None) -> Handler:
    def handle(pg: psycopg.Connection, event: WebhookEvent, endpoint_org: int | None, stored_version) -> Applied:
        if event.event == "destroyed":
            return _destroy(pg, spec, event)
        record = _validated(model, entity, event.data)
        if organisation_of is not None:
            _same_tenant(endpoint_org, organisation_of(record), model.__name__)
        return _upsert(pg, spec, to_row(record, event.event_at), record.id, event.event_at, stored_version)

    return Handler(handle, versioned=spec)


def _membership(
    model,
    entity: str,
    link: TableSpec,
    link_with_details: TableSpec,
    member: str,
    member_spec: TableSpec,
    member_row,
    details=lambda record: (),
    changed: Callable[[psycopg.Connection, tuple[int, int]], None] = lambda pg, key: None,
) -> Handler:
    """A record linking a user or an agent to an organisation (UserProfile, AgentRole); `changed`
    is told (organisation id, member id) whenever one is applied."""

    def handle(pg: psycopg.Connection, event: WebhookEvent, endpoint_org: int | None, stored_version) -> Applied:
        record = _validated(model, entity, event.data)
        _same_tenant(endpoint_org, record.organisation.id, model.__name__)
        person = getattr(record, member)
        key = (record.organisation.id, person.id)
        changed(pg, key)
        if event.event == "destroyed":
            return _destroy(pg, link, event, key)
        return Applied(
            "applied",
            None,
            {
                member_spec.name: merge_values(pg, member_spec, [member_row(person, event.event_at)]),
                link.name: merge_values(pg, link_with_details, [(*key, *details(record), event.event_at)]),
            },
        )

    return Handler(handle, versioned=None)


def _forget_rdv_listing_peers(pg: psycopg.Connection, organisation_id: int, agent_id: int) -> None:
    """An agent's role changed: it may see other RDVs there now, so its listing is nobody's to take."""
    pg.execute(
        package_sql(__file__, "forget_rdv_listing_peers"), {"organisation_id": organisation_id, "agent_id": agent_id}
    )


@dataclass(frozen=True)
class Handler:
    apply: Callable[..., Applied]
    versioned: TableSpec | None  # the table whose version tells a stale event, if any


_HANDLERS = {
    "Rdv": Handler(_rdv, versioned=tables.RDVS),
    "User": _simple(tables.USERS, models.User, "users", tables.user_row),
    "Organisation": _simple(
        tables.ORGANISATIONS,
        models.Organisation,
        "organisations",
        tables.organisation_row,
        organisation_of=lambda o: o.id,
    ),
    "Motif": _simple(
        tables.MOTIFS, models.Motif, "motifs", tables.motif_row, organisation_of=lambda m: m.organisation_id
    ),
    "Lieu": _simple(
        tables.LIEUX, models.Lieu, "lieux", tables.lieu_row, organisation_of=lambda lieu: lieu.organisation_id
    ),
    "Agent": _simple(tables.AGENTS, models.Agent, "agents", tables.agent_row),
    "UserProfile": _membership(
        models.UserProfile,
        "user_profiles",
        tables.USER_PROFILES,
        tables.USER_PROFILES,
        "user",
        tables.USERS,
        tables.user_row,
    ),
    "AgentRole": _membership(
        models.AgentRole,
        "agent_roles",
        tables.AGENT_ROLES,
        tables.AGENT_ROLE_LEVELS,
        "agent",
        tables.AGENTS,
        tables.agent_row,
        details=lambda role: (role.access_level,),
        changed=lambda pg, key: _forget_rdv_listing_peers(pg, *key),
    ),
}
# The models RDV Service Public is known to send: what a metric may name (any other is "other",
# so that a sender cannot make up label values).
KNOWN_MODELS = frozenset(_HANDLERS) | frozenset(IGNORED_MODELS)
