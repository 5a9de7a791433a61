"""Doctolib's listings, declared for the platform's engine (`platform/listing.py`).

Both are paged by cursor (`{"data": [...], "next_cursor": "…"}`), at most PAGE_SIZE records a
page. A practice run's scope is `practice_id`; its appointments are incremental on `updated_at`
(`updated_since`), and a row of another practice in its listing is refused (breaking drift
`practice_id`, `other_practice`).
"""

from __future__ import annotations

from datetime import timedelta

from sync_assets.doctolib import models, tables
from sync_assets.platform.http import Cursors
from sync_assets.platform.listing import Incremental, Listing, Tenant

PAGE_SIZE = 500  # the most the API returns per page


def _page_size(scope) -> dict:
    return {"limit": PAGE_SIZE}


def appointment_rows(a: models.Appointment, scope, _) -> list:
    """An appointment and the patient, practitioner and visit motive it embeds."""
    return [
        (tables.APPOINTMENTS, tables.appointment_row(a)),
        (tables.PATIENTS, tables.patient_row(a.patient)),
        (tables.PRACTITIONERS, (a.practitioner.id, a.practitioner.name)),
        (tables.VISIT_MOTIVES, (a.visit_motive.id, a.visit_motive.name)),
    ]


APPOINTMENTS = Listing(
    "appointments",
    "/v1/practices/{practice_id}/appointments",
    ("data",),
    models.Appointment,
    rows=appointment_rows,
    paginator=Cursors(),
    params=_page_size,
    tenant=Tenant(lambda a: a.practice_id, "practice_id", "other_practice"),
    incremental=Incremental("updated_at", "updated_since", lookback=timedelta(hours=1)),
)
# The practices an account reaches (discovery keeps the records; no rows are staged from here).
PRACTICES = Listing(
    "practices",
    "/v1/practices",
    ("data",),
    models.Practice,
    rows=lambda practice, scope, _: [],
    paginator=Cursors(),
    params=_page_size,
)
