"""OAuth accounts against the sandbox: connecting, refreshing, one refresh at a time, revocation."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from sync_assets.platform.errors import SyncError
from sync_assets.rdvsp.oauth import AccountError, AccountTokens, RdvspSettings, connect, receive_callback
from sync_assets.sandbox.server import free_port

from .conformance import RdvspHarness


def stored_tokens(rdvsp):
    return rdvsp.query(
        "SELECT access_token_encrypted, refresh_token_encrypted, access_token_expires_at, status, "
        "error, sync_from FROM rdvsp.accounts WHERE id = %s",
        [rdvsp.account_id],
    )[0]


def test_connect_stores_encrypted_tokens_that_work(rdvsp):
    account_id = rdvsp.connect(sync_from=date(2024, 1, 1))
    assert account_id == 1
    access_enc, refresh_enc, expires_at, status, error, sync_from = stored_tokens(rdvsp)
    issued = rdvsp.sandbox.rdvsp.oauth
    access = rdvsp.cipher.decrypt(access_enc)
    assert access in issued.access_tokens and rdvsp.cipher.decrypt(refresh_enc) in issued.refresh_tokens
    assert access not in access_enc  # encrypted at rest
    assert status == "active" and error is None and sync_from == date(2024, 1, 1)
    assert expires_at > datetime.now(timezone.utc) + timedelta(minutes=100)


def test_connect_with_a_wrong_client_secret_says_what_to_check(rdvsp):
    rdvsp.settings = RdvspSettings(
        rdvsp.settings.base_url, rdvsp.settings.client_id, "wrong", redirect_uri=rdvsp.settings.redirect_uri
    )
    with pytest.raises(AccountError, match="RDVSP_CLIENT_SECRET"):
        rdvsp.connect()
    assert rdvsp.query("SELECT count(*) FROM rdvsp.accounts") == [(0,)]


def test_unattended_connect_fails_clearly_when_the_server_does_not_approve_at_once(rdvsp):
    with pytest.raises(AccountError, match="without --unattended"):
        rdvsp.connect(agent_id=999)  # the sandbox refuses: no such agent


def test_an_answer_with_another_state_is_refused(rdvsp):
    def forged_callback(redirect_uri, state):
        return f"{redirect_uri}?code=stolen&state=not-{state}"

    with pytest.raises(AccountError, match="state"):
        connect(
            rdvsp.engine,
            rdvsp.settings,
            rdvsp.cipher,
            sync_from=date.today(),
            unattended=False,
            wait_for_callback=forged_callback,
            show=lambda _: None,
        )


def test_attended_connect_receives_the_browser_on_the_redirect_uri(rdvsp):
    port = free_port()
    settings = RdvspSettings(
        rdvsp.settings.base_url,
        rdvsp.settings.client_id,
        rdvsp.settings.client_secret,
        redirect_uri=f"http://127.0.0.1:{port}/oauth/rdvsp/callback",
    )
    shown: list[str] = []
    result: dict = {}

    def run():
        result["account"] = connect(
            rdvsp.engine,
            settings,
            rdvsp.cipher,
            sync_from=date.today(),
            unattended=False,
            show=shown.append,
            wait_for_callback=receive_callback,
        )

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while not shown and time.monotonic() < deadline:
        time.sleep(0.02)
    url = shown[0].split()[-1]
    time.sleep(0.3)  # let the listener bind
    browser = httpx.get(url, follow_redirects=True, timeout=10)  # the agent approves; the browser comes back
    thread.join(timeout=10)
    assert "connected" in browser.text
    assert result["account"].account_id == 1


def test_a_token_expiring_within_a_minute_is_refreshed_first(connected):
    connected.execute("UPDATE rdvsp.accounts SET access_token_expires_at = now() + interval '30 seconds'")
    old = connected.cipher.decrypt(stored_tokens(connected)[0])
    before = connected.sandbox.rdvsp.oauth.token_requests
    tokens = AccountTokens(connected.engine, 1, connected.settings, connected.cipher)
    new = tokens.access_token()
    assert new != old and connected.sandbox.rdvsp.oauth.token_requests == before + 1
    assert connected.cipher.decrypt(stored_tokens(connected)[0]) == new
    assert tokens.access_token() == new  # cached while valid: no further refresh
    assert connected.sandbox.rdvsp.oauth.token_requests == before + 1


def test_a_refused_token_is_refreshed_and_the_call_retried(connected):
    connected.sandbox.rdvsp.oauth.expire_access_tokens()  # the server expires it; we still think it valid
    before = connected.sandbox.rdvsp.oauth.token_requests
    client = connected.client()
    assert client.me()["agent"]["id"] == 1
    assert connected.sandbox.rdvsp.oauth.token_requests == before + 1


def test_concurrent_callers_share_one_refresh(connected):
    connected.execute("UPDATE rdvsp.accounts SET access_token_expires_at = now() - interval '1 second'")
    before = connected.sandbox.rdvsp.oauth.token_requests
    tokens: list[str] = []
    errors: list[Exception] = []
    start = threading.Barrier(8)

    def caller():
        # Each caller has its own token store, as separate processes would.
        store = AccountTokens(connected.engine, 1, connected.settings, connected.cipher)
        start.wait()
        try:
            tokens.append(store.access_token())
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert connected.sandbox.rdvsp.oauth.token_requests == before + 1  # one refresh, the rest reused it
    assert len(set(tokens)) == 1


def test_a_revoked_refresh_token_puts_the_account_in_error_and_fails_loudly(connected):
    connected.sandbox.rdvsp.oauth.revoke_agent(1)
    with pytest.raises(AccountError, match="refresh token was refused") as error:
        connected.sync()
    assert "sync-assets rdvsp connect" in str(error.value)
    status, message = stored_tokens(connected)[3:5]
    assert status == "error" and "revoked" in message
    assert connected.query("SELECT status, error FROM rdvsp.sync_logs") == [("failed", str(error.value))]
    requests = connected.sandbox.rdvsp.api_requests
    with pytest.raises(AccountError, match="is in error"):
        connected.sync()  # refused at once, without calling the API
    assert connected.sandbox.rdvsp.api_requests == requests


def test_a_grant_revoked_after_a_first_sync_fails_loudly_and_changes_nothing(connected):
    harness = RdvspHarness(connected)
    harness.run()
    before = harness.digest()
    harness.change_source(1)
    connected.sandbox.rdvsp.oauth.revoke_agent(1)
    connected.sandbox.rdvsp.oauth.expire_access_tokens()
    with pytest.raises(SyncError, match="refresh token was refused"):
        harness.run()
    assert connected.query("SELECT status FROM rdvsp.accounts WHERE id = 1") == [("error",)]
    status, error = harness.last_run()
    assert status == "failed" and "refresh token was refused" in error
    assert harness.digest() == before


def test_reconnecting_an_account_in_error_makes_it_active_again(connected):
    connected.sandbox.rdvsp.oauth.revoke_agent(1)
    with pytest.raises(AccountError):
        connected.sync()
    connected.connect()
    assert stored_tokens(connected)[3:5] == ("active", None)
    assert connected.sync().tables["rdvs"].count > 0
