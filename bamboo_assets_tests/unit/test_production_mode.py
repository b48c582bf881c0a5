"""BAMBOO_ENV: local falls back to stand-ins, production refuses to, naming every gap at once
and never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from bamboo_assets import systems
from bamboo_assets.dashboard.local import CsvDashboard
from bamboo_assets.dashboard.sheets import GoogleSheetsDashboard
from bamboo_assets.resources.mail import OutboxMailer, SmtpMailer
from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi, SimulatedStatisticsApi
from bamboo_assets.settings import Settings, SettingsError
from bamboo_assets.warehouse.connection import EmbeddedWarehouse, PostgresWarehouse
from bamboo_assets_tests.support.bamboo import production_env

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
SECRETS = ("k-7d1f", "pw-51ab")


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as failure:
        Settings.from_env(env)
    message = str(failure.value)
    for secret in SECRETS:
        assert secret not in message
    return message


def test_an_empty_environment_would_stand_in_for_every_production_variable() -> None:
    assert Settings.from_env({}).local_stand_ins() == EVERY_PRODUCTION_VARIABLE


def test_blank_values_count_as_missing_and_the_notebook_spellings_as_set(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["ITRESUME_CLIENT_KEY"], env["BAMBOO_DB_DSN"]
    env.update(CLIENT_KEY_Skillfactory="k", DB_DSN_bamboo="dbname=bamboo", SMTP_HOST="  ")
    assert Settings.from_env(env).local_stand_ins() == ["SMTP_HOST"]


@pytest.mark.parametrize("bamboo_env", [None, "local"])
def test_local_mode_falls_back_to_every_stand_in(tmp_path: Path, bamboo_env: str | None) -> None:
    env = {"BAMBOO_HOME": str(tmp_path)} | ({"BAMBOO_ENV": bamboo_env} if bamboo_env else {})
    settings = Settings.from_env(env)
    assert settings.environment == "local"
    got = systems.build_resources(settings)
    assert isinstance(got["statistics_api"], SimulatedStatisticsApi)
    assert isinstance(got["warehouse"], EmbeddedWarehouse)
    assert isinstance(got["dashboard"], CsvDashboard)
    assert isinstance(got["mailer"], OutboxMailer)


def test_production_mode_with_everything_set_uses_the_real_systems(tmp_path: Path) -> None:
    settings = Settings.from_env({"BAMBOO_ENV": "production"} | production_env(tmp_path))
    assert settings.environment == "production" and settings.local_stand_ins() == []
    got = systems.build_resources(settings)
    assert isinstance(got["statistics_api"], ItresumeStatisticsApi)
    assert isinstance(got["warehouse"], PostgresWarehouse)
    assert isinstance(got["dashboard"], GoogleSheetsDashboard)
    assert isinstance(got["mailer"], SmtpMailer)


def test_production_mode_names_every_system_left_out(tmp_path: Path) -> None:
    env = {"BAMBOO_ENV": "production"} | production_env(tmp_path)
    del env["BAMBOO_DB_DSN"], env["SMTP_HOST"], env["DIGEST_SENDER"], env["DIGEST_RECIPIENTS"]
    message = refusal(env)
    assert message.startswith(
        "BAMBOO_ENV is production but BAMBOO_DB_DSN, SMTP_HOST, DIGEST_SENDER, "
        "DIGEST_RECIPIENTS are not set: production never falls back to a local stand-in."
    )
    assert "BAMBOO_ENV=local" in message  # the way out for a local run


def test_an_empty_production_environment_names_all_of_them() -> None:
    message = refusal({"BAMBOO_ENV": "production"})
    assert message.startswith(
        f"BAMBOO_ENV is production but {', '.join(EVERY_PRODUCTION_VARIABLE)} are not set"
    )


def test_production_mode_names_every_missing_variable_at_once(tmp_path: Path) -> None:
    env = {"BAMBOO_ENV": "production"} | production_env(tmp_path)
    # One system left out entirely, one half-configured: both must be named in one message.
    del env["BAMBOO_DB_DSN"], env["DIGEST_RECIPIENTS"]
    message = refusal(env)
    assert "BAMBOO_ENV is production but BAMBOO_DB_DSN, DIGEST_RECIPIENTS are not set" in message
    assert "BAMBOO_ENV=local" in message


def test_production_mode_with_one_variable_missing_names_it_as_missing(tmp_path: Path) -> None:
    """What the compose deployment shows when DIGEST_RECIPIENTS is forgotten."""
    env = {"BAMBOO_ENV": "production"} | production_env(tmp_path)
    del env["DIGEST_RECIPIENTS"]
    assert "BAMBOO_ENV is production but DIGEST_RECIPIENTS is not set" in refusal(env)


def test_an_unknown_environment_name_is_refused() -> None:
    with pytest.raises(SettingsError, match="BAMBOO_ENV must be local or production, got 'prod'"):
        Settings.from_env({"BAMBOO_ENV": "prod"})
