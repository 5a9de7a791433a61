"""Credentials from the environment, and encryption of tokens at rest.

Tokens and webhook secrets are stored encrypted (Fernet: AES-128-CBC with HMAC-SHA256) with a
key derived from `SYNC_SECRET_KEY`. Several keys may be given, comma-separated: the first
encrypts, all of them decrypt, so a key can be rotated without losing the stored tokens.

On the embedded warehouse only (a developer's machine), a missing `SYNC_SECRET_KEY` is
generated once into `.local/secret_key`; with `SYNC_DATABASE_URL` it must be set.
"""

from __future__ import annotations

import base64
import os
import secrets as token_generator

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync_assets.platform.errors import ConfigurationError
from sync_assets.platform.warehouse import local_dir, uses_embedded_server

MIN_SECRET_KEY_LENGTH = 16


def require_env(name: str, purpose: str) -> str:
    """The value of environment variable `name`, or an error saying what it is for."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(
            f"{name} is not set: {purpose}. Set it in the environment (see README, Configuration)."
        )
    return value


def secret_key() -> str:
    configured = os.environ.get("SYNC_SECRET_KEY", "").strip()
    if configured:
        return configured
    if not uses_embedded_server():
        raise ConfigurationError(
            "SYNC_SECRET_KEY is not set: it encrypts OAuth tokens and webhook secrets in the warehouse. "
            "Set it to a long random string "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))') and keep it: "
            "tokens stored with a key cannot be read without it."
        )
    path = local_dir() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token_generator.token_urlsafe(32))
    return path.read_text().strip()


def _fernet_for(passphrase: str) -> Fernet:
    if len(passphrase) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"SYNC_SECRET_KEY is too short: use at least {MIN_SECRET_KEY_LENGTH} characters of random text."
        )
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sync_assets token encryption").derive(
        passphrase.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


class TokenCipher:
    """Encrypts and decrypts short secrets (tokens) for storage."""

    def __init__(self, key_material: str):
        keys = [k.strip() for k in key_material.split(",") if k.strip()]
        if not keys:
            raise ConfigurationError("SYNC_SECRET_KEY is empty.")
        self._fernet = MultiFernet([_fernet_for(k) for k in keys])

    @classmethod
    def from_environment(cls) -> TokenCipher:
        return cls(secret_key())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError):
            raise ConfigurationError(
                "A stored token could not be decrypted with SYNC_SECRET_KEY: the key changed or the value was "
                "altered. Restore the previous key (list it after the new one, comma-separated, to rotate), "
                "or reconnect the account."
            ) from None
