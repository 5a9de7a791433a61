"""The data behind the RDV Service Public sandbox, and the API's behaviour over it.

Written from the reference OpenAPI spec and the API notes, not from the connector's models:
- JSON shapes of the blueprints (rdv, participation, user, organisation, motif, lieu, agent,
  webhook_endpoint), timestamps as Rails prints them ("2025-01-02 08:00:00 +0100");
- 100 records a page with the `meta` envelope;
- `/rdvs` has no ORDER BY: the order changes after any write, and for an agent who is not an
  admin of the organisation each RDV comes once per agent attached to it (a join without
  DISTINCT), duplicates included in `total_count`;
- permissions: an agent sees the organisations it belongs to; admins see every RDV of their
  organisations, other agents the RDVs they are attached to; only admins manage webhooks.

Everything is deterministic for a seed, a scale (number of RDVs) and an anchor date.
"""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sync_assets.sandbox import people

PARIS = ZoneInfo("Europe/Paris")
PAGE_SIZE = 100
STATUSES = ("unknown", "seen", "noshow", "excused", "revoked")
SUBSCRIPTIONS = (
    "rdv",
    "absence",
    "plage_ouverture",
    "user",
    "user_profile",
    "organisation",
    "motif",
    "lieu",
    "agent",
    "agent_role",
    "referent_assignation",
)


def rails_time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S %z")


@dataclass(slots=True)
class Organisation:
    id: int
    name: str
    email: str | None
    phone_number: str | None
    verticale: str = "rdv_aide_numerique"


@dataclass(slots=True)
class Agent:
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    roles: dict[int, str] = field(default_factory=dict)  # organisation id -> "admin" | "basic"


@dataclass(slots=True)
class User:
    id: int
    first_name: str
    last_name: str
    birth_name: str | None
    birth_date: date | None
    email: str | None
    address: str | None
    address_details: str | None
    phone_number: str | None
    caisse_affiliation: str | None
    affiliation_number: str | None
    notify_by_sms: bool
    notify_by_email: bool
    created_at: datetime
    invitation_created_at: datetime | None = None
    invitation_accepted_at: datetime | None = None
    responsible_id: int | None = None
    notification_email: str | None = None
    organisation_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Motif:
    id: int
    organisation_id: int
    name: str
    location_type: str
    bookable_by: str
    bookable_publicly: bool
    service_id: int
    collectif: bool
    follow_up: bool
    category: tuple[int, str, str] | None
    default_duration_in_min: int
    deleted_at: datetime | None = None


@dataclass(slots=True)
class Lieu:
    id: int
    organisation_id: int
    name: str
    address: str
    phone_number: str | None
    single_use: bool = False


@dataclass(slots=True)
class Participation:
    id: int
    user_id: int
    status: str
    created_by_type: str
    created_by_id: int
    send_lifecycle_notifications: bool = True
    send_reminder_notification: bool = True


@dataclass(slots=True)
class Rdv:
    id: int
    uuid: str
    organisation_id: int
    motif_id: int
    lieu_id: int | None
    agent_ids: list[int]
    participations: list[Participation]
    starts_at: datetime
    duration_in_min: int
    status: str
    created_at: datetime
    created_by_type: str
    created_by_id: int
    address: str
    context: str | None = None
    name: str | None = None
    collectif: bool = False
    max_participants_count: int | None = None
    cancelled_at: datetime | None = None


@dataclass(slots=True)
class RdvPlan:
    """A draft RDV for a user, which the agent finishes at its URL (`POST /rdv_plans`)."""

    id: int
    agent_id: int
    organisation_id: int
    user_id: int
    created_at: datetime
    return_url: str | None = None
    dossier_url: str | None = None
    rdv_id: int | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class WebhookEndpoint:
    id: int
    organisation_id: int
    target_url: str
    secret: str
    subscriptions: list[str]


class ApiProblem(Exception):
    """An error response: status and the body of the spec's error schemas."""

    def __init__(self, status: int, body: dict):
        super().__init__(status)
        self.status, self.body = status, body


def not_found(model: str) -> ApiProblem:
    return ApiProblem(404, {"not_found": model})


def forbidden(message: str) -> ApiProblem:
    return ApiProblem(403, {"errors": [{"base": "forbidden"}], "error_messages": [message]})


