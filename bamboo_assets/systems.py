"""Which implementation of each outside system a deployment gets, in one place: the real one
when its settings are there, the local stand-in otherwise."""

from __future__ import annotations

import dagster as dg

from bamboo_assets.dashboard.local import CsvDashboard
from bamboo_assets.dashboard.resource import Dashboard
from bamboo_assets.dashboard.sheets import GoogleSheetsDashboard
from bamboo_assets.resources.mail import Mailer, OutboxMailer, SmtpMailer
from bamboo_assets.resources.raw_answers import RawAnswerStore
from bamboo_assets.resources.statistics_api import (
    ItresumeStatisticsApi,
    SimulatedStatisticsApi,
    StatisticsApi,
)
from bamboo_assets.settings import Settings
from bamboo_assets.warehouse.connection import EmbeddedWarehouse, PostgresWarehouse, Warehouse

_SMTP_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Every resource the definitions need; secrets are passed as `EnvVar`s, read by the run."""
    return {
        "settings": settings,
        "statistics_api": statistics_api(settings),
        "raw_answers": RawAnswerStore(
            directory=str(settings.home_path / "raw"), retention_days=settings.raw_retention_days
        ),
        "warehouse": warehouse(settings),
        "dashboard": dashboard(settings),
        "mailer": mailer(settings),
    }


def statistics_api(settings: Settings) -> StatisticsApi:
    if not settings.api_client:
        return SimulatedStatisticsApi(
            parallel_requests=settings.api_parallel_requests,
            records_per_day=settings.simulated_records_per_day,
        )
    return ItresumeStatisticsApi(
        url=settings.api_url,
        client=settings.api_client,
        client_key=dg.EnvVar(settings.api_key_variable),
        parallel_requests=settings.api_parallel_requests,
        connect_timeout_seconds=settings.api_connect_timeout_seconds,
        read_timeout_seconds=settings.api_read_timeout_seconds,
        retries=settings.api_retries,
    )


def warehouse(settings: Settings) -> Warehouse:
    if not settings.dsn_variable:
        return EmbeddedWarehouse(data_dir=str(settings.home_path / "postgres"))
    return PostgresWarehouse(dsn=dg.EnvVar(settings.dsn_variable))


def dashboard(settings: Settings) -> Dashboard:
    if not settings.sheets_spreadsheet_id:
        return CsvDashboard(path=str(settings.home_path / "dashboard.csv"))
    return GoogleSheetsDashboard(
        credentials_file=settings.sheets_credentials_file,
        spreadsheet_id=settings.sheets_spreadsheet_id,
        worksheet_name=settings.sheets_worksheet,
        api_url=settings.sheets_api_url,
    )


def mailer(settings: Settings) -> Mailer:
    if not settings.smtp_host:
        return OutboxMailer(
            directory=str(settings.home_path / "outbox"),
            sender=settings.digest_sender or "bamboo@localhost",
            recipients=settings.digest_recipients or "data-team@localhost",
        )
    port = settings.smtp_port or 0
    security = settings.smtp_security or ("starttls" if port == 587 else "ssl")
    return SmtpMailer(
        host=settings.smtp_host,
        port=port or _SMTP_PORTS[security],
        security=security,
        user=settings.smtp_user,
        password=dg.EnvVar(settings.smtp_password_variable)
        if settings.smtp_password_variable
        else None,
        ca_file=settings.smtp_ca_file,
        sender=settings.digest_sender,
        recipients=settings.digest_recipients,
    )
