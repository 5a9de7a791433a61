"""An end-to-end run, successes and failures of both connectors, with everything it says captured:
every log record (any logger, any level), every Dagster event of every run, every Sentry event,
and the errors persisted in the warehouse. None may hold a sandbox person's name, email, phone
number, birth date or address, nor a credential."""

from __future__ import annotations

import json
import logging

import dagster as dg
import pytest

from sync_assets.platform.observability import init_sentry
from sync_assets.runs import run_job, sync_partition
from sync_assets.sandbox.faults import Fault, set_field

from ..personal_data import PersonalValues
from ..platform.test_observability import CapturingTransport
from ..rdvsp.conftest import SECRET_KEY, rdvsp  # noqa: F401  (fixture)
from ..rdvsp.test_webhooks import hooked, post, rdv_event  # noqa: F401  (fixture)


class Everything(logging.Handler):
    """Every record reaching the root logger, as a handler would see it: message and extras."""

    _standard = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {"message", "asctime"}

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in self._standard)
        exception = self.formatter.formatException(record.exc_info) if record.exc_info and self.formatter else ""
        self.texts.append(f"{record.name} {record.levelname} {record.getMessage()} {extras} {exception}")


@pytest.fixture
def captured(monkeypatch):
    monkeypatch.setenv("SENTRY_DSN", "https://public@sentry.example.test/1")
    import sync_assets.definitions  # noqa: F401  (it sets up logging and Sentry when imported: ours come after)

    handler = Everything()
    handler.setFormatter(logging.Formatter())
    # The root logger, and the project's, which does not propagate; at DEBUG, as with SYNC_LOG_LEVEL=DEBUG.
    loggers = [logging.getLogger(), logging.getLogger("sync_assets")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    transport = CapturingTransport()
    assert init_sentry(transport=transport)
    yield handler, transport
    import sentry_sdk

    sentry_sdk.get_client().close()
    sentry_sdk.init(dsn=None)
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def dagster_events(instance: dg.DagsterInstance) -> list[str]:
    return [dg.serialize_value(entry) for run in instance.get_runs() for entry in instance.all_logs(run.run_id)]


def persisted_errors(hooked) -> list[str]:
    rows = hooked.query("""
        SELECT error FROM rdvsp.sync_logs WHERE error IS NOT NULL
        UNION ALL SELECT reason FROM doctolib.sync_runs WHERE reason IS NOT NULL
        UNION ALL SELECT status_reason FROM sync.webhook_inbox WHERE status_reason IS NOT NULL
        UNION ALL SELECT reason FROM rdvsp.webhook_installations WHERE reason IS NOT NULL
        UNION ALL SELECT error FROM rdvsp.accounts WHERE error IS NOT NULL
        UNION ALL SELECT row_to_json(d)::text FROM sync.drift_events d""")
    return [r[0] for r in rows]


def credentials(hooked) -> set[str]:
    sandbox = hooked.sandbox
    oauth = sandbox.rdvsp.oauth
    values = {oauth.client_secret, SECRET_KEY, *oauth.access_tokens, *oauth.refresh_tokens}
    values |= {e.secret for e in hooked.world.webhook_endpoints.values()}
    values |= {v for k, v in sandbox.doctolib.environment(sandbox.base_url).items() if k.startswith("DOCTOLIB_API_KEY")}
    return values


@pytest.mark.slow
def test_an_end_to_end_run_leaks_no_personal_data_and_no_credential(hooked, captured, warehouse_env, monkeypatch):
    logs, sentry = captured
    sandbox, world, url = hooked.sandbox, hooked.world, hooked.database_url
    settings = hooked.settings
    for name, value in {
        "RDVSP_BASE_URL": settings.base_url,
        "RDVSP_CLIENT_ID": settings.client_id,
        "RDVSP_CLIENT_SECRET": settings.client_secret,
        "RDVSP_WEBHOOK_URL": settings.webhook_url,
        **sandbox.doctolib.environment(sandbox.base_url),
    }.items():
        monkeypatch.setenv(name, value)

    with dg.instance_for_test() as dagster:
        assert sync_partition(dagster, url, "rdvsp", hooked.account_id, kind="nightly").success
        # Webhooks carrying people's data: a renamed user, new and cancelled RDVs.
        user = next(iter(world.users.values()))
        world.update_user(user.id, first_name="Apolline", last_name="Vasseur-Lemoine")
        world.create_rdv(organisation_id=100)
        world.cancel_rdv(next(r.id for r in world.rdvs.values() if r.organisation_id == 100 and r.status == "unknown"))
        assert sandbox.deliverer.wait_idle(30)
        broken = rdv_event(hooked, next(r for r in world.rdvs.values() if r.organisation_id == 100))
        broken["data"]["status"] = "rescheduled"  # a contract breach: stored as failed, logged
        assert post(hooked, 100, broken).json()["status"] == "failed"
        # Failures of the polling sync: breaking drift, then the API down.
        sandbox.faults.add(
            Fault(kind="drift", path="/api/v1/rdvs", transform=set_field("status", "rescheduled"), times=-1)
        )
        assert not sync_partition(dagster, url, "rdvsp", hooked.account_id).success
        sandbox.faults.clear()
        sandbox.faults.add(Fault(kind="status", path="/api/v1/rdvs", status=503, times=-1))
        assert not sync_partition(dagster, url, "rdvsp", hooked.account_id).success
        sandbox.faults.clear()
        # Doctolib: every practice in full, then one practice with patients' data retyped.
        from sync_assets.doctolib.client import api_keys, client_factory
        from sync_assets.doctolib.practices import discover_practices
        from sync_assets.platform.warehouse import engine_for

        found = discover_practices(engine_for(url), client_factory(sandbox.base_url), api_keys())
        assert all(sync_partition(dagster, url, "doctolib", p, full_refresh=True).success for p in found.practices)
        sandbox.faults.add(
            Fault(
                kind="drift",
                path="/v1/practices/1/appointments",
                times=-1,
                transform=set_field(
                    "patient", {"id": "cinq", "first_name": 5, "email": ["x"], "phone": {}, "birth_date": "hier"}
                ),
            )
        )
        assert not sync_partition(dagster, url, "doctolib", 1).success
        sandbox.faults.clear()
        # The analyst layer over it all.
        assert run_job(
            dagster,
            "coop_activities_from_rdvs",
            {"create_activities_from_rdvs": {"config": {"account_id": hooked.account_id}}},
        ).success
        assert run_job(dagster, "analyst_layer").success
        events = dagster_events(dagster)

    sentry_events = [envelope.decode("utf-8", errors="replace") for envelope in sentry.envelopes]
    errors = persisted_errors(hooked)
    # Not vacuous: each source was heard, failures included.
    assert len(logs.texts) > 100 and len(events) > 200 and len(sentry_events) >= 3 and len(errors) >= 3
    people = PersonalValues()
    people.add_rdvsp_world(world)
    people.add_doctolib_world(sandbox.doctolib.world)
    people.add("Apolline", "Vasseur-Lemoine")
    assert people.found_in(f"user {user.email} born {user.birth_date}")  # the search finds what it should

    for source, texts in {
        "log records": logs.texts,
        "Dagster events": events,
        "Sentry events": sentry_events,
        "persisted errors": errors,
    }.items():
        text = "\n".join(texts)
        leaks = people.found_in(text)
        assert not leaks, f"personal data in the {source}: {sorted(leaks)}"
        exposed = sorted(secret[:4] + "…" for secret in credentials(hooked) if secret in text)
        assert not exposed, f"credentials in the {source}: {exposed}"


def test_tokens_and_webhook_secrets_are_encrypted_at_rest(hooked):
    """The raw columns hold neither the tokens nor the secrets, and decrypt to them."""
    [(access, refresh)] = hooked.query(
        "SELECT access_token_encrypted, refresh_token_encrypted FROM rdvsp.accounts WHERE id = %s", [hooked.account_id]
    )
    oauth = hooked.sandbox.rdvsp.oauth
    assert hooked.cipher.decrypt(access) in oauth.access_tokens
    assert hooked.cipher.decrypt(refresh) in oauth.refresh_tokens
    installed = dict(hooked.query("SELECT organisation_id, secret_encrypted FROM rdvsp.webhook_installations"))
    endpoints = {e.organisation_id: e.secret for e in hooked.world.webhook_endpoints.values()}
    assert installed.keys() == endpoints.keys()
    assert {org: hooked.cipher.decrypt(secret) for org, secret in installed.items()} == endpoints
    dump = json.dumps(
        hooked.query("SELECT row_to_json(a)::text FROM rdvsp.accounts a")
        + hooked.query("SELECT row_to_json(w)::text FROM rdvsp.webhook_installations w")
    )
    for secret in [*oauth.access_tokens, *oauth.refresh_tokens, *endpoints.values()]:
        assert secret not in dump
