"""Schema contracts: additive and breaking drift, recorded with paths and counts, never values."""

from __future__ import annotations

from typing import Literal

import psycopg
import pytest

from sync_assets.platform.contract import ContractModel, record_drift, validate_batch
from sync_assets.platform.errors import ContractBreach
from sync_assets.platform.warehouse import libpq_url


class Person(ContractModel):
    id: int
    first_name: str
    email: str | None = None


class Participation(ContractModel):
    id: int
    status: Literal["unknown", "seen", "noshow", "excused", "revoked"]
    user: Person


class Rdv(ContractModel):
    id: int
    starts_at: str
    participations: list[Participation]


def rdv(id_=1, **changes):
    payload = {
        "id": id_,
        "starts_at": "2025-01-01 08:00:00 +0100",
        "participations": [
            {"id": 10, "status": "seen", "user": {"id": 5, "first_name": "Jeanne", "email": "jeanne.martin@example.fr"}}
        ],
    }
    payload.update(changes)
    return payload


def drift_of(result):
    return {(d.kind, d.field_path, d.error_type): (d.row_count, d.sample_record_ids) for d in result.drift.values()}


def test_valid_payloads_pass_without_drift():
    result = validate_batch(Rdv, [rdv(1), rdv(2)], entity="rdvs")
    assert [r.id for r in result.valid] == [1, 2]
    assert result.rejected == 0 and not result.drift


def test_unknown_fields_are_additive_drift_and_the_row_is_kept():
    payload = rdv(1, visio_url="https://visio.example")
    payload["participations"][0]["prescription"] = {"x": 1}
    payload["participations"][0]["user"]["notification_email"] = "x@example.fr"
    result = validate_batch(Rdv, [payload, rdv(2, visio_url=None)], entity="rdvs")
    assert len(result.valid) == 2
    assert drift_of(result) == {
        ("additive", "visio_url", "unknown_field"): (2, ["1", "2"]),
        ("additive", "participations[].prescription", "unknown_field"): (1, ["1"]),
        ("additive", "participations[].user.notification_email", "unknown_field"): (1, ["1"]),
    }
    assert not result.breaking


def test_missing_and_retyped_fields_are_breaking_and_the_row_is_rejected():
    missing = rdv(1)
    del missing["starts_at"]
    retyped = rdv(2, id="two")
    nested_string = rdv(3)
    nested_string["participations"][0]["user"] = "Jeanne Martin"
    new_enum = rdv(4)
    new_enum["participations"][0]["status"] = "teleconsultation"
    result = validate_batch(Rdv, [missing, retyped, nested_string, new_enum, rdv(5)], entity="rdvs")
    assert [r.id for r in result.valid] == [5]
    assert result.rejected == 4
    assert drift_of(result) == {
        ("breaking", "starts_at", "missing"): (1, ["1"]),
        ("breaking", "id", "int_parsing"): (1, ["two"]),
        ("breaking", "participations[].user", "model_type"): (1, ["3"]),
        ("breaking", "participations[].status", "literal_error"): (1, ["4"]),
    }


def test_breaking_drift_raises_with_paths_and_counts_but_no_values():
    payload = rdv(1)
    payload["participations"][0]["user"]["first_name"] = 12345678
    result = validate_batch(Rdv, [payload], entity="rdvs")
    with pytest.raises(ContractBreach) as error:
        result.raise_if_breaking("rdvsp")
    message = str(error.value)
    assert "participations[].user.first_name" in message and "1 record(s)" in message
    assert "12345678" not in message and "jeanne" not in message.lower()


def test_results_of_several_batches_add_up():
    first = validate_batch(Rdv, [rdv(1, extra=1)], entity="rdvs")
    second = validate_batch(Rdv, [rdv(2, extra=1), rdv(3, id="x")], entity="rdvs")
    first.merge(second)
    assert first.rejected == 1 and len(first.valid) == 2
    assert drift_of(first)[("additive", "extra", "unknown_field")] == (2, ["1", "2"])


def test_drift_is_recorded_with_paths_and_counts_never_values(database_url):
    bad = rdv(1, surprise="Jeanne Martin")
    bad["participations"][0]["user"]["email"] = ["jeanne.martin@example.fr"]
    result = validate_batch(Rdv, [bad, rdv(2, surprise="x")], entity="rdvs")
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        assert record_drift(conn, "rdvsp", result, run_id="run-1") == 2
        rows = conn.execute(
            "SELECT connector, entity, run_id, kind, field_path, error_type, row_count, "
            "sample_record_ids FROM sync.drift_events ORDER BY kind, field_path"
        ).fetchall()
        everything = str(conn.execute("SELECT array_agg(t::text) FROM sync.drift_events t").fetchone()[0])
    assert rows == [
        ("rdvsp", "rdvs", "run-1", "additive", "surprise", "unknown_field", 2, ["1", "2"]),
        ("rdvsp", "rdvs", "run-1", "breaking", "participations[].user.email", "string_type", 1, ["1"]),
    ]
    assert "Jeanne" not in everything and "example.fr" not in everything


def test_nothing_to_record_writes_nothing(database_url):
    result = validate_batch(Rdv, [rdv(1)], entity="rdvs")
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        assert record_drift(conn, "rdvsp", result) == 0
        assert conn.execute("SELECT count(*) FROM sync.drift_events").fetchone()[0] == 0
