"""The synced tables of Doctolib and how a validated appointment becomes their rows."""

from __future__ import annotations

from sync_assets.doctolib import models
from sync_assets.platform.merge import TableSpec

ACCOUNTS = TableSpec("doctolib.accounts", ("name",), ("name", "remote_id", "kind", "status", "status_reason"))
PRACTICES = TableSpec("doctolib.practices", ("id",), ("id", "name", "city", "zipcode"))
ACCOUNT_PRACTICES = TableSpec(
    "doctolib.account_practices", ("account_name", "practice_id"), ("account_name", "practice_id")
)
PRACTITIONERS = TableSpec("doctolib.practitioners", ("id",), ("id", "name"))
VISIT_MOTIVES = TableSpec("doctolib.visit_motives", ("id",), ("id", "name"))
PATIENTS = TableSpec("doctolib.patients", ("id",), ("id", "first_name", "last_name", "birth_date", "phone", "email"))
APPOINTMENTS = TableSpec(
    "doctolib.appointments",
    ("id",),
    (
        "id",
        "practice_id",
        "agenda_id",
        "practitioner_id",
        "patient_id",
        "visit_motive_id",
        "start_at",
        "end_at",
        "status",
        "created_at",
        "updated_at",
        "deleted_at",
    ),
)

# What a practice run merges, parents first.
PRACTICE_TABLES = (PRACTITIONERS, VISIT_MOTIVES, PATIENTS, APPOINTMENTS)


def appointment_row(a: models.Appointment) -> tuple:
    return (
        a.id,
        a.practice_id,
        a.agenda_id,
        a.practitioner.id,
        a.patient.id,
        a.visit_motive.id,
        a.start_at,
        a.end_at,
        a.status,
        a.created_at,
        a.updated_at,
        a.deleted_at,
    )


def patient_row(p: models.Patient) -> tuple:
    return (p.id, p.first_name, p.last_name, p.birth_date, p.phone, p.email)
