"""Beneficiaries merged from RDV users, and activities (CRA) created from attended RDVs."""

from __future__ import annotations

import dagster as dg
import pytest

from sync_assets.coop.activities import create_activities_from_rdvs
from sync_assets.coop.assets import activities_from_rdvs_job, beneficiaires
from sync_assets.coop.beneficiaires import BeneficiaryMerge, merge_beneficiaires
from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.resources import WarehouseResource

from .dataset import ALICE, AT, BOB, CHLOE


def merge(warehouse, account_id=None) -> BeneficiaryMerge:
    with warehouse.connect() as conn:
        return merge_beneficiaires(conn, account_id)


def people(warehouse) -> set[tuple]:
    return set(
        warehouse.query(
            "SELECT account_id, rdv_user_id, first_name, last_name, birth_date::text, email, phone "
            "FROM coop.beneficiaires"
        )
    )


def test_beneficiaries_are_made_per_account_from_the_users_of_its_rdvs(warehouse):
    assert merge(warehouse) == BeneficiaryMerge(users_seen=5, created=5, filled=0, anonymised=0)
    assert people(warehouse) == {
        (1, ALICE, "Alice", "Martin", "1980-05-01", "alice@example.test", None),
        (1, BOB, "Bob", "Durand", None, None, "+33611223344"),  # 1900-01-01 is "unknown"; phones in E.164
        (1, CHLOE, "Chloé", "Petit", "1991-02-03", "chloe@example.test", None),
        (2, ALICE, "Alice", "Martin", "1980-05-01", "alice@example.test", None),  # account 2 sees RDV 5 only
        (2, BOB, "Bob", "Durand", None, None, "+33611223344"),
    }
    again = merge(warehouse)
    assert (again.created, again.filled, again.unchanged) == (0, 0, 5)  # idempotent


def test_later_syncs_fill_empty_fields_and_never_overwrite(warehouse):
    merge(warehouse)
    with warehouse.connect() as conn:
        conn.execute(
            "UPDATE coop.beneficiaires SET email = 'typed-by-the-mediator@example.test' "
            "WHERE account_id = 1 AND rdv_user_id = %s",
            [ALICE],
        )
        conn.execute(
            "UPDATE rdvsp.users SET email = 'new@example.test', phone_number = '0699887766', "
            "birth_date = '1975-01-02' WHERE id IN (%s, %s)",
            [ALICE, BOB],
        )
    filled = merge(warehouse, account_id=1)
    assert (filled.users_seen, filled.created, filled.filled) == (3, 0, 2)
    rows = {(r[0], r[1]): r[2:] for r in people(warehouse)}
    assert rows[(1, ALICE)][2:] == ("1980-05-01", "typed-by-the-mediator@example.test", "+33699887766")
    assert rows[(1, BOB)][2:] == ("1975-01-02", "new@example.test", "+33611223344")
    assert rows[(2, ALICE)][3] == "alice@example.test"  # only account 1 was merged


def test_phone_numbers_come_in_international_format_and_the_rest_is_kept_and_counted(warehouse):
    with warehouse.connect() as conn:
        conn.execute(
            "UPDATE rdvsp.users SET phone_number = CASE id WHEN %s THEN '06 12 34 56 78' "
            "WHEN %s THEN '+44 20 7946 0958' ELSE 'voir fiche' END",
            [ALICE, BOB],
        )
    merged = merge(warehouse)
    assert merged.phones_unparsed == 1
    phones = dict(warehouse.query("SELECT rdv_user_id, phone FROM coop.beneficiaires WHERE account_id = 1"))
    assert phones == {ALICE: "+33612345678", BOB: "+442079460958", CHLOE: "voir fiche"}


