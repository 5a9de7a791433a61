"""Missing or wrong credentials: the command says which variable to set, in one line, without a
traceback and without echoing any credential."""

from __future__ import annotations

import pytest

from sync_assets.cli import main

from ..rdvsp.conftest import SECRET_KEY

VARIABLES = ("RDVSP_BASE_URL", "RDVSP_CLIENT_ID", "RDVSP_CLIENT_SECRET", "RDVSP_WEBHOOK_URL", "DOCTOLIB_BASE_URL")


@pytest.fixture
def bare_environment(warehouse_env, monkeypatch):
    import os

    for name in [*VARIABLES, *(n for n in os.environ if n.startswith("DOCTOLIB_API_KEY_"))]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNC_SECRET_KEY", SECRET_KEY)
    return monkeypatch


@pytest.mark.parametrize(
    ("arguments", "variables", "named"),
    [
        (["rdvsp", "connect", "--unattended"], {}, "RDVSP_BASE_URL is not set"),
        (["rdvsp", "connect", "--unattended"], {"RDVSP_BASE_URL": "http://127.0.0.1:9"}, "RDVSP_CLIENT_ID is not set"),
        (
            ["rdvsp", "connect", "--unattended"],
            {"RDVSP_BASE_URL": "http://127.0.0.1:9", "RDVSP_CLIENT_ID": "c"},
            "RDVSP_CLIENT_SECRET is not set",
        ),
        (["doctolib", "sync"], {}, "DOCTOLIB_BASE_URL is not set"),
        (["doctolib", "sync"], {"DOCTOLIB_BASE_URL": "http://127.0.0.1:9"}, "DOCTOLIB_API_KEY_"),
        (["rdvsp", "sync"], {}, "No active RDV Service Public account"),
    ],
)
def test_a_missing_variable_is_named_by_the_command(bare_environment, capsys, arguments, variables, named):
    for name, value in variables.items():
        bare_environment.setenv(name, value)
    assert main(arguments) == 2
    out, err = capsys.readouterr()
    assert named in err and "Traceback" not in err + out
    assert err.count("\n") == 1  # one line, for a person to read


def test_an_external_warehouse_without_the_encryption_key_names_it(warehouse_env, monkeypatch, capsys):
    monkeypatch.delenv("SYNC_SECRET_KEY", raising=False)
    monkeypatch.setenv("RDVSP_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("RDVSP_CLIENT_ID", "c")
    monkeypatch.setenv("RDVSP_CLIENT_SECRET", "a-client-secret-never-shown")
    assert main(["rdvsp", "connect", "--unattended"]) == 2
    err = capsys.readouterr().err
    assert "SYNC_SECRET_KEY is not set" in err and "a-client-secret-never-shown" not in err
