"""The listing, the dashboard and the documented queries that read them are written for their plans
(sql/views/activity_listing.sql, account_dashboard.sql, sql/queries/03 and 04). Here they answer
as plain queries that say what they mean, without regard to speed: the same rows, filter by
filter and page by page, on the small dataset (dataset.py), with the setting on and off, and
with an RDV turned into another mediator's activity."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync_assets.platform.views import analyst_query

from .dataset import ALICE, AT, BOB, CHLOE, NOW

# What analytics.activity_listing holds, written plainly.
LISTING = """
SELECT a.account_id, 'activite'::text AS kind, a.id AS item_id, a.date, a.type, a.themes, a.duration_min,
       a.lieu_id, coalesce(l.name, a.place) AS place,
       ARRAY(SELECT ab.beneficiaire_id FROM coop.activite_beneficiaires ab
             WHERE ab.activite_id = a.id ORDER BY 1) AS beneficiaire_ids,
       a.rdv_id, r.status AS rdv_status
FROM coop.activites a
LEFT JOIN rdvsp.lieux l ON l.id = a.lieu_id
LEFT JOIN rdvsp.rdvs r ON r.id = a.rdv_id
UNION ALL
SELECT ar.account_id, 'rdv', ar.rdv_id, ar.starts_at,
       CASE WHEN r.collectif THEN 'collectif' ELSE 'individuel' END,
       CASE WHEN m.motif_category_short_name IS NULL THEN '{}'::text[] ELSE ARRAY[m.motif_category_short_name] END,
       coalesce(r.duration_in_min, (extract(epoch FROM r.ends_at - r.starts_at) / 60)::integer),
       r.lieu_id, coalesce(l.name, r.address),
       ARRAY(SELECT b.id FROM rdvsp.participations p
             JOIN coop.beneficiaires b ON b.account_id = ar.account_id AND b.rdv_user_id = p.user_id
             WHERE p.rdv_id = ar.rdv_id ORDER BY 1),
       ar.rdv_id, r.status
FROM rdvsp.account_rdvs ar
JOIN coop.account_settings s ON s.account_id = ar.account_id AND s.include_rdvs_in_activity_listing
LEFT JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
LEFT JOIN rdvsp.lieux l ON l.id = r.lieu_id
LEFT JOIN rdvsp.motifs m ON m.id = r.motif_id
WHERE NOT EXISTS (SELECT 1 FROM coop.activites x WHERE x.rdv_id = ar.rdv_id)
"""
COLUMNS = (
    "account_id, kind, item_id, date, type, themes, duration_min, lieu_id, place, beneficiaire_ids, rdv_id, rdv_status"
)
ORDER = "ORDER BY date DESC, kind DESC, item_id DESC"
# What analytics.account_dashboard holds, written plainly.
DASHBOARD = """
SELECT a.id,
       (SELECT count(*) FROM rdvsp.account_rdvs ar JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
        WHERE ar.account_id = a.id AND ar.starts_at > now() AND r.status = 'unknown'),
       (SELECT min(ar.starts_at) FROM rdvsp.account_rdvs ar JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
        WHERE ar.account_id = a.id AND ar.starts_at > now() AND r.status = 'unknown'),
       (SELECT count(*) FROM rdvsp.account_rdvs ar WHERE ar.account_id = a.id AND ar.starts_at <= now()),
       (SELECT count(*) FROM rdvsp.account_rdvs ar JOIN rdvsp.rdvs r ON r.id = ar.rdv_id
        WHERE ar.account_id = a.id AND ar.starts_at <= now() AND r.status = 'seen'
          AND NOT EXISTS (SELECT 1 FROM coop.activites x WHERE x.rdv_id = ar.rdv_id)
          AND NOT EXISTS (SELECT 1 FROM coop.rdv_cra_declined d WHERE d.rdv_id = ar.rdv_id)),
       (SELECT count(*) FROM coop.activites x WHERE x.account_id = a.id)
