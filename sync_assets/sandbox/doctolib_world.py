"""The Doctolib sandbox's data: practices, accounts, practitioners and appointments with patients.

Written from the contract documented in docs/doctolib-api.md, never from `doctolib/` models.
Deterministic for a seed, a number of practices and appointments per practice, and an anchor
date. Accounts are practice profiles (one practice each) and dentist profiles (a practitioner
working in several practices), so most practices are reached through more than one account.
"""

from __future__ import annotations

import bisect
import random
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from sync_assets.sandbox.people import CITIES, person

STATUSES = ("confirmed", "cancelled", "no_show", "done")
MOTIVES = (
    "Consultation",
    "Détartrage",
    "Urgence dentaire",
    "Contrôle annuel",
    "Soin de carie",
    "Extraction",
    "Pose de couronne",
    "Orthodontie",
)
APPOINTMENT_IDS = 1_000_000  # appointment ids start above this (practice ids are small)


@dataclass(frozen=True)
class Practice:
    id: int
    name: str
    city: str
    zipcode: str


@dataclass(frozen=True)
class Account:
    key: str
    name: str
    kind: str  # practice | dentist
    practice_ids: tuple[int, ...]


@dataclass(frozen=True)
class Appointment:
    id: int
    practice_id: int
    agenda_id: int
    practitioner_id: int
    patient_id: int
    visit_motive_id: int
    start_at: datetime
    end_at: datetime
    status: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


