"""The analyst views against hand-computed answers on the small dataset (dataset.py), through the
documented queries of sql/queries/."""

from __future__ import annotations

from datetime import timedelta

from sync_assets.platform.views import analyst_query

from .dataset import ALICE, AT, BOB, NOW

LISTING = (
    "SELECT kind, item_id FROM analytics.activity_listing WHERE account_id = %s {} "
    "ORDER BY date DESC, kind DESC, item_id DESC"
)


def listing(loaded, account_id: int = 1, where: str = "", params=()) -> list[tuple[str, int]]:
    return loaded.query(LISTING.format(where), [account_id, *params])


def test_the_listing_holds_activities_and_unconverted_rdvs_newest_first(loaded):
    converted, free = loaded.ids["converted"], loaded.ids["free"]
    # RDV 2 became activity 1: it is listed once, as the activity. RDV 3 and activity 2 share a
    # moment: "rdv" sorts before "activite" (kind DESC).
    assert listing(loaded) == [
        ("rdv", 6),
        ("rdv", 5),
        ("rdv", 7),
        ("rdv", 4),
        ("rdv", 3),
        ("activite", free),
        ("activite", converted),
        ("rdv", 1),
    ]
    assert listing(loaded, 2) == [("rdv", 5)]
    row = loaded.query(
        "SELECT type, themes, duration_min, place, beneficiaire_ids, rdv_id, rdv_status "
        "FROM analytics.activity_listing WHERE kind = 'activite' AND item_id = %s",
        [converted],
    )[0]
    assert row == ("individuel", ["numerique"], 45, "Médiathèque", [loaded.ids["bob"]], 2, "seen")
    alice, bob = loaded.beneficiary(1, ALICE), loaded.beneficiary(1, BOB)
    rdv = loaded.query(
        "SELECT type, themes, place, beneficiaire_ids FROM analytics.activity_listing "
        "WHERE account_id = 1 AND kind = 'rdv' AND item_id = 5"
    )[0]
    assert rdv == ("collectif", ["numerique"], "Médiathèque", sorted([alice, bob]))


def test_filters_of_the_listing(loaded):
    alice = loaded.beneficiary(1, ALICE)
    free = loaded.ids["free"]
    assert listing(loaded, where="AND beneficiaire_ids @> ARRAY[%s]::bigint[]", params=[alice]) == [
        ("rdv", 6),
        ("rdv", 5),
        ("rdv", 3),
        ("rdv", 1),
    ]
    assert listing(loaded, where="AND date >= %s AND date < %s", params=[AT[3], AT[4] + timedelta(seconds=1)]) == [
        ("rdv", 4),
        ("rdv", 3),
        ("activite", free),
    ]
    assert listing(loaded, where="AND place = 'Mairie'") == [("activite", free)]
    assert listing(loaded, where="AND type = 'collectif'") == [("rdv", 5)]
    assert listing(loaded, where="AND themes @> ARRAY['administratif']") == [("activite", free)]
    assert listing(loaded, where="AND rdv_status = 'seen'") == [
        ("rdv", 7),
        ("rdv", 4),
        ("activite", loaded.ids["converted"]),
        ("rdv", 1),
    ]
    filtered = loaded.query(
        analyst_query("04_activity_listing_filtered"),
        {"account_id": 1, "from": AT[1], "to": NOW, "beneficiaire_id": alice},
    )
    assert [(r[1], r[2]) for r in filtered] == [("rdv", 3), ("rdv", 1)]


def test_keyset_and_offset_pages_show_every_row_once(loaded):
    everything = listing(loaded)
    with loaded.connect() as conn:
        # Keyset pages of 3 (the documented query, with its LIMIT set to 3).
        next_page = analyst_query("02_activity_listing_next_page").replace("LIMIT 20", "LIMIT 3")
        pages = [
            conn.execute(
                analyst_query("01_activity_listing_first_page").replace("LIMIT 20", "LIMIT 3"), {"account_id": 1}
            ).fetchall()
        ]
        while pages[-1]:
            date, kind, item_id = pages[-1][-1][:3]
            pages.append(
                conn.execute(
                    next_page, {"account_id": 1, "last_date": date, "last_kind": kind, "last_item_id": item_id}
                ).fetchall()
            )
            # A row added before the current position does not shift later pages.
            conn.execute(
                "INSERT INTO coop.activites (account_id, date, type, duration_min) "
                "VALUES (1, now() + interval '30 days', 'demarche', 10)"
            )
        walked = [(r[1], r[2]) for page in pages for r in page]
        assert walked == everything and [len(p) for p in pages] == [3, 3, 2, 0]
        conn.rollback()
        offset = analyst_query("03_activity_listing_offset_page").replace("LIMIT 20", "LIMIT 3")
        by_number = [conn.execute(offset, {"account_id": 1, "offset": start}).fetchall() for start in (0, 3, 6)]
        assert [(r[1], r[2]) for page in by_number for r in page] == everything


