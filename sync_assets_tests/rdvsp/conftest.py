"""An RDV Service Public sandbox over real HTTP, a migrated warehouse, a connected account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
import pytest

from sync_assets.platform.http import RefreshingBearer, RetryPolicy
from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.warehouse import engine_for, libpq_url
from sync_assets.rdvsp.client import RdvspClient
from sync_assets.rdvsp.oauth import AccountTokens, RdvspSettings, connect
from sync_assets.rdvsp.sync import RdvspAccountSync, SyncOutcome
from sync_assets.sandbox.server import Sandbox

SECRET_KEY = "test-secret-key-0123456789abcdef"
SYNCED_TABLES = (
    "organisations",
    "account_organisations",
    "agents",
    "agent_roles",
    "users",
    "user_profiles",
    "motifs",
    "lieux",
    "webhook_endpoints",
    "rdvs",
    "account_rdvs",
    "participations",
)


@dataclass
class Rdvsp:
    sandbox: Sandbox
    database_url: str
    settings: RdvspSettings
    cipher: TokenCipher
    account_id: int | None = None

    @property
    def engine(self):
        return engine_for(self.database_url)

    @property
    def world(self):
        return self.sandbox.world

    def connect(self, agent_id: int = 1, sync_from: date | None = None) -> int:
        self.sandbox.rdvsp.sandbox_agent_id = agent_id
        account = connect(
            self.engine,
            self.settings,
            self.cipher,
            unattended=True,
            show=lambda _: None,
            sync_from=sync_from or date.today() - timedelta(days=730),
        )
        self.account_id = account.account_id
        return account.account_id

    def client(self, account_id: int | None = None, **kwargs) -> RdvspClient:
        tokens = AccountTokens(self.engine, account_id or self.account_id, self.settings, self.cipher)
        kwargs.setdefault("retry", RetryPolicy(attempts=4, backoff_multiplier=0.01, jitter=0))
        return RdvspClient(self.settings, RefreshingBearer(tokens), **kwargs)

    def sync(
        self, organisation_ids: list[int] | None = None, account_id: int | None = None, **client_kwargs
    ) -> SyncOutcome:
        client = self.client(account_id, **client_kwargs)
        try:
            return RdvspAccountSync(
                self.engine,
                client,
                account_id or self.account_id,
                cipher=self.cipher,
                webhook_url=self.settings.webhook_url,
                emit=lambda _: None,
            ).run(organisation_ids)
        finally:
            client.close()

    def query(self, statement: str, params=None) -> list[tuple]:
        with psycopg.connect(libpq_url(self.database_url)) as conn:
            return conn.execute(statement, params).fetchall()

    def execute(self, statement: str, params=None) -> None:
        with psycopg.connect(libpq_url(self.database_url)) as conn:
            conn.execute(statement, params)

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every synced table's rows (without synced_at), for before/after comparisons."""
        result = {}
        with psycopg.connect(libpq_url(self.database_url)) as conn:
            for table in SYNCED_TABLES:
                columns = [
                    r[0]
                    for r in conn.execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'rdvsp' "
                        "AND table_name = %s AND column_name <> 'synced_at' ORDER BY ordinal_position",
                        [table],
                    )
                ]
                result[table] = conn.execute(f"SELECT {', '.join(columns)} FROM rdvsp.{table} ORDER BY 1, 2").fetchall()
        return result


@pytest.fixture
def rdvsp(sandbox, database_url, monkeypatch) -> Rdvsp:
    monkeypatch.setenv("SYNC_SECRET_KEY", SECRET_KEY)
    oauth = sandbox.rdvsp.oauth
    settings = RdvspSettings(
        sandbox.base_url,
        oauth.client_id,
        oauth.client_secret,
        redirect_uri="http://127.0.0.1:9/oauth/rdvsp/callback",
        webhook_url="https://sync.example.test/webhooks/rdvsp",
    )
    return Rdvsp(sandbox, database_url, settings, TokenCipher(SECRET_KEY))


@pytest.fixture
def connected(rdvsp) -> Rdvsp:
    rdvsp.connect()
    return rdvsp