def test_an_anonymised_user_unlinks_and_anonymises_its_beneficiary_and_keeps_activities(warehouse):
    merge(warehouse)
    with warehouse.connect() as conn:
        created = create_activities_from_rdvs(conn, account_id=1)
        conn.execute(
            "UPDATE rdvsp.users SET first_name = 'Usager supprimé', last_name = 'Usager supprimé', "
            "email = NULL, birth_date = NULL WHERE id = %s",
            [CHLOE],
        )
    assert created.rdv_ids == [1, 2, 4, 7]
    chloe = warehouse.query("SELECT id FROM coop.beneficiaires WHERE rdv_user_id = %s", [CHLOE])[0][0]
    result = merge(warehouse)
    assert (result.anonymised, result.created) == (1, 0)
    assert warehouse.query(
        "SELECT rdv_user_id, first_name, last_name, email, anonymised_at IS NOT NULL "
        "FROM coop.beneficiaires WHERE id = %s",
        [chloe],
    ) == [(None, None, None, None, True)]
    # The activity made from RDV 7 still lists the (now anonymous) beneficiary.
    assert warehouse.query(
        "SELECT ab.beneficiaire_id FROM coop.activites a JOIN coop.activite_beneficiaires ab "
        "ON ab.activite_id = a.id WHERE a.rdv_id = 7"
    ) == [(chloe,)]
    assert merge(warehouse).anonymised == 0  # already unlinked: nothing to do again


def test_activities_are_created_once_from_attended_rdvs_not_converted_nor_declined(warehouse):
    merge(warehouse)
    with warehouse.connect() as conn:
        conn.execute("INSERT INTO coop.rdv_cra_declined (rdv_id, account_id) VALUES (4, 1)")
        assert create_activities_from_rdvs(conn, rdv_id=3).activities == 0  # a no-show
        single = create_activities_from_rdvs(conn, rdv_id=2)
        assert (single.activities, single.beneficiary_links, single.rdv_ids) == (1, 1, [2])
        rest = create_activities_from_rdvs(conn, account_id=1)
        assert rest.rdv_ids == [1, 7]  # RDV 2 is converted, 4 declined, 3 and 5 and 6 not attended
        assert create_activities_from_rdvs(conn, account_id=1).activities == 0  # idempotent
    rows = warehouse.query(
        "SELECT a.rdv_id, a.account_id, a.date, a.type, a.themes, a.duration_min, a.lieu_id, "
        "array_agg(b.rdv_user_id ORDER BY b.rdv_user_id) FROM coop.activites a "
        "JOIN coop.activite_beneficiaires ab ON ab.activite_id = a.id "
        "JOIN coop.beneficiaires b ON b.id = ab.beneficiaire_id GROUP BY a.id ORDER BY a.rdv_id"
    )
    assert rows == [
        (1, 1, AT[1], "individuel", ["numerique"], 45, 100, [ALICE]),
        (2, 1, AT[2], "individuel", ["numerique"], 45, 100, [BOB]),
        (7, 1, AT[7], "individuel", ["numerique"], 45, 100, [CHLOE]),
    ]  # Bob was excused


def test_the_activities_job_needs_an_rdv_or_an_account(warehouse):
    with warehouse.connect() as conn, pytest.raises(ConfigurationError, match="rdv_id, or an account_id"):
        create_activities_from_rdvs(conn)
    resources = {"warehouse": WarehouseResource(database_url=warehouse.url)}
    with dg.instance_for_test() as instance:
        assert dg.materialize([beneficiaires], instance=instance, resources=resources).success
        job = dg.Definitions(jobs=[activities_from_rdvs_job], resources=resources).resolve_job_def(
            "coop_activities_from_rdvs"
        )
        missing = job.execute_in_process(instance=instance, raise_on_error=False)
        ran = job.execute_in_process(
            instance=instance, run_config={"ops": {"create_activities_from_rdvs": {"config": {"account_id": 1}}}}
        )
    assert not missing.success
    failure = next(e for e in missing.all_events if e.is_step_failure).step_failure_data.error.message
    assert "Say which RDVs to turn into activities" in failure
    output = next(e for e in ran.all_events if e.event_type_value == "STEP_OUTPUT")
    assert output.event_specific_data.metadata["activities_created"].value == 4  # RDVs 1, 2, 4 and 7
    assert warehouse.query("SELECT count(*) FROM coop.activites") == [(4,)]


def test_converting_an_rdv_merges_the_beneficiaries_of_its_accounts_first(warehouse):
    with warehouse.connect() as conn:
        created = create_activities_from_rdvs(conn, rdv_id=1)
    assert (created.activities, created.beneficiary_links) == (1, 1)
    assert warehouse.query("SELECT account_id, count(*) FROM coop.beneficiaires GROUP BY 1") == [(1, 3)]
