"""No personal data in logs, exception messages or Sentry events produced by the contract."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest
import sentry_sdk
from pydantic import BaseModel
from sentry_sdk.transport import Transport

from sync_assets.platform.contract import ContractModel, validate_batch
from sync_assets.platform.errors import ApiError
from sync_assets.platform.http import ApiClient, RetryPolicy
from sync_assets.platform.observability import (
    JsonFormatter,
    get_logger,
    init_sentry,
    redact,
    redact_text,
    report_failure,
)

NAME, SURNAME = "Gwendoline", "Kerjean-Lebihan"
EMAIL = "gwendoline.kerjean@exemple-mail.fr"
PHONES = ["06 12 34 56 78", "+33 6 12 34 56 78", "0612345678", "01.45.67.89.10"]
PLANTED = [NAME, SURNAME, EMAIL, "12 34 56 78", "0612345678", "45.67.89.10", "1987-03-14", "rue des Lilas"]
PERSON = {
    "id": 4242,
    "first_name": NAME,
    "last_name": SURNAME,
    "email": EMAIL,
    "phone_number": PHONES[0],
    "birth_date": "1987-03-14",
    "address": "12 rue des Lilas, 29200 Brest",
}


def assert_clean(text: str) -> None:
    leaked = [p for p in PLANTED if p.lower() in text.lower()]
    assert not leaked, f"personal data leaked: {leaked}"


@pytest.fixture
def captured_log():
    """A project logger with a plain handler of its own: the redaction must not depend on it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = get_logger("pii_test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)


def test_records_reaching_a_parent_handler_are_redacted_too():
    """A handler on `sync_assets` (as Dagster's managed loggers add) sees redacted records."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    parent = logging.getLogger("sync_assets")
    parent.addHandler(handler)
    try:
        get_logger("platform.pii_child").warning("user %s", EMAIL, extra={"first_name": NAME})
    finally:
        parent.removeHandler(handler)
    assert "user" in stream.getvalue()
    assert_clean(stream.getvalue())


@pytest.mark.parametrize("phone", PHONES)
def test_emails_and_phones_are_masked_in_text(phone):
    text = redact_text(f"contact {EMAIL} or {phone}, rdv 123456 on 2025-01-02 at 08:00")
    assert EMAIL not in text and phone not in text
    assert "rdv 123456" in text and "2025-01-02 at 08:00" in text  # ids and timestamps stay


def test_values_under_personal_keys_are_redacted_at_any_depth():
    payload = {
        "rdv": {"id": 1, "users": [PERSON], "participations": [{"id": 2, "user": PERSON}]},
        "organisation": {"id": 3},
    }
    cleaned = redact(payload)
    assert_clean(json.dumps(cleaned))
    assert cleaned["rdv"]["id"] == 1 and cleaned["organisation"] == {"id": 3}


def test_log_records_carry_no_personal_data(captured_log):
    logger, stream = captured_log
    logger.info("merged user %s", PERSON)
    logger.info("payload %r", {"first_name": NAME, "email": EMAIL})
    logger.warning("user record", extra={"user": PERSON, "first_name": NAME, "rdv_id": 77, "record": PERSON})
    logger.info(f"a message written carelessly: 'first_name': '{NAME}', \"last_name\": \"{SURNAME}\" {EMAIL}")
    try:
        raise ValueError(f"could not merge {PERSON!r}")
    except ValueError:
        logger.exception("merge failed for rdv %s", 77)
    output = stream.getvalue()
    assert_clean(output)
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) == 5 and lines[2]["rdv_id"] == 77 and lines[4]["msg"] == "merge failed for rdv 77"
    assert "ValueError" in lines[4]["exception"]


def test_pydantic_errors_logged_with_their_input_are_redacted(captured_log):
    logger, stream = captured_log

    class Person(BaseModel):
        id: int
        first_name: int

    try:
        Person.model_validate({"id": 1, "first_name": NAME})
    except Exception:
        logger.exception("validation failed")
    output = stream.getvalue()
    assert "int_parsing" in output or "valid integer" in output
    assert_clean(output)


def test_contract_errors_carry_no_personal_data():
    class User(ContractModel):
        id: int
        first_name: str
        phone_number: int

    result = validate_batch(User, [PERSON | {"first_name": 5}], entity="users")
    with pytest.raises(Exception) as error:
        result.raise_if_breaking("rdvsp")
    assert "phone_number" in str(error.value)
    assert_clean(str(error.value) + result.summary())


def test_api_errors_carry_no_query_values():
    client = ApiClient(
        "rdvsp",
        "https://rdv.example.test",
        retry=RetryPolicy(attempts=2, jitter=0),
        transport=httpx.MockTransport(lambda r: httpx.Response(500)),
        sleep=lambda s: None,
    )
    with pytest.raises(ApiError) as error:
        client.get_json("/api/v1/users", params={"email": EMAIL, "first_name": NAME, "phone": PHONES[0]})
    assert "/api/v1/users" in str(error.value)
    assert_clean(str(error.value))


class CapturingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes: list[bytes] = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope.serialize())


@pytest.fixture
def sentry(monkeypatch):
    monkeypatch.setenv("SENTRY_DSN", "https://public@sentry.example.test/1")
    transport = CapturingTransport()
    assert init_sentry(transport=transport)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init(dsn=None)


def test_sentry_is_off_without_a_dsn(monkeypatch):
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    assert init_sentry() is False


def test_sentry_events_carry_no_personal_data(sentry, captured_log):
    logger, stream = captured_log
    sentry_sdk.add_breadcrumb(message=f"fetched user {EMAIL}", data={"user": PERSON})
    sentry_sdk.set_context("payload", {"rdv_id": 9, "users": [PERSON]})
    user = dict(PERSON)  # a frame local holding personal data
    try:
        raise RuntimeError(f"failed on {user['email']} / {user['phone_number']}, payload {user}")
    except RuntimeError as error:
        report_failure(logger, error, "rdvsp sync failed", account_id=12, organisation_ids=[1, 2])
    sentry_sdk.get_client().flush()
    sent = b"".join(sentry.envelopes).decode()
    assert "RuntimeError" in sent and "organisation_ids" in sent  # the event did go out, with its ids
    assert_clean(sent)
    assert_clean(stream.getvalue())
    assert json.loads(stream.getvalue().splitlines()[0])["account_id"] == 12


def test_database_errors_quoting_a_row_leak_nothing(database_url, sentry, captured_log):
    """A real constraint violation: PostgreSQL's DETAIL quotes the failing row, names included."""
    import psycopg

    from sync_assets.platform.observability import safe_error_message
    from sync_assets.platform.warehouse import libpq_url

    logger, stream = captured_log
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("CREATE TABLE people (id int, first_name text, last_name text, ok boolean NOT NULL)")
        try:
            conn.execute("INSERT INTO people VALUES (1, %s, %s, NULL)", [NAME, SURNAME])
        except psycopg.errors.NotNullViolation as error:
            assert NAME in str(error)  # the raw error does quote the row
            report_failure(logger, error, "merge failed", table="people")
            assert "NotNullViolation" in safe_error_message(error)
            assert_clean(safe_error_message(error))
    sentry_sdk.get_client().flush()
    sent = b"".join(sentry.envelopes).decode()
    assert "NotNullViolation" in sent
    assert_clean(sent)
    assert_clean(stream.getvalue())
    assert_clean(redact_text(f"boom\nDETAIL:  Failing row contains (1, {NAME}, {SURNAME}, null)."))
