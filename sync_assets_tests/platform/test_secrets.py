"""Credentials from the environment and tokens encrypted at rest."""

from __future__ import annotations

import pytest

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.secrets import TokenCipher, require_env, secret_key

KEY = "k" * 20 + "-a-long-enough-test-key"


def test_a_missing_variable_is_named_with_its_purpose(monkeypatch):
    monkeypatch.delenv("RDVSP_CLIENT_ID", raising=False)
    with pytest.raises(ConfigurationError, match="RDVSP_CLIENT_ID is not set: the OAuth client id"):
        require_env("RDVSP_CLIENT_ID", "the OAuth client id of the RDV Service Public application")
    monkeypatch.setenv("RDVSP_CLIENT_ID", "  ")
    with pytest.raises(ConfigurationError, match="RDVSP_CLIENT_ID"):
        require_env("RDVSP_CLIENT_ID", "x")
    monkeypatch.setenv("RDVSP_CLIENT_ID", "abc")
    assert require_env("RDVSP_CLIENT_ID", "x") == "abc"


def test_tokens_round_trip_and_are_not_stored_in_clear():
    cipher = TokenCipher(KEY)
    stored = cipher.encrypt("access-token-123")
    assert "access-token-123" not in stored
    assert cipher.encrypt("access-token-123") != stored  # random IV: equal tokens do not look equal
    assert cipher.decrypt(stored) == "access-token-123"


def test_a_wrong_key_gives_a_clear_error_not_garbage():
    stored = TokenCipher(KEY).encrypt("t")
    with pytest.raises(ConfigurationError, match="could not be decrypted with SYNC_SECRET_KEY"):
        TokenCipher("another-key-of-enough-length").decrypt(stored)


def test_keys_rotate_new_first_old_after():
    old = TokenCipher(KEY).encrypt("t")
    rotated = TokenCipher("a-brand-new-key-0123456789," + KEY)
    assert rotated.decrypt(old) == "t"
    assert TokenCipher("a-brand-new-key-0123456789").decrypt(rotated.encrypt("u")) == "u"


def test_a_short_key_is_refused():
    with pytest.raises(ConfigurationError, match="too short"):
        TokenCipher("short")


def test_an_external_warehouse_requires_the_key(monkeypatch):
    monkeypatch.setenv("SYNC_DATABASE_URL", "postgresql+psycopg://u@db.example/warehouse")
    monkeypatch.delenv("SYNC_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="SYNC_SECRET_KEY is not set"):
        secret_key()


def test_the_embedded_warehouse_generates_a_local_key_once(monkeypatch, tmp_path):
    monkeypatch.delenv("SYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("SYNC_SECRET_KEY", raising=False)
    monkeypatch.setenv("SYNC_LOCAL_DIR", str(tmp_path))
    first = secret_key()
    assert len(first) >= 32 and secret_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
