"""Misconfiguration found at first use: credentials files, connection strings."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from bamboo_assets_tests.failures.runs import DATA_ASSETS, LOADING, SHEET, production, run
from bamboo_assets_tests.support.bamboo import LINEAGE
from bamboo_assets_tests.support.faults import database_name, materialized, role_with_password


@pytest.mark.parametrize(
    "content",
    [
        "this is not JSON",
        json.dumps({"type": "authorized_user", "client_id": "x"}),
        json.dumps(
            {
                "type": "service_account",
                "client_email": "a@b.iam.gserviceaccount.com",
                "token_uri": "http://127.0.0.1:1/token",
                "private_key": "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS10ZXh0\n"
                "-----END PRIVATE KEY-----\n",
            }
        ),
    ],
    ids=["not-json", "not-a-service-account", "broken-private-key"],
)
def test_an_unusable_credentials_file_fails_the_dashboard_naming_the_variable(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    key_file = tmp_path / "service-account.json"
    key_file.write_text(content)
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT_FILE", str(key_file))
    monkeypatch.setenv("DASHBOARD_SPREADSHEET_ID", SHEET)

    outcome = run(production(), select=LINEAGE[:5])

    assert not outcome.success
    message = outcome.message()
    assert message.startswith(
        "dagster._core.definitions.events.Failure: dashboard_sheet failed for every day it had "
        f"to do: GOOGLE_SERVICE_ACCOUNT_FILE ({key_file}) is not a readable service-account key"
    )
    assert "c2VjcmV0LWtleS10ZXh0" not in outcome.errors() + "\n".join(outcome.log)
    # The data is loaded: only the dashboard (and what follows it) failed.
    assert materialized(outcome.result) == DATA_ASSETS - {"dashboard_sheet"}


@pytest.mark.parametrize("fault", ["wrong-password", "unknown-host"])
def test_a_wrong_dsn_fails_naming_the_warehouse_without_the_password(
    env: dict[str, str],
    database_dsn: str,
    postgres_uri: str,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    if fault == "wrong-password":
        right = role_with_password(postgres_uri, database_dsn, "bamboo_etl", "right-pw-0b7c")
        dsn = psycopg.conninfo.make_conninfo(right, password="wrong-pw-e41a")
        where = f"database {database_name(database_dsn)} on "
    else:
        dsn = "host=warehouse.invalid dbname=bamboo user=etl password=wrong-pw-e41a"
        where = "database bamboo on warehouse.invalid"
    monkeypatch.setenv("BAMBOO_DB_DSN", dsn)

    outcome = run(production(), select=LOADING)

    assert not outcome.success
    message = outcome.message()
    assert (
        f"validated_attempts failed for every day it had to do: cannot connect to the "
        f"warehouse ({where}"
    ) in message
    assert f"WarehouseUnavailable: cannot connect to the warehouse ({where}" in outcome.errors()
    if fault == "wrong-password":
        assert 'password authentication failed for user "bamboo_etl"' in message
    everything = outcome.errors() + "\n".join(outcome.log)
    assert "wrong-pw-e41a" not in everything and "right-pw-0b7c" not in everything
