"""Settings from the environment: local by default, real when set, a clear error naming the
variable when set only in part or wrongly, and secrets held by their variable's name only."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from bamboo_assets import systems
from bamboo_assets.core.volume import VolumeRule
from bamboo_assets.dashboard.local import CsvDashboard
from bamboo_assets.dashboard.sheets import GoogleSheetsDashboard
from bamboo_assets.resources.mail import OutboxMailer, SmtpMailer
from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi, SimulatedStatisticsApi
from bamboo_assets.settings import Settings, SettingsError, variable_names
from bamboo_assets.warehouse.connection import EmbeddedWarehouse, PostgresWarehouse

SMTP = {"SMTP_HOST": "smtp.example.org", "DIGEST_SENDER": "a@b", "DIGEST_RECIPIENTS": "c@d"}


def built(env: dict[str, str]) -> dict:
    return systems.build_resources(Settings.from_env(env))


def test_no_configuration_means_everything_local(tmp_path: Path) -> None:
    got = built({"BAMBOO_HOME": str(tmp_path)})
    assert isinstance(got["settings"], Settings)
    assert isinstance(got["statistics_api"], SimulatedStatisticsApi)
    assert got["statistics_api"].records_per_day == 8500
    assert isinstance(got["warehouse"], EmbeddedWarehouse)
    assert got["warehouse"].data_dir == str(tmp_path / "postgres")
    assert isinstance(got["dashboard"], CsvDashboard)
    assert got["dashboard"].path == str(tmp_path / "dashboard.csv")
    assert isinstance(got["mailer"], OutboxMailer)
    assert got["mailer"].directory == str(tmp_path / "outbox")
    assert got["raw_answers"].directory == str(tmp_path / "raw")


def test_full_configuration_means_the_real_systems(tmp_path: Path) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text("{}")
    got = built(
        {
            "ITRESUME_CLIENT": "acme",
            "ITRESUME_CLIENT_KEY": "k",
            "BAMBOO_DB_DSN": "postgresql://u:p@db.example.org/bamboo",
            "GOOGLE_SERVICE_ACCOUNT_FILE": str(key_file),
            "DASHBOARD_SPREADSHEET_ID": "sheet-id",
            "SMTP_HOST": "smtp.example.org",
            "SMTP_PORT": "587",
            "DIGEST_SENDER": "etl@example.org",
            "DIGEST_RECIPIENTS": "a@example.org, b@example.org",
        }
    )
    api = got["statistics_api"]
    assert isinstance(api, ItresumeStatisticsApi)
    assert api.client == "acme"
    assert isinstance(got["warehouse"], PostgresWarehouse)
    sheet = got["dashboard"]
    assert isinstance(sheet, GoogleSheetsDashboard)
    assert (sheet.spreadsheet_id, sheet.worksheet_name) == ("sheet-id", "Sheet1")
    mailer = got["mailer"]
    assert isinstance(mailer, SmtpMailer)
    assert (mailer.security, mailer.port, mailer.user) == ("starttls", 587, None)


def test_a_secret_setting_holds_the_variables_name_and_the_resources_read_it_at_run_time() -> None:
    settings = Settings.from_env({"ITRESUME_CLIENT": "a", "ITRESUME_CLIENT_KEY": "k-93e1"})
    assert settings.api_key_variable == "ITRESUME_CLIENT_KEY"
    env = {
        "ITRESUME_CLIENT": "a",
        "ITRESUME_CLIENT_KEY": "k-93e1",
        "BAMBOO_DB_DSN": "postgresql://u:pw-77c0@db.example.org/bamboo",
        "SMTP_USER": "bamboo",
        "SMTP_PASSWORD": "smtp-5d2a",
        **SMTP,
    }
    settings = Settings.from_env(env)
    assert (settings.dsn_variable, settings.smtp_password_variable) == (
        "BAMBOO_DB_DSN",
        "SMTP_PASSWORD",
    )
    got = systems.build_resources(settings)
    assert got["statistics_api"].client_key == dg.EnvVar("ITRESUME_CLIENT_KEY")
    assert got["warehouse"].dsn == dg.EnvVar("BAMBOO_DB_DSN")
    assert got["mailer"].password == dg.EnvVar("SMTP_PASSWORD")
    held = repr(settings.model_dump()) + "".join(repr(r) for r in got.values())
    for secret in ("k-93e1", "pw-77c0", "smtp-5d2a"):
        assert secret not in held


def test_the_notebooks_variable_names_are_accepted() -> None:
    env = {
        "ITRESUME_CLIENT": "acme",
        "CLIENT_KEY_Skillfactory": "k",
        "DB_DSN_bamboo": "dbname=bamboo host=localhost",
        "GOOGLE_APP_PASS": "p",
        "SMTP_USER": "u",
        **SMTP,
    }
    settings = Settings.from_env(env)
    assert settings.api_key_variable == "CLIENT_KEY_Skillfactory"
    assert settings.dsn_variable == "DB_DSN_bamboo"
    assert settings.smtp_password_variable == "GOOGLE_APP_PASS"
    got = systems.build_resources(settings)
    assert isinstance(got["statistics_api"], ItresumeStatisticsApi)
    assert isinstance(got["warehouse"], PostgresWarehouse)
    assert got["warehouse"].dsn == dg.EnvVar("DB_DSN_bamboo")


def test_bamboos_own_spelling_wins_over_the_notebooks() -> None:
    env = {"ITRESUME_CLIENT": "a", "ITRESUME_CLIENT_KEY": "k", "CLIENT_KEY_Skillfactory": "old"}
    assert Settings.from_env(env).api_key_variable == "ITRESUME_CLIENT_KEY"


def test_blank_values_are_unset_and_values_are_trimmed() -> None:
    settings = Settings.from_env(
        {"ITRESUME_CLIENT": "  ", "BAMBOO_TIMEZONE": " Europe/Moscow ", "SMTP_HOST": ""}
    )
    assert settings.api_client is None and settings.smtp_host is None
    assert settings.timezone == "Europe/Moscow"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ITRESUME_CLIENT": "acme"}, "ITRESUME_CLIENT_KEY"),
        ({"ITRESUME_CLIENT_KEY": "k"}, "ITRESUME_CLIENT"),
        ({"CLIENT_KEY_Skillfactory": "k"}, "CLIENT_KEY_Skillfactory is set but ITRESUME_CLIENT"),
        ({"DASHBOARD_SPREADSHEET_ID": "x"}, "GOOGLE_SERVICE_ACCOUNT_FILE"),
        ({"GOOGLE_SERVICE_ACCOUNT_FILE": "/nonexistent.json"}, "DASHBOARD_SPREADSHEET_ID"),
        (
            {"GOOGLE_SERVICE_ACCOUNT_FILE": "/nonexistent.json", "DASHBOARD_SPREADSHEET_ID": "x"},
            "GOOGLE_SERVICE_ACCOUNT_FILE '/nonexistent.json' cannot be read",
        ),
        ({"SMTP_HOST": "smtp.example.org"}, "DIGEST_SENDER and DIGEST_RECIPIENTS"),
        ({**SMTP, "SMTP_USER": "u"}, "SMTP_PASSWORD"),
        ({**SMTP, "SMTP_PASSWORD": "secret-pw"}, "SMTP_USER"),
        ({**SMTP, "SMTP_SECURITY": "tls"}, "SMTP_SECURITY must be ssl, starttls or none"),
        ({"BAMBOO_DB_DSN": "host=x password=secret-pw = oops"}, "BAMBOO_DB_DSN"),
        ({"DB_DSN_bamboo": "host=x password=secret-pw = oops"}, "DB_DSN_bamboo"),
        ({"BAMBOO_TIMEZONE": "Mars/Olympus"}, "BAMBOO_TIMEZONE 'Mars/Olympus' is not an IANA"),
        ({"BAMBOO_START_DATE": "01.01.2025"}, "BAMBOO_START_DATE must be YYYY-MM-DD"),
        ({"ITRESUME_PARALLEL_REQUESTS": "many"}, "ITRESUME_PARALLEL_REQUESTS must be a number"),
        ({"SMTP_PORT": "twenty-five"}, "SMTP_PORT must be a number"),
        ({"BAMBOO_MAX_REJECTED_SHARE": "5%"}, "BAMBOO_MAX_REJECTED_SHARE must be a number"),
    ],
)
def test_partial_or_wrong_settings_fail_naming_the_variable(env: dict, named: str) -> None:
    with pytest.raises(SettingsError, match=named) as failure:
        Settings.from_env(env)
    assert "secret-pw" not in str(failure.value)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as failure:
        Settings.from_env({"BAMBOO_TIMEZONE": "Mars/Olympus", "ITRESUME_RETRIES": "x"})
    assert "BAMBOO_TIMEZONE" in str(failure.value) and "ITRESUME_RETRIES" in str(failure.value)


@pytest.mark.parametrize(
    ("env", "security", "port"),
    [
        ({}, "ssl", 465),
        ({"SMTP_PORT": "587"}, "starttls", 587),
        ({"SMTP_SECURITY": "starttls"}, "starttls", 587),
        ({"SMTP_SECURITY": "none"}, "none", 25),
        ({"SMTP_SECURITY": "ssl", "SMTP_PORT": "2465"}, "ssl", 2465),
    ],
)
def test_smtp_security_and_port_default_from_each_other(
    env: dict, security: str, port: int
) -> None:
    mailer = built({**SMTP, **env})["mailer"]
    assert (mailer.security, mailer.port) == (security, port)


def test_the_volume_thresholds_come_from_the_environment_and_nonsense_is_refused() -> None:
    env = {
        "BAMBOO_VOLUME_LOW_RATIO": "0.25",
        "BAMBOO_VOLUME_HIGH_RATIO": "3",
        "BAMBOO_VOLUME_MIN_WEEKS": "2",
    }
    assert Settings.from_env(env).volume == VolumeRule(low_ratio=0.25, high_ratio=3, min_weeks=2)
    assert Settings.from_env({}).volume == VolumeRule(low_ratio=0.5, high_ratio=2, min_weeks=3)
    with pytest.raises(SettingsError, match="BAMBOO_VOLUME_LOW_RATIO must be at least 0 and "):
        Settings.from_env({"BAMBOO_VOLUME_LOW_RATIO": "2", "BAMBOO_VOLUME_HIGH_RATIO": "1"})
    with pytest.raises(SettingsError, match="BAMBOO_VOLUME_MIN_WEEKS must be 1 to 4, got 5"):
        Settings.from_env({"BAMBOO_VOLUME_MIN_WEEKS": "5"})


def test_bamboo_raw_retention_days_configures_the_store(tmp_path: Path) -> None:
    env = {"BAMBOO_HOME": str(tmp_path), "BAMBOO_RAW_RETENTION_DAYS": "30"}
    assert built(env)["raw_answers"].retention_days == 30
    assert built({"BAMBOO_HOME": str(tmp_path)})["raw_answers"].retention_days is None
    for wrong in ("0", "-3", "a month"):
        with pytest.raises(SettingsError, match="BAMBOO_RAW_RETENTION_DAYS"):
            Settings.from_env({**env, "BAMBOO_RAW_RETENTION_DAYS": wrong})


def test_the_home_is_made_absolute_and_the_run_link_points_at_the_webserver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        {"BAMBOO_HOME": "state", "DAGSTER_WEBSERVER_URL": "https://dagster.example.org/"}
    )
    assert settings.home == str(tmp_path.resolve() / "state")
    assert settings.run_url("r1") == "https://dagster.example.org/runs/r1"


def test_every_variable_read_is_listed_once_with_the_notebooks_spellings() -> None:
    names = variable_names()
    assert len(names) == len(set(names))
    for name in (
        "BAMBOO_ENV",
        "BAMBOO_HOME",
        "ITRESUME_CLIENT",
        "ITRESUME_CLIENT_KEY",
        "CLIENT_KEY_Skillfactory",
        "BAMBOO_DB_DSN",
        "DB_DSN_bamboo",
        "SMTP_PASSWORD",
        "GOOGLE_APP_PASS",
        "GOOGLE_SERVICE_ACCOUNT_FILE",
        "DIGEST_RECIPIENTS",
    ):
        assert name in names