FROM rdvsp.accounts a ORDER BY 1
"""
# The filters of sql/queries/04 other than the beneficiary's, with values the dataset holds and not.
FILTERS = [
    "place = 'Médiathèque'",
    "place = 'Mairie'",
    "place = 'Nowhere'",
    "type = 'collectif'",
    "type = 'demarche'",
    "type = 'individuel'",
    "themes @> ARRAY['numerique']",
    "themes @> ARRAY['administratif']",
    "rdv_status = 'seen'",
    "rdv_status = 'noshow'",
    "rdv_status = 'unknown'",
    "rdv_status = 'revoked'",
]
RANGES = [(AT[1] - timedelta(days=30), NOW + timedelta(days=30)), (AT[1], NOW), (AT[3], AT[5])]
PAGE = 3  # the documented LIMIT 20 set to 3, so that order and limit show on the small dataset


def filtered(condition: str | None) -> str:
    """sql/queries/04 with a page of PAGE rows: as written (the beneficiary), or with `condition` in
    place of the beneficiary filter, its date range kept."""
    statement = analyst_query("04_activity_listing_filtered").replace("LIMIT 20", f"LIMIT {PAGE}")
    if condition is None:
        return statement
    where, order_by = statement.split("\nORDER BY")
    date_range = "AND date < %(to)s"
    return where[: where.index(date_range) + len(date_range)] + f"\n  AND {condition}\nORDER BY" + order_by


def reference(conn, where: str, params: dict, limit: int = PAGE) -> list[tuple]:
    columns = "date, kind, item_id, type, themes, place, beneficiaire_ids, rdv_status"
    return conn.execute(
        f"WITH listing AS ({LISTING}) SELECT {columns} FROM listing WHERE {where} {ORDER} LIMIT {limit}", params
    ).fetchall()


@pytest.fixture(params=["rdvs listed", "rdvs not listed", "an RDV converted by another mediator"])
def situation(request, loaded):
    """The dataset as loaded (both mediators list their RDVs); with the setting off for mediator 1;
    with RDV 1 (seen by mediator 1 only) turned into an activity of mediator 2 (for Alice)."""
    with loaded.connect() as conn:
        if request.param == "rdvs not listed":
            conn.execute(
                "UPDATE coop.account_settings SET include_rdvs_in_activity_listing = false WHERE account_id = 1"
            )
        if request.param == "an RDV converted by another mediator":
            activity = conn.execute(
                "INSERT INTO coop.activites (account_id, date, type, themes, duration_min, lieu_id, rdv_id) "
                "VALUES (2, %s, 'individuel', '{numerique}', 45, 100, 1) RETURNING id",
                [AT[1]],
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO coop.activite_beneficiaires VALUES (%s, %s)", [activity, loaded.beneficiary(2, ALICE)]
            )
    return loaded


def test_the_listing_holds_the_rows_of_its_plain_definition(situation):
    with situation.connect() as conn:
        listed = conn.execute(f"SELECT {COLUMNS} FROM analytics.activity_listing ORDER BY 1, 2, 3").fetchall()
        expected = conn.execute(
            f"WITH listing AS ({LISTING}) SELECT {COLUMNS} FROM listing ORDER BY 1, 2, 3"
        ).fetchall()
    assert listed == expected
    assert len(listed) >= 3


def test_each_filter_of_the_documented_query_selects_the_rows_of_its_plain_definition(situation):
    # Mediator 1's beneficiaries, and mediator 2's (of RDV 5): asked of either mediator.
    beneficiaries = [situation.beneficiary(*b) for b in [(1, ALICE), (1, BOB), (1, CHLOE), (2, ALICE), (2, BOB)]]
    with situation.connect() as conn:
        for account_id in (1, 2):
            for start, end in RANGES:
                dates = {"account_id": account_id, "from": start, "to": end}
                scope = "account_id = %(account_id)s AND date >= %(from)s AND date < %(to)s"
                for beneficiary in beneficiaries:
                    params = dates | {"beneficiaire_id": beneficiary}
                    expected = reference(
                        conn, f"{scope} AND beneficiaire_ids @> ARRAY[%(beneficiaire_id)s]::bigint[]", params
                    )
                    assert conn.execute(filtered(None), params).fetchall() == expected, (account_id, beneficiary)
                for condition in FILTERS:
                    expected = reference(conn, f"{scope} AND {condition}", dates)
                    assert conn.execute(filtered(condition), dates).fetchall() == expected, (account_id, condition)


def test_pages_by_number_are_the_rows_of_a_plain_offset(situation):
    columns = "date, kind, item_id, type, themes, duration_min, place, beneficiaire_ids, rdv_status"
    offset_page = analyst_query("03_activity_listing_offset_page").replace("LIMIT 20", f"LIMIT {PAGE}")
    with situation.connect() as conn:
        for account_id in (1, 2):
            everything = conn.execute(
                f"WITH listing AS ({LISTING}) SELECT {columns} FROM listing WHERE account_id = %s {ORDER}", [account_id]
            ).fetchall()
            for offset in range(len(everything) + 2):
                page = conn.execute(offset_page, {"account_id": account_id, "offset": offset}).fetchall()
                assert page == everything[offset : offset + PAGE], (account_id, offset)


def test_the_dashboard_holds_the_figures_of_its_plain_definition(situation):
    with situation.connect() as conn:
        figures = conn.execute(
            "SELECT account_id, future_rdvs, next_rdv_at, past_rdvs, rdvs_to_convert, activities "
            "FROM analytics.account_dashboard ORDER BY 1"
        ).fetchall()
        assert figures == conn.execute(DASHBOARD).fetchall()
        one = conn.execute(analyst_query("05_account_dashboard"), {"account_id": 1}).fetchall()
    assert one == [figures[0][1:]]


def test_an_rdv_turned_into_another_mediators_activity_is_neither_listed_nor_to_convert(loaded):
    """RDV 1 is seen by mediator 1 only; mediator 2's activity made from it converts it all the same
    (the mediator's own activities do not tell it)."""
    with loaded.connect() as conn:
        conn.execute(
            "INSERT INTO coop.activites (account_id, date, type, duration_min, rdv_id) "
            "VALUES (2, %s, 'individuel', 45, 1)",
            [AT[1]],
        )
        listed = conn.execute(
            "SELECT kind, item_id FROM analytics.activity_listing WHERE account_id = 1 AND kind = 'rdv'"
        ).fetchall()
        to_convert = conn.execute(
            "SELECT rdvs_to_convert FROM analytics.account_dashboard WHERE account_id = 1"
        ).fetchone()[0]
    assert ("rdv", 1) not in listed and ("rdv", 7) in listed
    assert to_convert == 1  # RDV 7 only
