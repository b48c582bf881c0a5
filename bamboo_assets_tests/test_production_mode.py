"""BAMBOO_ENV: local falls back to stand-ins, production refuses to, naming every gap at once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bamboo_assets.resources.dashboard import CsvDashboard, GoogleSheetsDashboard
from bamboo_assets.resources.mail import OutboxMailer, SmtpMailer
from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi, SimulatedStatisticsApi
from bamboo_assets.resources.warehouse import EmbeddedWarehouse, PostgresWarehouse
from bamboo_assets.settings import (
    SettingsError,
    build_resources,
    load_settings,
    missing_for_production,
)
from bamboo_assets_tests.dagster_processes import NOT_INHERITED, REPO

# Written out rather than read from the code under test: what an operator must provide.
EVERY_PRODUCTION_VARIABLE = [
    "ITRESUME_CLIENT",
    "ITRESUME_CLIENT_KEY",
    "BAMBOO_DB_DSN",
    "GOOGLE_SERVICE_ACCOUNT_FILE",
    "DASHBOARD_SPREADSHEET_ID",
    "SMTP_HOST",
    "DIGEST_SENDER",
    "DIGEST_RECIPIENTS",
]


def complete(tmp_path: Path) -> dict[str, str]:
    """Every outside system configured, as production needs."""
    key_file = tmp_path / "sa.json"
    key_file.write_text("{}")
    return {
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": "k-7d1f",
        "BAMBOO_DB_DSN": "postgresql://etl:pw-51ab@db.example.org/bamboo",
        "GOOGLE_SERVICE_ACCOUNT_FILE": str(key_file),
        "DASHBOARD_SPREADSHEET_ID": "sheet-id",
        "SMTP_HOST": "smtp.example.org",
        "DIGEST_SENDER": "etl@example.org",
        "DIGEST_RECIPIENTS": "team@example.org",
    }


def resources(env: dict[str, str]) -> dict:
    return build_resources(env, load_settings(env))


def test_an_empty_environment_misses_every_production_variable() -> None:
    assert missing_for_production({}) == EVERY_PRODUCTION_VARIABLE


def test_blank_values_count_as_missing_and_the_notebook_spellings_as_set(tmp_path: Path) -> None:
    env = complete(tmp_path)
    del env["ITRESUME_CLIENT_KEY"], env["BAMBOO_DB_DSN"]
    env.update(CLIENT_KEY_Skillfactory="k", DB_DSN_bamboo="dbname=bamboo", SMTP_HOST="  ")
    assert missing_for_production(env) == ["SMTP_HOST"]


@pytest.mark.parametrize("bamboo_env", [None, "local"])
def test_local_mode_falls_back_to_every_stand_in(tmp_path: Path, bamboo_env: str | None) -> None:
    env = {"BAMBOO_HOME": str(tmp_path)} | ({"BAMBOO_ENV": bamboo_env} if bamboo_env else {})
    got = resources(env)
    assert isinstance(got["statistics_api"], SimulatedStatisticsApi)
    assert isinstance(got["warehouse"], EmbeddedWarehouse)
    assert isinstance(got["dashboard"], CsvDashboard)
    assert isinstance(got["mailer"], OutboxMailer)


def test_production_mode_with_everything_set_uses_the_real_systems(tmp_path: Path) -> None:
    got = resources({"BAMBOO_ENV": "production"} | complete(tmp_path))
    assert isinstance(got["statistics_api"], ItresumeStatisticsApi)
    assert isinstance(got["warehouse"], PostgresWarehouse)
    assert isinstance(got["dashboard"], GoogleSheetsDashboard)
    assert isinstance(got["mailer"], SmtpMailer)


def test_production_mode_names_every_missing_variable_at_once(tmp_path: Path) -> None:
    env = {"BAMBOO_ENV": "production"} | complete(tmp_path)
    # One system left out entirely, one half-configured: both must be named in one message.
    del env["BAMBOO_DB_DSN"], env["DIGEST_RECIPIENTS"]
    with pytest.raises(SettingsError) as failure:
        resources(env)
    message = str(failure.value)
    assert "BAMBOO_ENV is production but BAMBOO_DB_DSN, DIGEST_RECIPIENTS are not set" in message
    assert "BAMBOO_ENV=local" in message  # the way out for a local run
    assert "pw-51ab" not in message and "k-7d1f" not in message


def test_an_unknown_environment_name_is_refused() -> None:
    with pytest.raises(SettingsError, match="BAMBOO_ENV must be local or production, got 'prod'"):
        resources({"BAMBOO_ENV": "prod"})


def test_the_definitions_refuse_to_load_in_production_with_a_gap(tmp_path: Path) -> None:
    """What an operator sees: `dagster definitions validate` fails naming the variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    env.update(complete(tmp_path), BAMBOO_ENV="production", BAMBOO_HOME=str(tmp_path))
    del env["ITRESUME_CLIENT"], env["ITRESUME_CLIENT_KEY"]
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "bamboo_assets.definitions"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert (
        "SettingsError: BAMBOO_ENV is production but ITRESUME_CLIENT, ITRESUME_CLIENT_KEY are "
        "not set" in done.stdout + done.stderr
    )