@dataclass
class Change:
    """A record changed at runtime, for webhook deliveries."""

    model: str  # Ruby class name: "Rdv", "User", …
    event: str  # created | updated | destroyed
    record_id: int
    organisation_ids: list[int]
    payload: dict
    webhook_reason: str | None = None
    occurred_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class RdvspWorld:
    """Organisations, agents, users, motifs, lieux and RDVs, generated from a seed."""

    def __init__(self, seed: int = 1, scale: int = 1000, anchor: date | None = None):
        self.seed, self.scale = seed, scale
        self.anchor = anchor or date.today()
        self.lock = threading.RLock()
        self.base_url = "http://localhost"  # the server's address, in URLs of payloads (set when it is served)
        self.version = 0  # bumped by every write: reshuffles the unordered listings
        self.organisations: dict[int, Organisation] = {}
        self.agents: dict[int, Agent] = {}
        self.users: dict[int, User] = {}
        self.motifs: dict[int, Motif] = {}
        self.lieux: dict[int, Lieu] = {}
        self.rdvs: dict[int, Rdv] = {}
        self.webhook_endpoints: dict[int, WebhookEndpoint] = {}
        self.rdv_plans: dict[int, RdvPlan] = {}
        self.silent_webhook_failure_organisations: set[int] = set()
        self.listeners: list[Callable[[Change], None]] = []
        self._listing_cache: dict[tuple, list[int]] = {}
        self._organisation_index: dict[int, tuple[list[int], list[int], list[int]]] = {}
        self._rng = random.Random(seed)
        self._next_ids = {"rdv": 0, "participation": 0, "user": 0, "endpoint": 0, "rdv_plan": 0}
        self._generate()

    # --- generation ---------------------------------------------------------------------

    def _generate(self) -> None:
        rng = self._rng
        organisation_count = max(2, min(40, self.scale // 2500 + 2))
        for n in range(organisation_count):
            org_id = 100 + n
            city, _ = rng.choice(people.CITIES)
            self.organisations[org_id] = Organisation(
                org_id,
                f"Espace France Services de {city} n°{n + 1}",
                f"contact-efs{n + 1}@mairie-exemple.fr" if n % 3 else None,
                people.office_phone(rng) if n % 2 else None,
            )
            for k in range(3):
                lieu_id = 1000 + n * 10 + k
                self.lieux[lieu_id] = Lieu(
                    lieu_id,
                    org_id,
                    f"Permanence {k + 1} – {city}",
                    people.place_address(rng),
                    people.office_phone(rng) if k else None,
                )
            for k, (name, location, collectif) in enumerate(
                (
                    ("Aide aux démarches en ligne", "public_office", False),
                    ("Accompagnement numérique", "public_office", False),
                    ("Rendez-vous téléphonique", "phone", False),
                    ("Atelier collectif smartphone", "public_office", True),
                    ("Visite à domicile", "home", False),
                    ("Point administratif CAF", "public_office", False),
                )
            ):
                motif_id = 5000 + n * 10 + k
                self.motifs[motif_id] = Motif(
                    motif_id,
                    org_id,
                    name,
                    location,
                    rng.choice(("agents", "everyone")),
                    k % 2 == 0,
                    10 + k % 3,
                    collectif,
                    k == 1,
                    (40 + k, f"Catégorie {name.split()[0]}", f"cat_{k}") if k % 3 else None,
                    45 if collectif else 30,
                    deleted_at=None,
                )
        # Agent 1 is the demo account: admin of every organisation. Agent 2 is a basic agent of
        # the first organisation only. Three more agents per organisation.
        org_ids = list(self.organisations)
        demo = people.person(rng, 0)
        self.agents[1] = Agent(
            1, f"agent.demo@{people.MAIL_DOMAINS[0]}", demo.first_name, demo.last_name, {o: "admin" for o in org_ids}
        )
        basic = people.person(rng, 1)
        self.agents[2] = Agent(
            2, f"agent.basique@{people.MAIL_DOMAINS[0]}", basic.first_name, basic.last_name, {org_ids[0]: "basic"}
        )
        for n, org_id in enumerate(org_ids):
            for k in range(3):
                p = people.person(rng, 10 + n * 3 + k)
                agent_id = 10 + n * 3 + k
                self.agents[agent_id] = Agent(agent_id, p.email, p.first_name, p.last_name, {org_id: "basic"})
        user_count = max(10, self.scale // 3)
        for _ in range(user_count):
            self._new_user(rng, rng.sample(org_ids, 2 if rng.random() < 0.1 else 1))
        user_ids = list(self.users)
        for _ in range(self.scale):
            self._new_rdv(rng, rng.choice(org_ids), user_ids)

    def add_agent(self, roles: dict[int, str], every: int = 3) -> Agent:
        """A new agent with `roles` (organisation id -> "admin" | "basic"), for tests and benchmarks
        that need several agents sharing organisations with different access levels.

        Nothing generated from the seed changes: the new agent takes the next free id and its own
        name (drawn from the seed and its id, not from the world's generator). In the organisations
        where it is basic, it is attached to every `every`-th RDV (by id, starting at its id modulo
        `every`, so that two agents added to one organisation get different RDVs), so that it sees those:
        the RDVs other agents see stay the same (they now list it among their agents, and basic
        agents' listings, which repeat an RDV per attached agent, repeat those once more). RDVs
        created later are not given to it (except through its own RDV plans).
        """
        if not roles or any(role not in ("admin", "basic") for role in roles.values()):
            raise ValueError('roles maps organisation ids to "admin" or "basic"')
        if every < 1:
            raise ValueError("every must be a positive number")
        with self.lock:
            unknown = sorted(set(roles) - set(self.organisations))
            if unknown:
                raise ValueError(f"no organisation {', '.join(map(str, unknown))} in this world")
            for org_id in roles:
                self._by_organisation(org_id)  # RDVs created later draw from the seed's agents only
            agent_id = max(self.agents) + 1
            p = people.person(random.Random(f"{self.seed}:agent:{agent_id}"), agent_id)
            agent = Agent(agent_id, p.email, p.first_name, p.last_name, dict(roles))
            self.agents[agent_id] = agent
            basic = {org_id for org_id, role in roles.items() if role == "basic"}
            for org_id in sorted(basic):
                of_organisation = sorted(r.id for r in self.rdvs.values() if r.organisation_id == org_id)
                for rdv_id in of_organisation[agent_id % every :: every]:
                    self.rdvs[rdv_id].agent_ids.append(agent_id)
            self._listing_cache.clear()  # same order (same version), with the new agent's rows
            return agent

    def _take_id(self, kind: str, base: int) -> int:
        self._next_ids[kind] += 1
        return base + self._next_ids[kind]

    def _new_user(self, rng: random.Random, organisation_ids: list[int]) -> User:
        user_id = self._take_id("user", 20_000)
        p = people.person(rng, user_id)
        created = datetime.combine(self.anchor - timedelta(days=rng.randrange(30, 900)), time(9), PARIS)
        anonymised = rng.random() < 0.01
        user = User(
            id=user_id,
            first_name=people.ANONYMISED_NAME if anonymised else p.first_name,
            last_name=people.ANONYMISED_NAME if anonymised else p.last_name,
            birth_name=None if rng.random() < 0.8 else rng.choice(people.LAST_NAMES),
            birth_date=None if anonymised else (people.UNKNOWN_BIRTH_DATE if rng.random() < 0.05 else p.birth_date),
            email=None if anonymised or rng.random() < 0.2 else p.email,
            address=None if anonymised else p.address,
            address_details=None if rng.random() < 0.9 else f"Bâtiment {rng.choice('ABCD')}",
            phone_number=None if anonymised or rng.random() < 0.1 else p.phone_number,
            caisse_affiliation=rng.choice((None, "aucun", "caf", "msa")),
            affiliation_number=None if rng.random() < 0.7 else f"{rng.randrange(10**13):013d}",
            notify_by_sms=rng.random() < 0.8,
            notify_by_email=rng.random() < 0.6,
            created_at=created,
            organisation_ids=sorted(organisation_ids),
        )
        self.users[user_id] = user
        return user

    def _by_organisation(self, org_id: int) -> tuple[list[int], list[int], list[int]]:
        """Motif, lieu and agent ids of an organisation (those do not change at runtime)."""
        cached = self._organisation_index.get(org_id)
        if cached is None:
            cached = self._organisation_index[org_id] = (
                [m.id for m in self.motifs.values() if m.organisation_id == org_id],
                [lieu.id for lieu in self.lieux.values() if lieu.organisation_id == org_id],
                [a.id for a in self.agents.values() if org_id in a.roles and a.id != 1],
            )
        return cached

    def _new_rdv(
        self,
        rng: random.Random,
        org_id: int,
        user_ids: list[int],
        starts_at: datetime | None = None,
        individual: bool = False,
    ) -> Rdv:
        rdv_id = self._take_id("rdv", 100_000)
        motif_ids, lieu_ids, org_agents = self._by_organisation(org_id)
        if individual:
            motif_ids = [m for m in motif_ids if not self.motifs[m].collectif]
        motif = self.motifs[rng.choice(motif_ids)]
        lieu = self.lieux[rng.choice(lieu_ids)] if motif.location_type == "public_office" else None
        agent_ids = rng.sample(org_agents, 2 if rng.random() < 0.15 else 1)
        if starts_at is None:
            day = self.anchor + timedelta(days=rng.randrange(-600, 61))
            starts_at = datetime.combine(day, time(rng.randrange(8, 18), rng.choice((0, 15, 30, 45))), PARIS)
        participants = rng.randrange(2, 6) if motif.collectif else 1
        participations = [
            Participation(self._take_id("participation", 500_000), uid, "unknown", "Agent", agent_ids[0])
            for uid in rng.sample(user_ids, participants)
        ]
        past = starts_at.date() < self.anchor
        status = (
            rng.choices(STATUSES, (5, 70, 10, 10, 5))[0]
            if past
            else rng.choices(("unknown", "excused", "revoked"), (90, 5, 5))[0]
        )
        if motif.collectif and status in ("noshow", "excused"):
            status = "seen"
        for participation in participations:
            participation.status = status
        rdv = Rdv(
            id=rdv_id,
            uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            organisation_id=org_id,
            motif_id=motif.id,
            lieu_id=lieu.id if lieu else None,
            agent_ids=agent_ids,
            participations=participations,
            starts_at=starts_at,
            duration_in_min=motif.default_duration_in_min,
            status=status,
            created_at=starts_at - timedelta(days=rng.randrange(1, 30)),
            created_by_type="Agent",
            created_by_id=agent_ids[0],
            address=lieu.address if lieu else "",
            collectif=motif.collectif,
            max_participants_count=8 if motif.collectif else None,
            cancelled_at=starts_at - timedelta(days=1) if status in ("excused", "revoked") else None,
        )
        self.rdvs[rdv_id] = rdv
        return rdv

    # --- serialisation (the blueprints) -------------------------------------------------

    def organisation_json(self, org: Organisation) -> dict:
        return {
            "id": org.id,
            "email": org.email,
            "name": org.name,
            "phone_number": org.phone_number,
            "verticale": org.verticale,
        }

    def agent_json(self, agent: Agent) -> dict:
        return {"id": agent.id, "email": agent.email, "first_name": agent.first_name, "last_name": agent.last_name}

    def user_json(self, user: User, with_profiles_for: Agent | None = None) -> dict:
        profiles = None
        if with_profiles_for is not None:
            profiles = [
                {"organisation": self.organisation_json(self.organisations[o])}
                for o in user.organisation_ids
                if o in with_profiles_for.roles
            ]
        return {
            "id": user.id,
            "address": user.address,
            "address_details": user.address_details,
            "affiliation_number": user.affiliation_number,
            "birth_date": user.birth_date.isoformat() if user.birth_date else None,
            "birth_name": user.birth_name,
            "caisse_affiliation": user.caisse_affiliation,
            "created_at": rails_time(user.created_at),
            "email": user.email,
            "first_name": user.first_name,
            "invitation_accepted_at": rails_time(user.invitation_accepted_at),
            "invitation_created_at": rails_time(user.invitation_created_at),
            "last_name": user.last_name,
            "notification_email": user.notification_email,
            "notify_by_email": user.notify_by_email,
            "notify_by_sms": user.notify_by_sms,
            "phone_number": user.phone_number,
            "phone_number_formatted": people.international(user.phone_number) if user.phone_number else None,
            "responsible": None,
            "responsible_id": user.responsible_id,
            "user_profiles": profiles,
        }

    def motif_json(self, motif: Motif) -> dict:
        category = motif.category
        return {
            "id": motif.id,
            "bookable_by": motif.bookable_by,
            "bookable_publicly": motif.bookable_publicly,
            "collectif": motif.collectif,
            "deleted_at": rails_time(motif.deleted_at),
            "follow_up": motif.follow_up,
            "instruction_for_rdv": None,
            "location_type": motif.location_type,
            "motif_category": {"id": category[0], "name": category[1], "short_name": category[2]} if category else None,
            "name": motif.name,
            "organisation_id": motif.organisation_id,
            "service_id": motif.service_id,
        }

    def lieu_json(self, lieu: Lieu) -> dict:
        return {
            "id": lieu.id,
            "address": lieu.address,
            "name": lieu.name,
            "organisation_id": lieu.organisation_id,
            "phone_number": lieu.phone_number,
            "single_use": lieu.single_use,
        }

    def participation_json(self, p: Participation) -> dict:
        return {
            "id": p.id,
            "created_by": p.created_by_type.lower(),
            "created_by_agent_prescripteur": False,
            "created_by_id": p.created_by_id,
            "created_by_type": p.created_by_type,
            "send_lifecycle_notifications": p.send_lifecycle_notifications,
            "send_reminder_notification": p.send_reminder_notification,
            "status": p.status,
            "user": self.user_json(self.users[p.user_id]),
        }

    def rdv_json(self, rdv: Rdv, base_url: str | None = None) -> dict:
        base_url = base_url or self.base_url
        users = [self.user_json(self.users[p.user_id]) for p in rdv.participations]
        active = sum(1 for p in rdv.participations if p.status not in ("revoked", "excused"))
        return {
            "id": rdv.id,
            "address": rdv.address,
            "agents": [self.agent_json(self.agents[a]) for a in rdv.agent_ids],
            "cancelled_at": rails_time(rdv.cancelled_at),
            "collectif": rdv.collectif,
            "context": rdv.context,
            "created_at": rails_time(rdv.created_at),
            "created_by": rdv.created_by_type.lower(),
            "created_by_id": rdv.created_by_id,
            "created_by_type": rdv.created_by_type,
            "duration_in_min": rdv.duration_in_min,
            "ends_at": rails_time(rdv.starts_at + timedelta(minutes=rdv.duration_in_min)),
            "lieu": self.lieu_json(self.lieux[rdv.lieu_id]) if rdv.lieu_id else None,
            "max_participants_count": rdv.max_participants_count,
            "motif": self.motif_json(self.motifs[rdv.motif_id]),
            "name": rdv.name,
            "organisation": self.organisation_json(self.organisations[rdv.organisation_id]),
            "participations": [self.participation_json(p) for p in rdv.participations],
            "starts_at": rails_time(rdv.starts_at),
            "status": rdv.status,
            "url_for_agents": f"{base_url.rstrip('/')}/agents/rdvs/{rdv.id}",
            "users": users,
            "users_count": active,
            "uuid": rdv.uuid,
        }

    def webhook_endpoint_json(self, endpoint: WebhookEndpoint) -> dict:
        return {
            "id": endpoint.id,
            "organisation_id": endpoint.organisation_id,
            "subscriptions": endpoint.subscriptions,
            "target_url": endpoint.target_url,
        }  # the secret is write-only

    def rdv_plan_json(self, plan: RdvPlan, base_url: str | None = None) -> dict:
        base_url = base_url or self.base_url
        rdv = self.rdvs.get(plan.rdv_id) if plan.rdv_id else None
        return {
            "id": plan.id,
            "created_at": rails_time(plan.created_at),
            "rdv": None
            if rdv is None
            else {
                "id": rdv.id,
                "status": rdv.status,
                "starts_at": rails_time(rdv.starts_at),
                "location_type": self.motifs[rdv.motif_id].location_type,
            },
            "updated_at": rails_time(plan.updated_at or plan.created_at),
            "url": f"{base_url.rstrip('/')}/agents/rdv_plans/{plan.id}",
            "user_id": plan.user_id,
        }

    # --- reads, as an agent sees them ---------------------------------------------------

    def organisations_of(self, agent: Agent) -> list[Organisation]:
        return [self.organisations[o] for o in sorted(agent.roles) if o in self.organisations]

    def require_member(self, agent: Agent, organisation_id: int) -> Organisation:
        if organisation_id not in self.organisations:
            raise not_found("organisation")
        if organisation_id not in agent.roles:
            raise forbidden("Vous n’avez pas accès à cette organisation.")
        return self.organisations[organisation_id]

    def rdv_listing(
        self,
        agent: Agent,
        organisation_id: int | None = None,
        agent_id: int | None = None,
        user_id: int | None = None,
        ids: set[int] | None = None,
        starts_after: datetime | None = None,
        starts_before: datetime | None = None,
    ) -> list[int]:
        """RDV ids as the API would list them: unordered, with join duplicates."""
        key = (
            agent.id,
            organisation_id,
            agent_id,
            user_id,
            frozenset(ids) if ids else None,
            starts_after,
            starts_before,
            self.version,
        )
        with self.lock:
            cached = self._listing_cache.get(key)
            if cached is not None:
                return cached
            rows: list[int] = []
            for rdv in self.rdvs.values():
                role = agent.roles.get(rdv.organisation_id)
                if role is None or (role != "admin" and agent.id not in rdv.agent_ids):
                    continue
                if organisation_id is not None and rdv.organisation_id != organisation_id:
                    continue
                if agent_id is not None and agent_id not in rdv.agent_ids:
                    continue
                if user_id is not None and all(p.user_id != user_id for p in rdv.participations):
                    continue
                if ids is not None and rdv.id not in ids:
                    continue
                if starts_after is not None and rdv.starts_at < starts_after:
                    continue
                if starts_before is not None and rdv.starts_at > starts_before:
                    continue
                # Non-admin scopes join agents_rdvs without DISTINCT: one row per attached agent.
                rows.extend([rdv.id] * (len(rdv.agent_ids) if role != "admin" else 1))
            salt = f"{self.seed}:{self.version}".encode()
            rows.sort(key=lambda i: hashlib.blake2b(salt + i.to_bytes(8, "big"), digest_size=8).digest())
            if len(self._listing_cache) > 32:
                self._listing_cache.clear()
            self._listing_cache[key] = rows
            return rows

    def users_of_organisation(self, organisation_id: int) -> list[User]:
        return [u for u in self.users.values() if organisation_id in u.organisation_ids]

    # --- writes (runtime changes) -------------------------------------------------------

    def _changed(self, change: Change | None) -> None:
        self.version += 1
        if change is not None:
            for listener in list(self.listeners):
                listener(change)

    def _rdv_change(self, rdv: Rdv, event: str, reason: str | None = None) -> Change:
        return Change("Rdv", event, rdv.id, [rdv.organisation_id], self.rdv_json(rdv), reason)

    def create_rdv(self, organisation_id: int | None = None, starts_at: datetime | None = None) -> Rdv:
        with self.lock:
            org_id = organisation_id or self._rng.choice(list(self.organisations))
            candidates = [u.id for u in self.users.values() if org_id in u.organisation_ids] or list(self.users)
            rdv = self._new_rdv(self._rng, org_id, candidates, starts_at)
            self._changed(self._rdv_change(rdv, "created"))
            return rdv

    def update_rdv(
        self, rdv_id: int, *, status: str | None = None, starts_at: datetime | None = None, context: str | None = None
    ) -> Rdv:
        with self.lock:
            rdv = self.rdvs.get(rdv_id)
            if rdv is None:
                raise not_found("rdv")
            if status is not None:
                if status not in STATUSES:
                    raise ApiProblem(
                        422,
                        {
                            "errors": {"status": [{"error": "inclusion"}]},
                            "error_messages": ["Statut n'est pas inclus(e) dans la liste"],
                        },
                    )
                rdv.status = status
                for participation in rdv.participations:
                    participation.status = status
                rdv.cancelled_at = (
                    datetime.now(PARIS).replace(microsecond=0) if status in ("excused", "revoked") else None
                )
            if starts_at is not None:
                rdv.starts_at = starts_at
            if context is not None:
                rdv.context = context
            self._changed(self._rdv_change(rdv, "updated"))
            return rdv

    def cancel_rdv(self, rdv_id: int) -> Rdv:
        return self.update_rdv(rdv_id, status="revoked")

    def delete_rdv(self, rdv_id: int, reason: str | None = None) -> None:
        with self.lock:
            rdv = self.rdvs.get(rdv_id)
            if rdv is None:
                raise not_found("rdv")
            change = self._rdv_change(rdv, "destroyed", reason)  # computed before deletion, as RDV-SP does
            del self.rdvs[rdv_id]
            self._changed(change)

    def rgpd_purge(self, older_than_days: int = 730) -> list[int]:
        """Destroy the RDVs that started more than two years ago (webhook reason "rgpd")."""
        limit = datetime.combine(self.anchor - timedelta(days=older_than_days), time(0), PARIS)
        doomed = [r.id for r in self.rdvs.values() if r.starts_at < limit]
        for rdv_id in doomed:
            self.delete_rdv(rdv_id, reason="rgpd")
        return doomed

    def create_user(self, organisation_id: int | None = None) -> User:
        with self.lock:
            org_id = organisation_id or self._rng.choice(list(self.organisations))
            user = self._new_user(self._rng, [org_id])
            self._changed(Change("User", "created", user.id, list(user.organisation_ids), self.user_json(user)))
            return user

    def update_user(self, user_id: int, **fields) -> User:
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                raise not_found("user")
            for name, value in fields.items():
                if name not in User.__dataclass_fields__ or name in ("id", "organisation_ids"):
                    raise ApiProblem(
                        422, {"errors": {name: [{"error": "invalid"}]}, "error_messages": [f"{name} invalide"]}
                    )
                setattr(user, name, value)
            self._changed(Change("User", "updated", user.id, list(user.organisation_ids), self.user_json(user)))
            return user

    def anonymise_user(self, user_id: int) -> User:
        """Soft deletion: the user stays, with its identity removed ("Usager supprimé")."""
        return self.update_user(
            user_id,
            first_name=people.ANONYMISED_NAME,
            last_name=people.ANONYMISED_NAME,
            email=None,
            phone_number=None,
            address=None,
            birth_date=None,
            birth_name=None,
        )

    def delete_user(self, user_id: int) -> None:
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                raise not_found("user")
            if any(p.user_id == user_id for r in self.rdvs.values() for p in r.participations):
                raise ApiProblem(
                    422,
                    {
                        "errors": {"base": [{"error": "has_rdvs"}]},
                        "error_messages": ["L'usager a des rendez-vous : anonymisez-le plutôt."],
                    },
                )
            change = Change("User", "destroyed", user.id, list(user.organisation_ids), self.user_json(user))
            del self.users[user_id]
            self._changed(change)

    def require_visible_rdv(self, agent: Agent, rdv_id: int) -> Rdv:
        """An RDV the agent may act on: any of its organisations' as an admin, its own otherwise."""
        rdv = self.rdvs.get(rdv_id)
        if rdv is None:
            raise not_found("rdv")
        role = agent.roles.get(rdv.organisation_id)
        if role is None or (role != "admin" and agent.id not in rdv.agent_ids):
            raise forbidden("Vous n’avez pas les droits suffisants pour modifier ce rendez-vous.")
        return rdv

    def set_rdv_status(self, agent: Agent, rdv_id: int, status: str | None) -> Rdv:
        """`PATCH /rdvs/{id}/update_status`: the RDV and its participations take the status."""
        with self.lock:
            self.require_visible_rdv(agent, rdv_id)
            if status not in ("unknown", "seen", "noshow", "excused", "revoked"):
                raise ApiProblem(
                    422,
                    {
                        "errors": {"status": [{"error": "inclusion"}]},
                        "error_messages": ["Statut n'est pas inclus(e) dans la liste"],
                    },
                )
            return self.update_rdv(rdv_id, status=status)

    def create_rdv_plan(self, agent: Agent, user: dict, return_url: str | None, dossier_url: str | None) -> RdvPlan:
        """`POST /rdv_plans`: a plan for the user of `user["id"]`, or for a user made from its fields."""
        with self.lock:
            if not agent.roles:
                raise forbidden("Vous n’appartenez à aucune organisation.")
            if isinstance(user.get("id"), int):
                found = self.users.get(user["id"])
                if found is None:
                    raise not_found("user")
                if not set(found.organisation_ids) & set(agent.roles):
                    raise forbidden("Vous n’avez pas les droits suffisants pour voir cette fiche usager.")
                organisation_id = next(o for o in found.organisation_ids if o in agent.roles)
            else:
                missing = [name for name in ("first_name", "last_name") if not user.get(name)]
                if missing:
                    raise ApiProblem(
                        422,
                        {
                            "errors": {name: [{"error": "blank"}] for name in missing},
                            "error_messages": [f"{name} doit être rempli(e)" for name in missing],
                        },
                    )
                organisation_id = sorted(agent.roles)[0]
                found = self._new_user(self._rng, [organisation_id])
                found.first_name, found.last_name = user["first_name"], user["last_name"]
                found.email, found.phone_number = user.get("email"), user.get("phone_number")
                found.address, found.birth_date, found.birth_name = user.get("address"), None, None
                self._changed(Change("User", "created", found.id, list(found.organisation_ids), self.user_json(found)))
            plan = RdvPlan(
                self._take_id("rdv_plan", 0),
                agent.id,
                organisation_id,
                found.id,
                datetime.now(PARIS).replace(microsecond=0),
                return_url,
                dossier_url,
            )
            self.rdv_plans[plan.id] = plan
            return plan

    def book_rdv_plan(self, plan_id: int, starts_at: datetime | None = None) -> Rdv:
        """The agent finishes the plan: an RDV for its user, with the agent attached."""
        with self.lock:
            plan = self.rdv_plans.get(plan_id)
            if plan is None:
                raise not_found("rdv_plan")
            starts_at = starts_at or datetime.combine(self.anchor + timedelta(days=7), time(10), PARIS)
            rdv = self._new_rdv(self._rng, plan.organisation_id, [plan.user_id], starts_at, individual=True)
            rdv.agent_ids = [plan.agent_id]
            rdv.status = rdv.participations[0].status = "unknown"
            rdv.cancelled_at = None
            plan.rdv_id, plan.updated_at = rdv.id, datetime.now(PARIS).replace(microsecond=0)
            self._changed(self._rdv_change(rdv, "created"))
            return rdv

    # --- webhook endpoints --------------------------------------------------------------

    def save_webhook_endpoint(
        self,
        agent: Agent,
        organisation_id: int,
        target_url: str | None,
        secret: str | None,
        subscriptions: Iterable[str] | None,
        endpoint_id: int | None = None,
    ) -> tuple[WebhookEndpoint, bool]:
        """Create (or update) an endpoint; returns it and whether it was really stored."""
        with self.lock:
            self.require_member(agent, organisation_id)
            if agent.roles.get(organisation_id) != "admin":
                raise forbidden("Seuls les administrateurs de territoire peuvent gérer les webhooks.")
            existing = self.webhook_endpoints.get(endpoint_id) if endpoint_id is not None else None
            if endpoint_id is not None and (existing is None or existing.organisation_id != organisation_id):
                raise not_found("webhook_endpoint")
            target_url = target_url if target_url is not None else (existing.target_url if existing else None)
            secret = secret if secret is not None else (existing.secret if existing else None)
            subscriptions = (
                list(subscriptions)
                if subscriptions is not None
                else (existing.subscriptions if existing else list(SUBSCRIPTIONS))
            )
            errors: dict[str, list] = {}
            if not target_url:
                errors["target_url"] = [{"error": "blank"}]
            if not secret:
                errors["secret"] = [{"error": "blank"}]
            if any(s not in SUBSCRIPTIONS for s in subscriptions):
                errors["base"] = [
                    {"error": "la liste des abonnements choisis contient une ou plusieurs valeurs incorrectes"}
                ]
            duplicate = any(
                e.target_url == target_url and e.organisation_id == organisation_id and e.id != endpoint_id
                for e in self.webhook_endpoints.values()
            )
            if duplicate:
                errors["target_url"] = [{"error": "taken"}]
            if errors:
                raise ApiProblem(
                    422, {"errors": errors, "error_messages": [f"{k} {v[0]['error']}" for k, v in errors.items()]}
                )
            endpoint = WebhookEndpoint(
                endpoint_id or self._take_id("endpoint", 700), organisation_id, target_url, secret, subscriptions
            )
            stored = organisation_id not in self.silent_webhook_failure_organisations
            if stored:
                self.webhook_endpoints[endpoint.id] = endpoint
            return endpoint, stored

    def records_for_replay(self, endpoint: WebhookEndpoint) -> list[Change]:
        """What `trigger` re-sends: a `created` payload for every subscribed record of the organisation."""
        org_id = endpoint.organisation_id
        changes: list[Change] = []
        if "rdv" in endpoint.subscriptions:
            changes += [self._rdv_change(r, "created") for r in self.rdvs.values() if r.organisation_id == org_id]
        if "user" in endpoint.subscriptions:
            changes += [
                Change("User", "created", u.id, [org_id], self.user_json(u)) for u in self.users_of_organisation(org_id)
            ]
        if "motif" in endpoint.subscriptions:
            changes += [
                Change("Motif", "created", m.id, [org_id], self.motif_json(m))
                for m in self.motifs.values()
                if m.organisation_id == org_id
            ]
        if "lieu" in endpoint.subscriptions:
            changes += [
                Change("Lieu", "created", lid, [org_id], self.lieu_json(lieu))
                for lid, lieu in self.lieux.items()
                if lieu.organisation_id == org_id
            ]
        return changes