@dataclass
class DoctolibWorld:
    seed: int = 1
    practices_count: int = 3
    appointments_per_practice: int = 50
    anchor: datetime = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
    practices: dict[int, Practice] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    practitioners: dict[int, str] = field(default_factory=dict)
    patients: dict[int, dict] = field(default_factory=dict)
    appointments: dict[int, Appointment] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock_offset: timedelta = timedelta(0)
    # Each practice's appointments by id, and in (updated_at, id) order (rebuilt after a change).
    _members: dict[int, dict[int, Appointment]] = field(default_factory=dict, repr=False)
    _listings: dict[int, list[Appointment]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        practitioner_ids = []
        for number in range(1, self.practices_count + 1):
            city, zipcode = CITIES[number % len(CITIES)]
            self.practices[number] = Practice(number, f"Cabinet dentaire {city} {number}", city, zipcode)
            key = f"practice-{number}-key"
            self.accounts[key] = Account(key, f"Cabinet {number}", "practice", (number,))
            for seat in range(2):
                practitioner_id = number * 10 + seat
                doctor = person(rng, practitioner_id)
                self.practitioners[practitioner_id] = f"Dr {doctor.first_name} {doctor.last_name}"
                practitioner_ids.append(practitioner_id)
        # Dentist profiles: each works in two neighbouring practices.
        for number in range(1, self.practices_count, 2):
            key = f"dentist-{number}-key"
            self.accounts[key] = Account(
                key, f"Dentiste {number}", "dentist", (number, min(number + 1, self.practices_count))
            )
        next_id = APPOINTMENT_IDS
        for practice_id in self.practices:
            for n in range(self.appointments_per_practice):
                if self.patients and rng.random() < 0.3:  # a patient seen before
                    patient_id = rng.randint(1, len(self.patients))
                else:
                    patient_id = len(self.patients) + 1
                    p = person(rng, 50_000 + patient_id)
                    self.patients[patient_id] = {
                        "id": patient_id,
                        "first_name": p.first_name,
                        "last_name": p.last_name,
                        "birth_date": p.birth_date.isoformat(),
                        "phone": p.phone_number,
                        "email": p.email,
                    }
                start = self.anchor + timedelta(days=rng.randint(-300, 120), minutes=30 * rng.randint(0, 16))
                created = min(start, self.anchor) - timedelta(days=rng.randint(1, 60))
                next_id += 1
                self._store(
                    Appointment(
                        id=next_id,
                        practice_id=practice_id,
                        agenda_id=practice_id * 100 + n % 2,
                        practitioner_id=practice_id * 10 + n % 2,
                        patient_id=patient_id,
                        visit_motive_id=1 + rng.randrange(len(MOTIVES)),
                        start_at=start,
                        end_at=start + timedelta(minutes=30),
                        status=("done" if start < self.anchor else "confirmed")
                        if rng.random() < 0.85
                        else rng.choice(STATUSES),
                        created_at=created,
                        updated_at=created + timedelta(hours=rng.randint(0, 48)),
                    )
                )

    # --- time and changes -----------------------------------------------------------------

    def now(self) -> datetime:
        """The sandbox's clock: the real time to the millisecond, the precision the API shows
        (changes are stamped with it)."""
        moment = datetime.now(timezone.utc) + self.clock_offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def practices_of(self, key: str) -> list[Practice]:
        return [self.practices[i] for i in self.accounts[key].practice_ids]

    def update_appointment(self, appointment_id: int, **changes) -> Appointment:
        with self.lock:
            current = self.appointments[appointment_id]
            updated = replace(current, **changes, updated_at=self.now())
            self._store(updated)
            return updated

    def cancel(self, appointment_id: int) -> Appointment:
        return self.update_appointment(appointment_id, status="cancelled")

    def soft_delete(self, appointment_id: int) -> Appointment:
        now = self.now()
        return self.update_appointment(appointment_id, deleted_at=now)

    def hard_delete(self, appointment_id: int) -> None:
        """Gone without a trace: only a full resync notices."""
        with self.lock:
            gone = self.appointments.pop(appointment_id)
            del self._members[gone.practice_id][appointment_id]
            self._listings.pop(gone.practice_id, None)

    def add_appointment(self, practice_id: int, start_at: datetime, patient_id: int | None = None) -> Appointment:
        with self.lock:
            appointment_id = max(self.appointments, default=APPOINTMENT_IDS) + 1
            now = self.now()
            appointment = Appointment(
                id=appointment_id,
                practice_id=practice_id,
                agenda_id=practice_id * 100,
                practitioner_id=practice_id * 10,
                patient_id=patient_id or next(iter(self.patients)),
                visit_motive_id=1,
                start_at=start_at,
                end_at=start_at + timedelta(minutes=30),
                status="confirmed",
                created_at=now,
                updated_at=now,
            )
            self._store(appointment)
            return appointment

    def change_many(self, count: int) -> list[int]:
        """Change `count` appointments spread over every practice (status and stamp); their ids."""
        with self.lock:
            ids = sorted(self.appointments)
            step = max(1, len(ids) // max(1, count))
            chosen = ids[::step][:count]
            for appointment_id in chosen:
                current = self.appointments[appointment_id]
                self.update_appointment(
                    appointment_id, status="cancelled" if current.status != "cancelled" else "confirmed"
                )
            return chosen

    def _store(self, appointment: Appointment) -> None:
        self.appointments[appointment.id] = appointment
        self._members.setdefault(appointment.practice_id, {})[appointment.id] = appointment
        self._listings.pop(appointment.practice_id, None)

    # --- the API's JSON ---------------------------------------------------------------------

    def practice_json(self, practice: Practice) -> dict:
        return {"id": practice.id, "name": practice.name, "city": practice.city, "zipcode": practice.zipcode}

    def appointment_json(self, a: Appointment) -> dict:
        return {
            "id": a.id,
            "practice_id": a.practice_id,
            "agenda_id": a.agenda_id,
            "practitioner": {"id": a.practitioner_id, "name": self.practitioners[a.practitioner_id]},
            "patient": dict(self.patients[a.patient_id]),
            "visit_motive": {"id": a.visit_motive_id, "name": MOTIVES[a.visit_motive_id - 1]},
            "start_at": _iso(a.start_at),
            "end_at": _iso(a.end_at),
            "status": a.status,
            "created_at": _iso(a.created_at),
            "updated_at": _iso(a.updated_at),
            "deleted_at": _iso(a.deleted_at) if a.deleted_at else None,
        }

    def appointments_of(self, practice_id: int, updated_since: datetime | None) -> list[Appointment]:
        """A practice's appointments updated since a time, in (updated_at, id) order."""
        with self.lock:
            listing = self._listings.get(practice_id)
            if listing is None:
                listing = self._listings[practice_id] = sorted(
                    self._members.get(practice_id, {}).values(), key=lambda a: (a.updated_at, a.id)
                )
            start = (
                0 if updated_since is None else bisect.bisect_left(listing, updated_since, key=lambda a: a.updated_at)
            )
            return listing[start:]


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
