"""Configuration: local by default, real when set, a clear error when set only in part."""

from pathlib import Path

import pytest

from bamboo_assets.resources.dashboard import CsvDashboard, GoogleSheetsDashboard
from bamboo_assets.resources.mail import OutboxMailer, SmtpMailer
from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi, SimulatedStatisticsApi
from bamboo_assets.resources.warehouse import EmbeddedWarehouse, PostgresWarehouse
from bamboo_assets.settings import SettingsError, build_resources, load_settings


def resources(env: dict[str, str]) -> dict:
    return build_resources(env, load_settings(env))


def test_no_configuration_means_everything_local(tmp_path: Path) -> None:
    got = resources({"BAMBOO_HOME": str(tmp_path)})
    assert isinstance(got["statistics_api"], SimulatedStatisticsApi)
    assert isinstance(got["warehouse"], EmbeddedWarehouse)
    assert got["warehouse"].data_dir == str(tmp_path / "postgres")
    assert isinstance(got["dashboard"], CsvDashboard)
    assert isinstance(got["mailer"], OutboxMailer)


def test_full_configuration_means_the_real_systems(tmp_path: Path) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text("{}")
    got = resources(
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
    assert isinstance(got["statistics_api"], ItresumeStatisticsApi)
    assert isinstance(got["warehouse"], PostgresWarehouse)
    assert isinstance(got["dashboard"], GoogleSheetsDashboard)
    mailer = got["mailer"]
    assert isinstance(mailer, SmtpMailer)
    assert (mailer.security, mailer.port, mailer.user) == ("starttls", 587, None)


def test_the_notebooks_variable_names_are_accepted() -> None:
    got = resources(
        {
            "ITRESUME_CLIENT": "acme",
            "CLIENT_KEY_Skillfactory": "k",
            "DB_DSN_bamboo": "dbname=bamboo host=localhost",
        }
    )
    assert isinstance(got["statistics_api"], ItresumeStatisticsApi)
    assert isinstance(got["warehouse"], PostgresWarehouse)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ITRESUME_CLIENT": "acme"}, "ITRESUME_CLIENT_KEY"),
        ({"ITRESUME_CLIENT_KEY": "k"}, "ITRESUME_CLIENT"),
        ({"DASHBOARD_SPREADSHEET_ID": "x"}, "GOOGLE_SERVICE_ACCOUNT_FILE"),
        ({"GOOGLE_SERVICE_ACCOUNT_FILE": "/nonexistent.json"}, "DASHBOARD_SPREADSHEET_ID"),
        (
            {"GOOGLE_SERVICE_ACCOUNT_FILE": "/nonexistent.json", "DASHBOARD_SPREADSHEET_ID": "x"},
            "GOOGLE_SERVICE_ACCOUNT_FILE",
        ),
        ({"SMTP_HOST": "smtp.example.org"}, "DIGEST_SENDER and DIGEST_RECIPIENTS"),
        (
            {
                "SMTP_HOST": "h",
                "DIGEST_SENDER": "a@b",
                "DIGEST_RECIPIENTS": "c@d",
                "SMTP_USER": "u",
            },
            "SMTP_PASSWORD",
        ),
        (
            {
                "SMTP_HOST": "h",
                "DIGEST_SENDER": "a@b",
                "DIGEST_RECIPIENTS": "c@d",
                "SMTP_SECURITY": "tls",
            },
            "SMTP_SECURITY",
        ),
        ({"BAMBOO_DB_DSN": "host=x password=secret-pw = oops"}, "BAMBOO_DB_DSN"),
        ({"BAMBOO_TIMEZONE": "Mars/Olympus"}, "BAMBOO_TIMEZONE"),
        ({"BAMBOO_START_DATE": "01.01.2025"}, "BAMBOO_START_DATE"),
        ({"ITRESUME_PARALLEL_REQUESTS": "many"}, "ITRESUME_PARALLEL_REQUESTS"),
    ],
)
def test_partial_or_wrong_settings_fail_naming_the_variable(env: dict, named: str) -> None:
    with pytest.raises(SettingsError, match=named) as failure:
        resources(env)
    assert "secret-pw" not in str(failure.value)