def test_the_dashboard_counts(loaded):
    rows = loaded.query(analyst_query("05_account_dashboard"), {"account_id": 1})
    # Future: RDV 5 (RDV 6 is cancelled). Past: 1, 2, 3, 4, 7. To convert: 1 and 7 (2 is converted,
    # 4 declined, 3 a no-show).
    assert rows == [(1, AT[5], 5, 2, 2)]
    assert loaded.query(analyst_query("05_account_dashboard"), {"account_id": 2}) == [(1, AT[5], 0, 0, 0)]


def test_rdv_statistics_by_status_month_motif_and_place(loaded):
    totals = dict(
        loaded.query("SELECT status, sum(rdvs) FROM analytics.rdv_statistics WHERE account_id = 1 GROUP BY status")
    )
    assert totals == {"seen": 4, "noshow": 1, "unknown": 1, "revoked": 1}
    assert loaded.query(
        "SELECT sum(participants), sum(activities), min(motif), min(place) FROM analytics.rdv_statistics "
        "WHERE account_id = 1"
    ) == [(9, 1, "Aide numérique", "Médiathèque")]
    by_month = loaded.query(analyst_query("06_rdv_statistics_by_month"), {"account_id": 2})
    assert [(r[1], r[2]) for r in by_month] == [("unknown", 1)]
    assert loaded.query("SELECT sum(rdvs) FROM analytics.rdv_statistics") == [(8,)]  # RDV 5 once per account


def test_every_documented_query_runs(loaded):
    """Each file of sql/queries/ runs as written (its psql variables given), on the small dataset."""
    from sync_assets.platform.migrations import sql_root
    from sync_assets.platform.views import apply_view

    values = {
        "account_id": 1,
        "last_date": AT[3],
        "last_kind": "rdv",
        "last_item_id": 3,
        "offset": 0,
        "from": AT[1],
        "to": NOW,
        "beneficiaire_id": loaded.beneficiary(1, ALICE),
    }
    names = sorted(p.stem for p in (sql_root() / "queries").glob("*.sql"))
    assert len(names) == 8
    with loaded.connect() as conn:
        apply_view(conn, "appointments")
        answered = {name: conn.execute(analyst_query(name), values).fetchall() for name in names}
    assert all(answered.values()), [name for name, rows in answered.items() if not rows]
    assert answered["08_appointments_by_month_and_source"] == [
        (row[0], "rdvsp", row[2]) for row in answered["08_appointments_by_month_and_source"]
    ]
    assert sum(row[2] for row in answered["08_appointments_by_month_and_source"]) == 4  # RDVs 1, 2, 4, 7


def test_the_analyst_layer_job_merges_beneficiaries_then_builds_the_views(warehouse):
    import dagster as dg

    from sync_assets.coop.assets import beneficiaires
    from sync_assets.coop.views import analyst_layer_job, view_assets
    from sync_assets.platform.resources import WarehouseResource

    job = dg.Definitions(
        assets=[beneficiaires, *view_assets],
        jobs=[analyst_layer_job],
        resources={"warehouse": WarehouseResource(database_url=warehouse.url)},
    ).resolve_job_def("analyst_layer")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    rows = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert rows["coop/beneficiaires"]["created"].value == 5
    # Account 1 sees the seven RDVs, account 2 RDV 5; no activity yet.
    assert rows["analytics/activity_listing"]["rows"].value == 8
    assert rows["analytics/account_dashboard"]["rows"].value == 2
    assert rows["analytics/activity_listing"]["dagster/row_count"].value == 8
    listing_columns = [c.name for c in rows["analytics/activity_listing"]["dagster/column_schema"].value.columns]
    assert {"account_id", "beneficiaire_ids"} <= set(listing_columns)
    assert rows["coop/beneficiaires"]["dagster/row_count"].value == 5
    listed = warehouse.query("SELECT beneficiaire_ids FROM analytics.activity_listing WHERE account_id = 2")
    assert listed == [(sorted([warehouse.beneficiary(2, ALICE), warehouse.beneficiary(2, BOB)]),)]


def test_a_mediator_who_did_not_choose_it_sees_no_rdv_in_the_listing_but_the_same_dashboard(loaded):
    """The host application's `includeRdvsInActivitesList`, off by default: RDVs not yet turned into
    activities are left out; an activity made from an RDV is listed all the same."""
    dashboard = loaded.query(analyst_query("05_account_dashboard"), {"account_id": 1})
    with loaded.connect() as conn:
        conn.execute(
            "UPDATE coop.account_settings SET include_rdvs_in_activity_listing = false, updated_at = now() "
            "WHERE account_id = 1"
        )
    assert listing(loaded) == [("activite", loaded.ids["free"]), ("activite", loaded.ids["converted"])]
    assert listing(loaded, 2) == [("rdv", 5)]  # the other mediator's choice stands
    assert loaded.query(analyst_query("05_account_dashboard"), {"account_id": 1}) == dashboard


def test_every_account_gets_its_settings_row_with_the_listing_flag_off(database_url):
    import psycopg

    from sync_assets.platform.warehouse import libpq_url

    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(
            "INSERT INTO rdvsp.accounts (id, base_url, sync_from) VALUES (42, 'https://rdv.test', '2024-01-01')"
        )
        assert conn.execute(
            "SELECT account_id, include_rdvs_in_activity_listing FROM coop.account_settings"
        ).fetchall() == [(42, False)]
