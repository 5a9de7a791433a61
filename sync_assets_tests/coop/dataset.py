"""A small hand-made dataset: two mediators' RDVs, users and activities, with known answers.

Times are relative to now (the dashboard counts "future" and "past"). Account 1 sees every RDV;
account 2 sees RDV 5 only. Both mediators chose to list their RDVs among their activities.

| RDV | starts      | status  | kind       | participants (status)          | note                     |
|-----|-------------|---------|------------|--------------------------------|--------------------------|
| 1   | now - 10 d  | seen    | individuel | Alice (seen)                   | to convert               |
| 2   | now - 5 d   | seen    | individuel | Bob (seen)                     | converted (activity 1)   |
| 3   | now - 3 d   | noshow  | individuel | Alice (noshow)                 |                          |
| 4   | now - 2 d   | seen    | individuel | Bob (seen)                     | declined                 |
| 5   | now + 2 d   | unknown | collectif  | Alice, Bob (unknown)           | also seen by account 2   |
| 6   | now + 5 d   | revoked | individuel | Alice (revoked)                | cancelled                |
| 7   | now - 1 d   | seen    | individuel | Chloé (seen), Bob (excused)    | to convert               |

Activities of account 1: activity 1 from RDV 2 (Bob), activity 2 with no RDV at now - 3 d (the
same moment as RDV 3), type demarche, themes {administratif, numerique}, place "Mairie".
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg

NOW = datetime.now(timezone.utc).replace(microsecond=0)
AT = {
    1: NOW - timedelta(days=10),
    2: NOW - timedelta(days=5),
    3: NOW - timedelta(days=3),
    4: NOW - timedelta(days=2),
    5: NOW + timedelta(days=2),
    6: NOW + timedelta(days=5),
    7: NOW - timedelta(days=1),
}
ALICE, BOB, CHLOE = 1000, 1001, 1002
RDVS = {  # id: (status, collectif, participants)
    1: ("seen", False, [(ALICE, "seen")]),
    2: ("seen", False, [(BOB, "seen")]),
    3: ("noshow", False, [(ALICE, "noshow")]),
    4: ("seen", False, [(BOB, "seen")]),
    5: ("unknown", True, [(ALICE, "unknown"), (BOB, "unknown")]),
    6: ("revoked", False, [(ALICE, "revoked")]),
    7: ("seen", False, [(CHLOE, "seen"), (BOB, "excused")]),
}


def load(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO rdvsp.accounts (id, base_url, sync_from) VALUES (1, 'https://rdv.test', '2020-01-01'), "
        "(2, 'https://rdv.test', '2020-01-01')"
    )
    conn.execute("UPDATE coop.account_settings SET include_rdvs_in_activity_listing = true")  # both list their RDVs
    conn.execute("INSERT INTO rdvsp.organisations (id, name, synced_at) VALUES (10, 'France services Nord', now())")
    conn.execute(
        "INSERT INTO rdvsp.lieux (id, organisation_id, name, address, single_use, synced_at) "
        "VALUES (100, 10, 'Médiathèque', '1 rue des Livres', false, now())"
    )
    conn.execute(
        "INSERT INTO rdvsp.motifs (id, organisation_id, name, location_type, bookable_by, bookable_publicly, "
        "motif_category_short_name, synced_at) VALUES (200, 10, 'Aide numérique', 'public_office', 'agents', "
        "false, 'numerique', now())"
    )
    conn.execute(
        "INSERT INTO rdvsp.users (id, first_name, last_name, birth_date, email, phone_number, synced_at) VALUES "
        "(%s, 'Alice', 'Martin', '1980-05-01', 'alice@example.test', NULL, now()), "
        "(%s, 'Bob', 'Durand', '1900-01-01', NULL, '0611223344', now()), "
        "(%s, 'Chloé', 'Petit', '1991-02-03', 'chloe@example.test', NULL, now())",
        [ALICE, BOB, CHLOE],
    )
    participation = 5000
    for rdv_id, (status, collectif, participants) in RDVS.items():
        conn.execute(
            "INSERT INTO rdvsp.rdvs (id, organisation_id, motif_id, lieu_id, status, starts_at, ends_at, "
            "duration_in_min, collectif, agent_ids, raw, synced_at) VALUES (%s, 10, 200, 100, %s, %s, %s, 45, "
            "%s, '{1}', '{}', now())",
            [rdv_id, status, AT[rdv_id], AT[rdv_id] + timedelta(minutes=45), collectif],
        )
        for account in [1, 2] if rdv_id == 5 else [1]:
            conn.execute(
                "INSERT INTO rdvsp.account_rdvs (account_id, rdv_id, organisation_id, starts_at, synced_at) "
                "VALUES (%s, %s, 10, %s, now())",
                [account, rdv_id, AT[rdv_id]],
            )
        for user_id, user_status in participants:
            participation += 1
            conn.execute(
                "INSERT INTO rdvsp.participations (id, rdv_id, user_id, status, synced_at) "
                "VALUES (%s, %s, %s, %s, now())",
                [participation, rdv_id, user_id, user_status],
            )


def load_activities(conn: psycopg.Connection) -> dict[str, int]:
    """Activities 1 and 2 and the decline of RDV 4 (after the beneficiaries exist); their ids."""
    bob = conn.execute("SELECT id FROM coop.beneficiaires WHERE account_id = 1 AND rdv_user_id = %s", [BOB]).fetchone()[
        0
    ]
    first = conn.execute(
        "INSERT INTO coop.activites (account_id, date, type, themes, duration_min, lieu_id, rdv_id) "
        "VALUES (1, %s, 'individuel', '{numerique}', 45, 100, 2) RETURNING id",
        [AT[2]],
    ).fetchone()[0]
    conn.execute("INSERT INTO coop.activite_beneficiaires VALUES (%s, %s)", [first, bob])
    second = conn.execute(
        "INSERT INTO coop.activites (account_id, date, type, themes, duration_min, place) "
        "VALUES (1, %s, 'demarche', '{administratif,numerique}', 30, 'Mairie') RETURNING id",
        [AT[3]],
    ).fetchone()[0]
    conn.execute("INSERT INTO coop.rdv_cra_declined (rdv_id, account_id) VALUES (4, 1)")
    return {"converted": first, "free": second, "bob": bob}
